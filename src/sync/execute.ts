/**
 * Executes a sync plan: the destination namespace, the PreSync hooks, each wave in one store
 * transaction (after the earlier waves are healthy, with its quota charges and Service
 * allocations), then the Sync and PostSync hooks. What it did is returned, for settleSync to
 * turn into the status; it writes nothing but the plan's objects and hooks.
 */
import { randomUUID } from 'node:crypto';
import { APP_CONDITION, APP_REASON } from '../api/conditions.js';
import { parseCidr, type Cidr } from '../api/cidr.js';
import { BerthError, isBerthError } from '../api/errors.js';
import { hookPhases } from '../api/hooks.js';
import { finalizingDeletion, prepareCreate, prepareUpdate, timestamp } from '../api/lifecycle.js';
import { DEFAULT_SERVICE_CIDR, type ServiceObject } from '../api/services.js';
import type { HookRun } from '../api/types.gen.js';
import { waveOf, type Action, type ObjectLike } from '../diff/index.js';
import { healthOf, type Health } from '../health/index.js';
import { renderPath } from '../manifest/diagnostics.js';
import { ALLOCATION_ATTEMPTS, allocateServices, lostAllocationRace } from '../runtime/service-allocation.js';
import { refOf, splitTxn } from '../store/index.js';
import type { KubeObject, Store, TxnOp } from '../store/types.js';
import { HookFailure, runHookPhase, runningHooks } from './hooks.js';
import type { Execution, SyncPlan } from './plan.js';
import { formatViolation, type Violation } from './project.js';
import { chargeCreates } from './quota.js';
import type { AppMemo, SyncDeps } from './sync.js';

/** The health of a live object, remembered per object: one the store has not changed has not changed its health. */
export function healthOfLive(memo: AppMemo, o: KubeObject | undefined): Health {
  if (!o) return healthOf(undefined);
  let h = memo.health.get(o);
  if (!h) memo.health.set(o, (h = healthOf(o as Parameters<typeof healthOf>[0])));
  return h;
}

