/**
 * One reconcile of one Application: observe (fetch its source, load the commit exactly as `berth
 * validate` does, read the live objects it manages and the rules it is held to), decide
 * (plan.ts: refuse the commit, or what to write), execute (execute.ts: wave by wave, one store
 * transaction each), settle the status (plan.ts), write it once, and post the commit status after
 * it. A commit with any error writes nothing and keeps the last good state; the status says why,
 * with file:line.
 */
import { APP_CONDITION, APP_REASON } from '../api/conditions.js';
import { type Cidr } from '../api/cidr.js';
import { isBerthError } from '../api/errors.js';
import { kindInfoFor } from '../api/kinds.js';
import { timestamp } from '../api/lifecycle.js';
import {
  checkPodSecurity,
  describeProtectedPath,
  enforcedLevel,
  podSecurityMessage,
  podTemplateOf,
  protectedHostPaths,
  type PodSecurityLevel,
  type PodSecurityOptions,
} from '../api/pod-security.js';
import { BUILTIN_NAMESPACES } from '../api/namespaces.js';
import {
  ComparisonCache,
  ROLLBACK_ANNOTATION,
  SYNC_REQUESTED_ANNOTATION,
  SYNC_REVISION_ANNOTATION,
  type Plan,
} from '../diff/index.js';
import type { Health } from '../health/index.js';
import type { LoadedObject } from '../manifest/index.js';
import { isRemote, type GitSource, type SourceSpec } from '../source/index.js';
import { getIfExists } from '../store/lookup.js';
import { involvedObjectOf, type EventInput } from '../runtime/index.js';
import type { KubeObject, Store } from '../store/types.js';
import { mayUseCredentials } from './credentials.js';
import { decryptorFor } from './decryption.js';
import { executeSync, healthOfLive } from './execute.js';
import { postCommitStatus } from './ledger.js';
import { LiveView, type LiveSource } from './live.js';
import {
  beginStatus,
  splitHooks,
  historyRewritten,
  inSyncAfter,
  pinned,
  planSync,
  projectOf,
  refused,
  rollbackTarget,
  selfHealed,
  setCondition,
  settleSync,
  sourceFailed,
  summarize,
  syncOption,
  syncedCommitToCheck,
  type ConditionSetting,
  type Execution,
  type SyncResult,
} from './plan.js';
import {
  DEFAULT_PROJECT,
  DEFAULT_PROJECT_NAME,
  checkObjects,
  checkSource,
  type ProjectObject,
  type ProjectSpec,
  type Violation,
} from './project.js';
import { workloadQuotaViolations } from './quota.js';
import { servesCurrentPods } from './serving.js';
import type { ApplicationObject, ApplicationStatus, PinRequest } from './types.js';

export type { ApplicationObject, ApplicationStatus, Condition, RollbackState } from './types.js';
export { projectOf, syncOption } from './plan.js';

export interface SyncDeps {
  store: Store;
  source: GitSource;
  now?: () => Date;
  /** What each app's reconciles keep for the next one (kept by the controller, by namespace/name). */
  memo?: Map<string, AppMemo>;
  /** Pod Security: the server's default level and protected folders (default: baseline, none). */
  podSecurity?: PodSecurityOptions;
  /** Where ClusterIPs come from (default: Kubernetes' 10.96.0.0/12), as the API server's. */
  serviceCidr?: Cidr;
  /** The live objects from informers (the controller's); without, each app's view catches up from the store. */
  live?: LiveSource;
  /** Where the Application's Events go (a self-heal says what it reverted). */
  events?: { emit(event: EventInput): void };
}

export interface AppMemo {
  /** The branch head and store revision the last reconcile saw: when both are unchanged, nothing can have drifted. */
  seen?: { commit: string; storeRevision: number };
  /** The app's live objects: from the informers, or caught up from the store's changes instead of listed each time. */
  live: LiveView;
  /** Normalized forms of unchanged objects, so a plan compares only what changed. */
  comparisons: ComparisonCache;
  /** Health by live object: an object the store has not changed has not changed its health. */
  health: WeakMap<object, Health>;
}

function memoOf(deps: SyncDeps, key: string, app: string): AppMemo {
  let m = deps.memo?.get(key);
  if (!m) {
    const comparisons = new ComparisonCache();
    m = { live: new LiveView(app, (o) => comparisons.keyOf(o), deps.live), comparisons, health: new WeakMap() };
    deps.memo?.set(key, m);
  }
  return m;
}

