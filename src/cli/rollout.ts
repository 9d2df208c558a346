/**
 * `berth rollout status|history|undo|restart|pause|resume` and `berth scale`, as kubectl's:
 * the same messages, the same revision bookkeeping (undo copies that ReplicaSet's template into
 * the Deployment, which the controller makes the next revision). Under an Application with
 * self-heal these imperative changes are reverted by the next sync: Git stays the source.
 */
import { CONDITION, REASON } from '../api/conditions.js';
import { timestamp } from '../api/lifecycle.js';
import { BerthError } from '../api/errors.js';
import { kindInfo, type KindInfo } from '../api/kinds.js';
import {
  CHANGE_CAUSE_ANNOTATION,
  REVISION_ANNOTATION,
  RESTARTED_AT_ANNOTATION,
  templatesEqual,
  withoutTemplateHash,
} from '../api/workloads.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { managerOf } from '../diff/index.js';
import { renderStructured, type CommandIO, type OutputFormat } from './output.js';
import { formatTable, kindOrFail, qualifiedName } from './resources.js';

type Workload = KubeObject & {
  metadata: {
    generation?: number;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string; controller?: boolean }[];
  };
  spec: any;
  status?: any;
};

/** `deploy/web`, `deployment.apps/web`, `sts/db` → the kind and name. */
export function parseTarget(target: string, allowed: string[]): { info: KindInfo; name: string } {
  const slash = target.indexOf('/');
  if (slash <= 0 || slash === target.length - 1)
    throw new BerthError('Usage', `expected TYPE/NAME (e.g. deploy/web), got ${JSON.stringify(target)}`);
  const info = kindOrFail(target.slice(0, slash));
  if (!allowed.includes(info.kind))
    throw new BerthError(
      'Usage',
      `${info.plural} are not supported here (use ${allowed.map((k) => k.toLowerCase()).join(', ')})`,
    );
  return { info, name: target.slice(slash + 1) };
}

export interface RolloutState {
  done: boolean;
  failed?: boolean;
  message: string;
}