export async function executeSync(
  deps: SyncDeps,
  memo: AppMemo,
  app: { namespace: string; name: string },
  p: SyncPlan,
  o: {
    createNamespace?: string;
    hooksSoFar: HookRun[];
    sourceOf: (o: KubeObject) => { file: string; line: number } | undefined;
  },
): Promise<Execution> {
  const now = deps.now ?? (() => new Date());
  const startedAt = timestamp(now());
  const hooks: HookRun[] = p.continuing ? [...o.hooksSoFar] : [];
  const serviceCidr = deps.serviceCidr ?? parseCidr(DEFAULT_SERVICE_CIDR);
  let written = 0;
  let transactions = 0;
  let splitWave = false;
  const splitNote = (): string => {
    if (!splitWave) return '';
    const { maxOps, maxBytes } = deps.store.txnLimits;
    return ` in ${transactions} transactions, not atomically: the store takes at most ${maxOps} operations and ${maxBytes} bytes in one (etcd's --max-txn-ops and --max-request-bytes)`;
  };
  const done = (rest: Partial<Execution> = {}): Execution => ({
    startedAt,
    written,
    splitNote: splitNote(),
    hooks,
    ...rest,
  });
  // Checked for the whole commit before anything is written (a NodePort another Service holds
  // refuses it whole, as an invalid manifest); allocated again, wave by wave, as each is written.
  const portProblems = (
    await allocateServicesIn(
      deps.store,
      serviceCidr,
      p.plan.waves.flatMap((w) => w.actions),
      now(),
    )
  ).problems;
  if (portProblems.length) {
    return done({
      refusal: {
        type: APP_CONDITION.ComparisonError,
        reason: APP_REASON.InvalidManifests,
        message: portProblems.join('\n'),
        description: `invalid manifests: ${portProblems[0]}`,
        result: 'invalid',
      },
    });
  }
  const keyOf = (x: KubeObject): string => memo.comparisons.keyOf(x);
  const unhealthy = (wave: number) =>
    unhealthyBefore(
      () => memo.live.managed(deps.store),
      p.desired,
      wave,
      keyOf,
      (x) => healthOfLive(memo, x),
    );
  async function writeWave(parts: { op: TxnOp; action?: Action }[][]): Promise<void> {
    if (parts.length > 1) splitWave = true;
    for (const part of parts) {
      const result = await deps.store.txn(part.map((x) => x.op));
      const applied = part
        .map((x, i) => ({ action: x.action, op: x.op, object: result.results[i]! }))
        .filter((x) => x.action);
      memo.live.applied(
        applied.filter((x) => x.op.op !== 'delete').map((x) => x.object),
        applied.filter((x) => x.op.op === 'delete').map((x) => x.object),
        result.revision,
      );
      for (const x of applied) if (x.action!.type !== 'prune') memo.comparisons.remember(x.object, x.action!.source);
      written += applied.length;
      transactions++;
    }
  }
  let waitingFor: string | undefined;
  try {
    if (o.createNamespace) await createNamespace(deps.store, o.createNamespace, now());
    const preSync = await runHookPhase(deps.store, app, 'PreSync', p.hooks, hooks, now());
    if (preSync.state === 'failed') throw new HookFailure(preSync.message);
    if (preSync.state === 'running') waitingFor = `waiting for PreSync hooks: ${runningHooks(hooks, 'PreSync')}`;
    for (const wave of waitingFor ? [] : p.plan.waves) {
      // Later waves wait until every object of the earlier waves is healthy (as Argo CD's waves).
      const blocked = await unhealthy(wave.wave);
      if (blocked) {
        waitingFor = `waiting for wave ${blocked.wave} to be healthy: ${blocked.what}`;
        break;
      }
      // The wave's new objects are charged to their namespaces' quotas first, as the API charges them.
      const { charges, violations: overQuota } = await chargeCreates(
        deps.store,
        wave.actions.filter((a) => a.type === 'create').map((a) => a.desired as KubeObject),
        o.sourceOf,
      );
      if (overQuota.length) throw new QuotaRefusal(overQuota);
      // The wave's Services are allocated for right before it is written, with the allocation
      // lock in its transaction; lost to another allocator, allocated once more.
      const writtenBefore = written;
      for (let attempt = 1; ; attempt++) {
        const allocation = await allocateServicesIn(deps.store, serviceCidr, wave.actions, now());
        if (allocation.problems.length) throw new BerthError('Invalid', allocation.problems.join('\n'));
        const ops = wave.actions.map((action): { op: TxnOp; action?: Action } => ({
          action,
          op: txnOpOf(action, now(), allocation.allocated.get(action)),
        }));
        // One transaction per wave, with its quota charges, unless the store cannot take it in one
        // (etcd's limits): then in parts, in order, and the message says the wave was not applied atomically.
        const parts = splitTxn<{ op: TxnOp; action?: Action }>(
          [...[...charges, ...(allocation.lock ? [allocation.lock] : [])].map((op) => ({ op })), ...ops],
          deps.store.txnLimits,
          (x) => x.op,
        );
        try {
          await writeWave(parts);
          break;
        } catch (e) {
          if (
            written > writtenBefore ||
            !allocation.lock ||
            attempt >= ALLOCATION_ATTEMPTS ||
            !(await lostAllocationRace(deps.store, e, allocation.lockRevision))
          )
            throw e;
        }
      }
    }
    waitingFor ??= await runLaterHooks(deps.store, app, p.hooks, hooks, now(), () =>
      unhealthy(Number.POSITIVE_INFINITY),
    );
    return done(waitingFor ? { waitingFor } : {});
  } catch (e) {
    // Over quota before anything was written: refused as a whole, like any policy violation.
    if (e instanceof QuotaRefusal && written === 0) {
      return done({
        refusal: {
          type: APP_CONDITION.ComparisonError,
          reason: APP_REASON.PolicyViolation,
          message: e.violations.map(formatViolation).join('\n'),
          description: `over quota: ${formatViolation(e.violations[0]!)}`,
          result: 'invalid',
        },
      });
    }
    const partial = written
      ? ` (after ${written} change${written === 1 ? '' : 's'} had been applied${splitNote()})`
      : '';
    // A failed hook fails the operation; its SyncFail hooks are started (not waited for), as Argo CD's.
    if (e instanceof HookFailure)
      await runHookPhase(deps.store, app, 'SyncFail', p.hooks, hooks, now()).catch(() => undefined);
    return done({ error: { message: `${(e as Error).message}${partial}`, conflict: isBerthError(e, 'Conflict') } });
  }
}

/**
 * After the waves: the Sync hooks, then — once every object is healthy — the PostSync hooks.
 * Answers what the operation still waits for; throws HookFailure when a hook failed.
 */
async function runLaterHooks(
  store: Store,
  app: { namespace: string; name: string },
  hooks: KubeObject[],
  runs: HookRun[],
  now: Date,
  unhealthy: () => Promise<{ what: string } | undefined>,
): Promise<string | undefined> {
  const sync = await runHookPhase(store, app, 'Sync', hooks, runs, now);
  if (sync.state === 'failed') throw new HookFailure(sync.message);
  if (sync.state === 'running') return `waiting for Sync hooks: ${runningHooks(runs, 'Sync')}`;
  if (!hooks.some((h) => hookPhases(h)?.includes('PostSync'))) return undefined;
  if (!runs.some((r) => r.phase === 'PostSync')) {
    const blocked = await unhealthy();
    if (blocked) return `waiting for the resources to be healthy before the PostSync hooks: ${blocked.what}`;
  }
  const post = await runHookPhase(store, app, 'PostSync', hooks, runs, now);
  if (post.state === 'failed') throw new HookFailure(post.message);
  return post.state === 'running' ? `waiting for PostSync hooks: ${runningHooks(runs, 'PostSync')}` : undefined;
}