export interface SyncOutcome {
  /** What happened, for logs and tests. */
  result: SyncResult;
  revision?: string;
  plan?: Plan;
  written: number;
  /** The sync operation is still running (waiting on a wave's health or on hooks): look again soon. */
  running?: boolean;
  /** How long each step took (ms), for the debug log: fetch, load, rules, live, plan, write, health. */
  steps?: Record<string, number>;
}

interface SyncOptions {
  manual?: boolean;
  /** Fetch even within the source's minimum interval. */
  force?: boolean;
  /** Do not fetch (unless never fetched): the reconcile is for a change in the cluster, not in Git. */
  offline?: boolean;
  /**
   * Whether an object the app manages changed since its last reconcile, from a caller that follows
   * them (the controller's informers). Unknown (undefined), any change to the store counts: in a
   * live cluster something always moves (node leases, pod status), so only the caller can tell.
   */
  changed?: boolean;
  autoRolledBack?: boolean;
}

/** One pass of a reconcile; `rollBackTo` asks for another, synced to that commit. */
interface Pass {
  outcome: SyncOutcome;
  /** Nothing changed: the status is not written. */
  unchanged?: boolean;
  rollBackTo?: string;
  /** The commits whose ledger entry this pass touched (their commit status may need posting). */
  touched: string[];
  /** What the pass saw is complete: remember it, so an unchanged branch and store skip the next pass. */
  head?: string;
}

export async function reconcileApplication(
  deps: SyncDeps,
  app: ApplicationObject,
  options: SyncOptions = {},
): Promise<SyncOutcome> {
  const now = deps.now ?? (() => new Date());
  const requested = app.metadata.annotations?.[SYNC_REQUESTED_ANNOTATION];
  if (requested && requested !== app.status?.lastSyncRequest) options = { ...options, manual: true, force: true };
  const status = beginStatus(app, requested, timestamp(now()));
  const memo = memoOf(deps, `${app.metadata.namespace ?? 'default'}/${app.metadata.name}`, app.metadata.name);
  const touched = new Set<string>();
  let pass = await syncPass(deps, memo, app, status, options);
  pass.touched.forEach((c) => touched.add(c));
  // autoRollback: the degraded commit is failed, and the last healthy one synced in the same reconcile.
  if (pass.rollBackTo) {
    pass = await syncPass(deps, memo, app, status, { ...options, manual: true, autoRolledBack: true });
    pass.touched.forEach((c) => touched.add(c));
  }
  if (pass.unchanged) return pass.outcome;
  summarize(status, app, timestamp(now()));
  const writing = performance.now();
  await writeStatus(deps.store, app, status);
  if (pass.outcome.steps) pass.outcome.steps.status = Math.round((performance.now() - writing) * 10) / 10;
  // The commit status goes out after the status is written (a failed write posts nothing); what
  // was posted is recorded in a second, small write only when the post changed something.
  if (await notify(deps.store, app, status, [...touched], timestamp(now()))) await writeStatus(deps.store, app, status);
  // Remember what this reconcile saw: the next one skips the work while neither the branch nor what
  // the app manages moved. A managed object someone changed after this pass read it reaches the
  // controller as a nudge, and a nudged reconcile observes in full (`changed`).
  if (pass.head) memo.seen = { commit: pass.head, storeRevision: Number(app.metadata.resourceVersion) };
  return pass.outcome;
}