/** kubectl's status viewers, for one read of the object. */
export function rolloutState(kind: string, o: Workload): RolloutState {
  const s = o.status ?? {};
  const name = o.metadata.name;
  const observed = (s.observedGeneration ?? 0) >= (o.metadata.generation ?? 1) && s.observedGeneration !== undefined;
  if (kind === 'Deployment') {
    if (!observed) return { done: false, message: 'Waiting for deployment spec update to be observed...' };
    const progressing = (s.conditions ?? []).find((c: { type: string }) => c.type === CONDITION.Progressing);
    if (progressing?.reason === REASON.ProgressDeadlineExceeded)
      return { done: true, failed: true, message: `deployment "${name}" exceeded its progress deadline` };
    const want = o.spec.replicas ?? 1;
    if ((s.updatedReplicas ?? 0) < want)
      return {
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${s.updatedReplicas ?? 0} out of ${want} new replicas have been updated...`,
      };
    if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0))
      return {
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${(s.replicas ?? 0) - (s.updatedReplicas ?? 0)} old replicas are pending termination...`,
      };
    if ((s.availableReplicas ?? 0) < (s.updatedReplicas ?? 0))
      return {
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${s.availableReplicas ?? 0} of ${s.updatedReplicas} updated replicas are available...`,
      };
    return { done: true, message: `deployment "${name}" successfully rolled out` };
  }
  if (kind === 'DaemonSet') {
    if (o.spec.updateStrategy?.type === 'OnDelete')
      return { done: true, failed: true, message: 'rollout status is only available for RollingUpdate strategy type' };
    if (!observed) return { done: false, message: 'Waiting for daemon set spec update to be observed...' };
    const want = s.desiredNumberScheduled ?? 0;
    if ((s.updatedNumberScheduled ?? 0) < want)
      return {
        done: false,
        message: `Waiting for daemon set "${name}" rollout to finish: ${s.updatedNumberScheduled ?? 0} out of ${want} new pods have been updated...`,
      };
    if ((s.numberAvailable ?? 0) < want)
      return {
        done: false,
        message: `Waiting for daemon set "${name}" rollout to finish: ${s.numberAvailable ?? 0} of ${want} updated pods are available...`,
      };
    return { done: true, message: `daemon set "${name}" successfully rolled out` };
  }
  // StatefulSet
  if (o.spec.updateStrategy?.type === 'OnDelete')
    return { done: true, failed: true, message: 'rollout status is only available for RollingUpdate strategy type' };
  if (!observed) return { done: false, message: 'Waiting for statefulset spec update to be observed...' };
  const want = o.spec.replicas ?? 1;
  if ((s.readyReplicas ?? 0) < want)
    return { done: false, message: `Waiting for ${want - (s.readyReplicas ?? 0)} pods to be ready...` };
  const partition = o.spec.updateStrategy?.rollingUpdate?.partition ?? 0;
  if (partition > 0) {
    if ((s.updatedReplicas ?? 0) < want - partition)
      return {
        done: false,
        message: `Waiting for partitioned roll out to finish: ${s.updatedReplicas ?? 0} out of ${want - partition} new pods have been updated...`,
      };
    return {
      done: true,
      message: `partitioned roll out complete: ${s.updatedReplicas ?? 0} new pods have been updated...`,
    };
  }
  if (s.updateRevision !== s.currentRevision)
    return {
      done: false,
      message: `waiting for statefulset rolling update to complete ${s.updatedReplicas ?? 0} pods at revision ${s.updateRevision}...`,
    };
  return {
    done: true,
    message: `statefulset rolling update complete ${s.currentReplicas ?? 0} pods at revision ${s.currentRevision}...`,
  };
}

const ROLLABLE = ['Deployment', 'DaemonSet', 'StatefulSet'];

/** Exit: 0 rolled out, 1 failed (progress deadline exceeded), 2 error, 3 timed out. */
export async function rolloutStatus(
  client: BerthClient,
  target: string,
  o: { namespace?: string; timeoutMs: number; watch: boolean; tty: boolean },
  io: CommandIO,
): Promise<number> {
  const { info, name } = parseTarget(target, ROLLABLE);
  const ns = o.namespace ?? client.connection.namespace;
  const deadline = Date.now() + o.timeoutMs;
  let last = '';
  const show = (line: string, final = false): void => {
    if (line !== last) io.stdout(o.tty ? `\r\x1b[2K${line}${final ? '\n' : ''}` : `${line}\n`);
    else if (final && o.tty) io.stdout('\n');
    last = line;
  };
  for (;;) {
    const state = rolloutState(info.kind, await client.get<Workload>(info, ns, name));
    if (state.done) {
      if (state.failed) {
        if (o.tty && last) io.stdout('\n');
        io.stderr(`error: ${state.message}\n`);
        return 1;
      }
      show(state.message, true);
      return 0;
    }
    show(state.message);
    if (!o.watch) {
      if (o.tty) io.stdout('\n');
      return 1;
    }
    if (Date.now() > deadline) {
      if (o.tty) io.stdout('\n');
      io.stderr(`error: timed out waiting for the rollout of ${qualifiedName(info, name)}\n`);
      return 3;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const REPLICA_SETS = kindInfo('ReplicaSet')!;

/** The Deployment's ReplicaSets by revision (those it controls). */
async function history(
  client: BerthClient,
  ns: string,
  name: string,
): Promise<{ deployment: Workload; revisions: { revision: number; rs: Workload }[] }> {
  const deployment = await client.get<Workload>(kindInfo('Deployment')!, ns, name);
  const { items } = await client.list<Workload>(REPLICA_SETS, { namespace: ns });
  const revisions = items
    .filter((rs) => rs.metadata.ownerReferences?.some((r) => r.controller && r.uid === deployment.metadata.uid))
    .map((rs) => ({ revision: Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0), rs }))
    .filter((r) => r.revision > 0)
    .sort((a, b) => a.revision - b.revision);
  return { deployment, revisions };
}

export async function rolloutHistory(
  client: BerthClient,
  target: string,
  o: { namespace?: string; revision?: number; output: OutputFormat },
  io: CommandIO,
): Promise<number> {
  const { info, name } = parseTarget(target, ['Deployment']);
  const ns = o.namespace ?? client.connection.namespace;
  const { deployment, revisions } = await history(client, ns, name);
  const commitOf = await commitsOf(client, deployment);
  const rows = revisions.map(({ revision, rs }) => ({
    revision,
    changeCause:
      rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION] ??
      commitOf(rs.metadata.creationTimestamp as string | undefined) ??
      null,
    replicaSet: rs.metadata.name,
    template: withoutTemplateHash(rs.spec.template),
  }));
  if (o.revision !== undefined) {
    const one = rows.find((r) => r.revision === o.revision);
    if (!one) throw new BerthError('NotFound', `unable to find the specified revision ${o.revision}`);
    if (o.output !== 'text') io.stdout(renderStructured(o.output, one));
    else
      io.stdout(
        `${qualifiedName(info, name)} with revision #${one.revision}\nPod Template:\n${renderStructured('yaml', one.template).replace(/^/gm, '  ')}`,
      );
    return 0;
  }
  if (o.output !== 'text') {
    io.stdout(
      renderStructured(
        o.output,
        rows.map(({ template: _t, ...r }) => r),
      ),
    );
    return 0;
  }
  io.stdout(
    `${qualifiedName(info, name)}\n${formatTable(
      ['REVISION', 'CHANGE-CAUSE'],
      rows.map((r) => [String(r.revision), r.changeCause ?? '<none>']),
    )}`,
  );
  return 0;
}

/** `rollout undo`: that revision's template (the previous one by default) written into the Deployment. */
export async function rolloutUndo(
  client: BerthClient,
  target: string,
  o: { namespace?: string; toRevision: number },
  io: CommandIO,
): Promise<number> {
  const { info, name } = parseTarget(target, ['Deployment']);
  const ns = o.namespace ?? client.connection.namespace;
  const { deployment, revisions } = await history(client, ns, name);
  if (deployment.spec.paused)
    throw new BerthError(
      'Conflict',
      `you cannot rollback a paused deployment; resume it first with 'berth rollout resume ${target}' and try again`,
    );
  let wanted;
  if (o.toRevision === 0) {
    if (revisions.length < 2) throw new BerthError('NotFound', 'no rollout history found for the previous revision');
    wanted = revisions[revisions.length - 2]!;
  } else {
    wanted = revisions.find((r) => r.revision === o.toRevision);
    if (!wanted) throw new BerthError('NotFound', `unable to find specified revision ${o.toRevision} in history`);
  }
  if (templatesEqual(wanted.rs.spec.template, deployment.spec.template)) {
    io.stdout(
      `${qualifiedName(info, name)} skipped rollback (current template already matches revision ${wanted.revision})\n`,
    );
    return 0;
  }
  await warnIfSelfHealed(client, deployment, `${qualifiedName(info, name)}`, io);
  // An update with the version read: a concurrent change is a conflict, not lost.
  await client.update(info, {
    ...deployment,
    spec: { ...deployment.spec, template: withoutTemplateHash(wanted.rs.spec.template) },
  });
  io.stdout(`${qualifiedName(info, name)} rolled back\n`);
  return 0;
}

/**
 * In a GitOps cluster the change cause is the commit: for a Deployment an Application manages,
 * the sync (from the Application's history) that last ran before a ReplicaSet was made — the
 * commit that brought its template — as "abc1234 commit message".
 */
async function commitsOf(client: BerthClient, workload: KubeObject): Promise<(created?: string) => string | undefined> {
  const manager = managerOf(workload);
  const app = manager
    ? await client
        .get<KubeObject & { status?: { history?: { revision: string; deployedAt: string; message?: string }[] } }>(
          kindInfo('Application')!,
          manager.namespace,
          manager.name,
        )
        .catch(() => undefined)
    : undefined;
  const syncs = [...(app?.status?.history ?? [])].sort((a, b) => Date.parse(a.deployedAt) - Date.parse(b.deployedAt));
  // The sync stamps its time after its writes, and the ReplicaSet may be made before: a few seconds' slack.
  const SLACK_MS = 5000;
  return (created) => {
    if (!created || !syncs.length) return undefined;
    const before = syncs.filter((h) => Date.parse(h.deployedAt) <= Date.parse(created) + SLACK_MS).at(-1);
    return before ? `${before.revision.slice(0, 7)} ${(before.message ?? '').split('\n')[0]}`.trimEnd() : undefined;
  };
}

/**
 * An undo of a Deployment an Application self-heals is reverted to Git's template a moment later:
 * say so before doing it, and how to roll back for good.
 */
async function warnIfSelfHealed(client: BerthClient, deployment: KubeObject, what: string, io: CommandIO) {
  const manager = managerOf(deployment);
  if (!manager) return;
  const app = await client
    .get<KubeObject & { spec?: { syncPolicy?: { automated?: { selfHeal?: boolean } } } }>(
      kindInfo('Application')!,
      manager.namespace,
      manager.name,
    )
    .catch(() => undefined);
  if (!app?.spec?.syncPolicy?.automated?.selfHeal) return;
  io.stderr(
    `Warning: ${what} is managed by Application ${manager.namespace}/${manager.name} with self-heal: the undo will be reverted to the commit's template within seconds. Roll back through Git instead: git revert, or berth app rollback ${manager.name}\n`,
  );
}

export async function rolloutRestart(
  client: BerthClient,
  target: string,
  o: { namespace?: string; now?: Date },
  io: CommandIO,
): Promise<number> {
  const { info, name } = parseTarget(target, ROLLABLE);
  const ns = o.namespace ?? client.connection.namespace;
  const at = timestamp(o.now ?? new Date());
  await client.patch(info, ns, name, {
    spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at } } } },
  });
  io.stdout(`${qualifiedName(info, name)} restarted\n`);
  return 0;
}