/**
 * What the API server would give the actions' Services (ClusterIPs, NodePorts left out, proxy
 * ports: see api/services.ts): the Services as they are to be written, by action; the values other
 * Services hold as problems; and the allocation lock to write with them (none when no Service is
 * written). The actions are left as planned: an allocated value in a desired object would read,
 * to the next allocation (the wave's, or its retry after a lost race), as one the manifest asked for.
 */
async function allocateServicesIn(
  store: Store,
  cidr: Cidr,
  actions: Action[],
  now: Date,
): Promise<{ allocated: Map<Action, ObjectLike>; problems: string[]; lock?: TxnOp; lockRevision: number }> {
  const services = actions.filter(
    (a): a is Exclude<Action, { type: 'prune' }> => a.type !== 'prune' && a.desired.kind === 'Service',
  );
  if (!services.length) return { allocated: new Map(), problems: [], lockRevision: 0 };
  const allocation = await allocateServices(
    store,
    cidr,
    services.map((a) => ({
      desired: a.desired as KubeObject & ServiceObject,
      previous: a.type === 'update' ? (a.live as KubeObject & ServiceObject) : undefined,
    })),
    now,
  );
  const problems = allocation.problems.map(
    ({ index, problem }) =>
      `Service ${services[index]!.desired.metadata.namespace ?? 'default'}/${services[index]!.desired.metadata.name} ${renderPath(problem.path)}: ${problem.message}`,
  );
  return {
    allocated: new Map(services.map((a, i) => [a, allocation.services[i]!])),
    problems,
    lock: allocation.lock,
    lockRevision: allocation.lockRevision,
  };
}

/** What an action writes: the object as the store keeps it, with the live revision as precondition. */
function txnOpOf(a: Action, now: Date, allocated?: ObjectLike): TxnOp {
  if (a.type === 'create')
    return {
      op: 'create',
      object: prepareCreate(structuredClone(allocated ?? a.desired) as KubeObject, now, randomUUID()),
    };
  if (a.type === 'update')
    return {
      op: 'update',
      object: prepareUpdate(a.live as KubeObject, structuredClone(allocated ?? a.desired) as KubeObject),
      expectedRevision: Number(a.live.metadata.resourceVersion),
    };
  // A pruned object with finalizers (a claim a pod still uses) is marked, and goes when they are off.
  const marked = finalizingDeletion(a.live as KubeObject, now);
  if (marked) {
    delete marked.metadata.resourceVersion;
    return { op: 'update', object: marked, expectedRevision: Number(a.live.metadata.resourceVersion) };
  }
  return { op: 'delete', ref: refOf(a.live), expectedRevision: Number(a.live.metadata.resourceVersion) };
}

/** A wave whose creates do not fit their namespaces' quotas. */
class QuotaRefusal extends BerthError {
  constructor(readonly violations: Violation[]) {
    super('Forbidden', violations.map(formatViolation).join('\n'));
  }
}

/** Creates a namespace for CreateNamespace=true (not managed by the Application: never pruned, as Argo CD's). */
async function createNamespace(store: Store, name: string, now: Date): Promise<void> {
  await store
    .create(
      prepareCreate(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } } as KubeObject,
        now,
        randomUUID(),
      ),
    )
    .catch((e) => {
      if (!isBerthError(e, 'AlreadyExists')) throw e;
    });
}

/** The first earlier wave with an object that is not Healthy yet, if any. */
async function unhealthyBefore(
  liveNow: () => Promise<Map<string, KubeObject>>,
  desired: KubeObject[],
  wave: number,
  keyOf: (o: KubeObject) => string,
  health: (o: KubeObject | undefined) => Health,
): Promise<{ wave: number; what: string } | undefined> {
  const earlier = desired.filter((d) => waveOf(d) < wave);
  if (earlier.length === 0) return undefined;
  const live = await liveNow();
  for (const d of earlier.sort((a, b) => waveOf(a) - waveOf(b))) {
    const h = health(live.get(keyOf(d)));
    if (h.status !== 'Healthy') return { wave: waveOf(d), what: `${d.kind}/${d.metadata.name} is ${h.status}` };
  }
  return undefined;
}