/** Observe, plan, execute and settle one commit; `status` is updated in place. */
async function syncPass(
  deps: SyncDeps,
  memo: AppMemo,
  app: ApplicationObject,
  status: ApplicationStatus,
  options: SyncOptions,
): Promise<Pass> {
  const now = () => timestamp((deps.now ?? (() => new Date()))());
  const nothing = (result: SyncResult, revision?: string): Pass => ({
    outcome: { result, written: 0, ...(revision ? { revision } : {}) },
    touched: [],
  });
  const steps: Record<string, number> = {};
  let stepStart = performance.now();
  const step = (name: string): void => {
    const t = performance.now();
    steps[name] = Math.round((t - stepStart) * 10) / 10;
    stepStart = t;
  };
  const { problem: credentialProblem, ...spec } = await sourceSpec(deps.store, app);
  if (credentialProblem) {
    sourceFailed(status, { reason: APP_REASON.CredentialsRefused, message: credentialProblem }, now(), {
      unknownSync: true,
    });
    return nothing('source-error');
  }
  const resolved = await deps.source.refresh(spec, {
    force: options.force === true,
    offline: options.offline === true && !options.force && !options.manual,
  });
  if (!resolved.ok) {
    sourceFailed(status, resolved.condition, now(), { unknownSync: true });
    return nothing('source-error');
  }
  setCondition(status, APP_CONDITION.SourceError, undefined, now());
  step('fetch');
  const head = resolved.value.commit;
  const nothingMoved = async () =>
    options.changed !== undefined ? !options.changed : (await deps.store.revision()) === memo.seen!.storeRevision;
  if (memo.seen && memo.seen.commit === head && !options.manual && (await nothingMoved())) {
    return {
      outcome: {
        result: 'unchanged',
        revision: status.sync?.revision ?? head,
        written: 0,
        ...(status.operationState?.phase === 'Running' ? { running: true } : {}),
      },
      unchanged: true,
      touched: [],
    };
  }
  const synced = syncedCommitToCheck(status, head, options.manual === true);
  if (synced && !(await deps.source.contains(spec, head, synced))) {
    historyRewritten(status, app, head, synced, now());
    return nothing('source-error', head);
  }
  setCondition(status, APP_CONDITION.HistoryRewritten, undefined, now());
  const pin = await requestedPin(deps.source, spec, app);
  if (pin && !pin.ok) {
    sourceFailed(status, pin.condition, now());
    return nothing('source-error');
  }
  const { commit, rollback, start } = rollbackTarget(
    pin?.value,
    head,
    status.rollback,
    now(),
    options.manual === true && !options.autoRolledBack,
  );
  const manual = options.manual === true || start;
  pinned(status, app, commit, rollback, now());
  const decryption = await decryptorFor(deps.store, app);
  if (!decryption.ok) {
    sourceFailed(status, decryption, now());
    return nothing('source-error', commit);
  }
  const artifact = await deps.source.artifact(
    spec,
    commit,
    { strict: false, defaultNamespace: app.spec.destination?.namespace ?? 'default' },
    decryption.decryptor,
  );
  if (!artifact.ok) {
    sourceFailed(status, artifact.condition, now());
    return nothing('source-error', commit);
  }

  step('load');
  // What the commit is held to, each observed only when the one before found nothing.
  const { errors, objects } = artifact.value.result;
  const policy = errors.length ? [] : await policyViolations(deps, app, objects);
  const namespaces =
    errors.length || policy.length ? { missing: [] } : await missingNamespaces(deps.store, app, objects);
  const refusedEarly = errors.length > 0 || policy.length > 0 || namespaces.missing.length > 0;
  step('rules');
  const live = refusedEarly ? [] : await memo.live.read(deps.store, splitHooks(objects).desired);
  step('live');
  const p = planSync({
    app,
    status,
    commit,
    manual,
    errors,
    objects,
    policy,
    missingNamespaces: namespaces.missing,
    live,
    cache: memo.comparisons,
  });
  if (p.refusal) {
    refused(status, p.refusal, commit, now());
    return { outcome: { result: p.refusal.result, revision: commit, written: 0, plan: p.plan }, touched: [commit] };
  }

  step('plan');
  let execution: Execution | undefined;
  if (p.apply) {
    // Where each object came from, built only when a refusal has to name one.
    let sourceByKey: Map<string, { file: string; line: number }> | undefined;
    const sourceOf = (o: KubeObject) =>
      (sourceByKey ??= new Map(objects.map((l) => [memo.comparisons.keyOf(l.object as KubeObject), l.source]))).get(
        memo.comparisons.keyOf(o),
      );
    execution = await executeSync(
      deps,
      memo,
      { namespace: app.metadata.namespace ?? 'default', name: app.metadata.name },
      p,
      {
        ...(namespaces.toCreate ? { createNamespace: namespaces.toCreate } : {}),
        hooksSoFar: status.operationState?.hooks ?? [],
        sourceOf,
      },
    );
  }
  step('write');
  const reverted = execution && !execution.error && !execution.refusal && execution.written ? selfHealed(p) : [];
  if (reverted.length)
    deps.events?.emit({
      involvedObject: involvedObjectOf(app, { apiVersion: 'berth.dev/v1', kind: 'Application' }),
      type: 'Warning',
      reason: 'SelfHealed',
      message: `reverted changes made outside Git to ${commit.slice(0, 7)} (selfHeal): ${reverted.join(', ')}`,
    });
  // Health from the objects as they are now (after this sync's writes).
  let after: { health: Health[]; serving: boolean } | undefined;
  if (!execution?.error && !execution?.refusal) {
    const nowLive = await memo.live.managed(deps.store);
    const health = p.desired.map((d) => healthOfLive(memo, nowLive.get(memo.comparisons.keyOf(d))));
    const inSync = inSyncAfter(p, execution);
    const entry = status.ledger?.find((e) => e.revision === commit);
    after = { health, serving: inSync && !entry?.servingAt && (await servesCurrentPods(deps.store, p.desired)) };
  }
  const settled = settleSync(
    status,
    { app, commit, head, manual, autoRolledBack: options.autoRolledBack === true, artifact: artifact.value },
    p,
    execution,
    after,
    now(),
  );
  step('health');
  const outcome: SyncOutcome = {
    result: settled.result,
    revision: commit,
    plan: p.plan,
    written: execution?.written ?? 0,
    ...(settled.running ? { running: true } : {}),
    steps,
  };
  const complete = !execution?.error && !execution?.refusal;
  return {
    outcome,
    touched: [commit],
    ...(settled.rollBackTo ? { rollBackTo: settled.rollBackTo } : {}),
    ...(complete ? { head } : {}),
  };
}