export async function rolloutPause(
  client: BerthClient,
  target: string,
  paused: boolean,
  o: { namespace?: string },
  io: CommandIO,
): Promise<number> {
  const { info, name } = parseTarget(target, ['Deployment']);
  const ns = o.namespace ?? client.connection.namespace;
  const current = await client.get<Workload>(info, ns, name);
  if (Boolean(current.spec.paused) === paused) {
    io.stdout(`${qualifiedName(info, name)} is already ${paused ? 'paused' : 'resumed'}\n`);
    return 0;
  }
  await client.patch(info, ns, name, { spec: { paused } });
  io.stdout(`${qualifiedName(info, name)} ${paused ? 'paused' : 'resumed'}\n`);
  return 0;
}

export async function scaleCommand(
  client: BerthClient,
  target: string,
  o: { namespace?: string; replicas: number },
  io: CommandIO,
): Promise<number> {
  const { info, name } = parseTarget(target, ['Deployment', 'ReplicaSet', 'StatefulSet']);
  if (!Number.isInteger(o.replicas) || o.replicas < 0)
    throw new BerthError('Usage', `--replicas must be a non-negative integer, not ${o.replicas}`);
  const ns = o.namespace ?? client.connection.namespace;
  await client.patch(info, ns, name, { spec: { replicas: o.replicas } });
  io.stdout(`${qualifiedName(info, name)} scaled\n`);
  return 0;
}