/**
 * The namespaces the commit's objects go to that neither exist nor are declared by the commit: each
 * a violation at the first object that needs it; except the Application's destination namespace
 * when it says CreateNamespace=true, which is returned to be created.
 */
export async function missingNamespaces(
  store: Store,
  app: ApplicationObject,
  objects: LoadedObject[],
): Promise<{ missing: Violation[]; toCreate?: string }> {
  const declared = new Set(objects.filter((o) => o.object.kind === 'Namespace').map((o) => o.object.metadata.name));
  const wanted = new Map<string, LoadedObject>();
  for (const o of objects) {
    const ns = o.object.metadata.namespace;
    if (
      ns &&
      !declared.has(ns) &&
      !BUILTIN_NAMESPACES.includes(ns) &&
      !wanted.has(ns) &&
      kindInfoFor(o.object.apiVersion, o.object.kind)?.namespaced
    )
      wanted.set(ns, o);
  }
  const missing: Violation[] = [];
  let toCreate: string | undefined;
  for (const [ns, o] of wanted) {
    if (await getIfExists(store, { group: '', kind: 'Namespace', namespace: '', name: ns })) continue;
    if (ns === app.spec.destination?.namespace && syncOption(app, 'CreateNamespace')) toCreate = ns;
    else
      missing.push({
        file: o.source.file,
        line: o.source.line,
        message: `namespace ${ns} does not exist: declare it in the commit, or set syncOptions: [CreateNamespace=true] to create the destination namespace`,
      });
  }
  return { missing, ...(toCreate ? { toCreate } : {}) };
}

/** What a commit breaks of the rules it is held to (its project, Pod Security, quotas): any refuses it whole. */
export async function policyViolations(
  deps: SyncDeps,
  app: ApplicationObject,
  objects: LoadedObject[],
): Promise<Violation[]> {
  return [
    ...(await projectViolations(deps.store, app, objects)),
    ...(await podSecurityViolations(deps, objects)),
    ...(await workloadQuotaViolations(deps.store, objects)),
  ];
}

/**
 * What the commit would do that its project does not allow: the repository, then each object.
 * A project that does not exist allows nothing.
 */
async function projectViolations(store: Store, app: ApplicationObject, objects: LoadedObject[]): Promise<Violation[]> {
  const name = projectOf(app);
  const stored = await getIfExists(store, { group: 'berth.dev', kind: 'AppProject', namespace: '', name });
  if (!stored && name !== DEFAULT_PROJECT_NAME)
    return [{ message: `AppProject ${name} does not exist: nothing is synced until an admin creates it` }];
  const project = stored ? ((stored.spec ?? {}) as ProjectSpec) : DEFAULT_PROJECT;
  const located = objects.map((o) => ({ object: o.object as ProjectObject, source: o.source }));
  return [
    ...checkSource(name, project, app.spec.source.repoURL),
    ...checkObjects(name, project, located, (apiVersion, kind) => kindInfoFor(apiVersion, kind)?.namespaced ?? true),
  ];
}

/**
 * Pod Security at sync time, as at the API: every Pod and workload pod template of the commit
 * against the level of its namespace (as the commit declares it, else as it is live), and no
 * hostPath reaching a data directory.
 */
async function podSecurityViolations(deps: SyncDeps, objects: LoadedObject[]): Promise<Violation[]> {
  const options = deps.podSecurity ?? { defaultLevel: 'baseline' as const, protectedDirs: async () => [] };
  const declared = new Map(
    objects
      .filter((o) => o.object.kind === 'Namespace')
      .map((o) => [o.object.metadata.name, o.object.metadata.labels as Record<string, string> | undefined]),
  );
  // Each namespace's level is read once per sync, however many workloads it holds.
  const levels = new Map<string, Promise<PodSecurityLevel>>();
  const levelOf = (ns: string) => {
    let level = levels.get(ns);
    if (!level) {
      level = (
        declared.has(ns)
          ? Promise.resolve(declared.get(ns))
          : getIfExists(deps.store, { group: '', kind: 'Namespace', namespace: '', name: ns }).then(
              (n) => n?.metadata.labels,
            )
      ).then((labels) => enforcedLevel(labels, options.defaultLevel));
      levels.set(ns, level);
    }
    return level;
  };
  const dirs = await options.protectedDirs();
  const out: Violation[] = [];
  for (const o of objects) {
    const template = podTemplateOf(o.object);
    if (!template) continue;
    const ns = o.object.metadata.namespace ?? 'default';
    const what = `${o.object.kind} ${ns}/${o.object.metadata.name}`;
    const at = { file: o.source.file, line: o.source.line };
    for (const r of protectedHostPaths(template.spec, dirs))
      out.push({ ...at, message: `${what}: ${describeProtectedPath(r)}: no pod may mount it` });
    const level = await levelOf(ns);
    const failures = podSecurityOf(o.object, level, template);
    if (failures.length) out.push({ ...at, message: `${what}: ${podSecurityMessage(level, failures)}` });
  }
  return out;
}

/**
 * The checks a workload fails, remembered per object (the source shares a file's objects between
 * syncs while the file is unchanged): a sync of one changed file checks one file's workloads.
 */
const podSecurityMemo = new WeakMap<
  object,
  { level: PodSecurityLevel; failures: ReturnType<typeof checkPodSecurity> }
>();
function podSecurityOf(
  o: object,
  level: PodSecurityLevel,
  template: NonNullable<ReturnType<typeof podTemplateOf>>,
): ReturnType<typeof checkPodSecurity> {
  const known = podSecurityMemo.get(o);
  if (known?.level === level) return known.failures;
  const failures = checkPodSecurity(level, template.meta, template.spec);
  podSecurityMemo.set(o, { level, failures });
  return failures;
}

/** The pin the Application's annotations ask for, resolved to a commit (a branch or tag too). */
async function requestedPin(
  source: GitSource,
  spec: SourceSpec,
  app: ApplicationObject,
): Promise<
  { ok: true; value: PinRequest } | { ok: false; condition: { reason: string; message: string } } | undefined
> {
  const annotations = app.metadata.annotations ?? {};
  const rollbackTo = annotations[ROLLBACK_ANNOTATION];
  const revision = rollbackTo ?? annotations[SYNC_REVISION_ANNOTATION];
  if (!revision) return undefined;
  const resolved = await source.resolve(spec, revision);
  if (!resolved.ok) return resolved;
  const kind = rollbackTo ? 'rollback' : 'revision';
  return {
    ok: true,
    value: {
      request: `${revision}@${annotations[SYNC_REQUESTED_ANNOTATION] ?? ''}`,
      commit: resolved.value.commit,
      kind,
    },
  };
}

/**
 * Posts to notify.commitStatus the state of each touched commit whose state changed since its last
 * post. Answers whether the status changed (what was posted, the NotificationError condition).
 */
async function notify(
  store: Store,
  app: ApplicationObject,
  status: ApplicationStatus,
  commits: string[],
  now: string,
): Promise<boolean> {
  const target = app.spec.notify?.commitStatus;
  const entries = (status.ledger ?? []).filter((e) => commits.includes(e.revision) && e.notified !== e.state);
  const before = JSON.stringify(status.conditions ?? []);
  const failed = (c: ConditionSetting): boolean => {
    setCondition(status, APP_CONDITION.NotificationError, c, now);
    return JSON.stringify(status.conditions ?? []) !== before;
  };
  // Commit statuses turned off: a failure to post them is no longer a condition.
  if (!target) return failed(undefined);
  if (!entries.length) return false;
  let token: string | undefined;
  if (target.tokenSecret) {
    const data = await secretData(store, app.metadata.namespace ?? 'default', target.tokenSecret);
    const allowed = mayUseCredentials(target.tokenSecret, data, target.url);
    if (!allowed.ok) return failed({ status: 'True', reason: APP_REASON.CredentialsRefused, message: allowed.problem });
    token = data.token?.trim();
  }
  for (const entry of entries) {
    try {
      const namespace = app.metadata.namespace ?? 'default';
      const targetURL = target.targetURL
        ?.replaceAll('{sha}', entry.revision)
        .replaceAll('{app}', encodeURIComponent(app.metadata.name))
        .replaceAll('{namespace}', encodeURIComponent(namespace));
      await postCommitStatus(
        {
          url: target.url,
          ...(token ? { token } : {}),
          ...(target.context ? { context: target.context } : {}),
          ...(targetURL ? { targetURL } : {}),
        },
        entry,
      );
      entry.notified = entry.state;
    } catch (e) {
      // Retried on the next reconcile (notified stays behind the state).
      failed({ status: 'True', reason: APP_REASON.CommitStatusFailed, message: (e as Error).message });
      return true;
    }
  }
  failed(undefined);
  return true;
}

/** A Secret's data, decoded; empty when the Secret does not exist. */
async function secretData(store: Store, namespace: string, name: string): Promise<Record<string, string | undefined>> {
  try {
    const secret = await store.get({ group: '', kind: 'Secret', namespace, name });
    return Object.fromEntries(
      Object.entries((secret.data ?? {}) as Record<string, string>).map(([k, v]) => [
        k,
        Buffer.from(v, 'base64').toString('utf8'),
      ]),
    );
  } catch {
    return {};
  }
}

/**
 * The source spec, with credentials from the Application's credentialsSecret when it names one
 * and they may go to this repository (see credentials.ts); `problem` says why they may not.
 */
export async function sourceSpec(store: Store, app: ApplicationObject): Promise<SourceSpec & { problem?: string }> {
  const s = app.spec.source;
  const spec: SourceSpec = {
    repoURL: s.repoURL,
    ...(s.targetRevision ? { targetRevision: s.targetRevision } : {}),
    ...(s.path ? { path: s.path } : {}),
  };
  if (!s.credentialsSecret) return spec;
  // A missing Secret shows up as an authentication failure from the source.
  const data = await secretData(store, app.metadata.namespace ?? 'default', s.credentialsSecret);
  const username = data.username ?? (data.token ? 'x-access-token' : undefined);
  const password = data.password ?? data.token;
  if (!username || !password) return spec;
  // Credentials only travel over the network: a local repository needs none.
  if (!isRemote(s.repoURL)) return spec;
  const allowed = mayUseCredentials(s.credentialsSecret, data, s.repoURL);
  return allowed.ok ? { ...spec, credentials: { username, password } } : { ...spec, problem: allowed.problem };
}

/** Writes status with compare-and-swap, re-reading on conflict (only status is ours to change). */
async function writeStatus(store: Store, app: ApplicationObject, status: ApplicationStatus): Promise<void> {
  const ref = {
    group: 'berth.dev',
    kind: 'Application',
    namespace: app.metadata.namespace ?? 'default',
    name: app.metadata.name,
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = attempt === 0 ? app : await store.get<ApplicationObject>(ref);
    try {
      const written = await store.update({ ...current, status });
      app.metadata.resourceVersion = written.metadata.resourceVersion;
      app.status = status;
      return;
    } catch (e) {
      if (!isBerthError(e, 'Conflict')) throw e;
    }
  }
}
