/**
 * One reconcile of one Application: fetch its source, load the commit exactly as `berth validate`
 * does, and — only when the commit is wholly valid — plan against the live objects it manages and
 * apply the plan in one store transaction per sync wave. A commit with any error writes nothing
 * and keeps the last good state; the Application's status says why, with file:line.
 */
import { randomUUID } from 'node:crypto';
import { BerthError, isBerthError } from '../api/errors.js';
import { prepareCreate, prepareUpdate, timestamp } from '../api/lifecycle.js';
import { DEFAULT_SERVICE_CIDR, type ServiceObject } from '../api/services.js';
import { parseCidr, type Cidr } from '../api/cidr.js';
import { ALLOCATION_ATTEMPTS, allocateServices, lostAllocationRace } from '../runtime/service-allocation.js';
import { ComparisonCache, ROLLBACK_ANNOTATION, SYNC_REQUESTED_ANNOTATION, SYNC_REVISION_ANNOTATION, plan, waveOf, type Action, type IgnoreDifference, type ObjectLike, type Plan } from '../diff/index.js';
import { healthOf, worst, type Health, type HealthStatus } from '../health/index.js';
import { LiveView } from './live.js';
import { servesCurrentPods } from './serving.js';
import { postCommitStatus, record, type CommitState, type LedgerEntry } from './ledger.js';
import { formatDiagnostic, renderPath, type LoadedObject, type NormalizedObject } from '../manifest/index.js';
import { kindInfoFor } from '../api/kinds.js';
import { BUILTIN_NAMESPACES } from '../api/tokens.js';
import { checkPodSecurity, describeProtectedPath, enforcedLevel, podSecurityMessage, podTemplateOf, protectedHostPaths, type PodSecurityLevel, type PodSecurityOptions } from '../api/pod-security.js';
import { getIfExists } from '../store/lookup.js';
import { mayUseCredentials } from './credentials.js';
import { HookFailure, runHookPhase, runningHooks, type HookRun } from './hooks.js';
import { hookPhases } from '../api/hooks.js';
import { chargeCreates, workloadQuotaViolations } from './quota.js';
import { DEFAULT_PROJECT, DEFAULT_PROJECT_NAME, checkObjects, checkSource, formatViolation, type ProjectObject, type ProjectSpec, type Violation } from './project.js';
import { isRemote, type GitSource, type SourceSpec } from '../source/index.js';
import { refOf, splitTxn } from '../store/index.js';
import type { KubeObject, Store, TxnOp } from '../store/types.js';

export interface ApplicationObject extends KubeObject {
  spec: {
    source: { repoURL: string; targetRevision?: string; path?: string; credentialsSecret?: string };
    destination?: { namespace?: string };
    project?: string;
    syncPolicy?: { automated?: { prune?: boolean; selfHeal?: boolean; allowEmpty?: boolean }; autoRollback?: boolean; syncOptions?: string[] };
    ignoreDifferences?: IgnoreDifference[];
    pollInterval?: string;
    notify?: { commitStatus?: { url: string; tokenSecret?: string; context?: string } };
  };
  status?: ApplicationStatus;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface RollbackState {
  request: string;
  revision: string;
  /** `app rollback` (or autoRollback), or `app sync --revision`: both pin a commit the same way. */
  kind?: 'rollback' | 'revision';
  /** The tracked branch's head when the rollback was made: a new head ends the pause. */
  branchHead: string;
  state: 'Paused' | 'Resumed';
  since: string;
}

export interface ApplicationStatus {
  ledger?: LedgerEntry[];
  lastSyncRequest?: string;
  rollback?: RollbackState;
  observedGeneration?: number;
  sync?: { status: 'Synced' | 'OutOfSync' | 'Unknown'; revision?: string };
  operationState?: { phase: 'Running' | 'Succeeded' | 'Failed' | 'Error'; message?: string; revision?: string; startedAt?: string; finishedAt?: string; hooks?: HookRun[] };
  history?: { id: number; revision: string; deployedAt: string; message?: string; author?: string; initiatedBy?: 'auto' | 'user' | 'rollback'; outcome?: 'Progressing' | 'Healthy' | 'Degraded' | 'Failed' }[];
  conditions?: Condition[];
  reconciledAt?: string;
  health?: { status: HealthStatus; message?: string };
  resources?: { kind: string; namespace?: string; name: string; status: 'Synced' | 'OutOfSync'; health?: HealthStatus }[];
}

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
}

export interface AppMemo {
  /** The branch head and store revision the last reconcile saw: when both are unchanged, nothing can have drifted. */
  seen?: { commit: string; storeRevision: number };
  /** The app's live objects, caught up from the store's changes instead of listed each time. */
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
    m = { live: new LiveView(app, (o) => comparisons.keyOf(o)), comparisons, health: new WeakMap() };
    deps.memo?.set(key, m);
  }
  return m;
}

export interface SyncOutcome {
  /** What happened, for logs and tests. */
  result: 'synced' | 'unchanged' | 'out-of-sync' | 'invalid' | 'source-error' | 'conflict';
  revision?: string;
  plan?: Plan;
  written: number;
  /** The sync operation is still running (waiting on a wave's health or on hooks): look again soon. */
  running?: boolean;
}

const HISTORY_LIMIT = 10;
const MAX_STATUS_RESOURCES = 2000;

export async function reconcileApplication(deps: SyncDeps, app: ApplicationObject, options: { manual?: boolean; force?: boolean; autoRolledBack?: boolean } = {}): Promise<SyncOutcome> {
  const now = deps.now ?? (() => new Date());
  const requested = app.metadata.annotations?.[SYNC_REQUESTED_ANNOTATION];
  if (requested && requested !== app.status?.lastSyncRequest) options = { ...options, manual: true, force: true };
  const ref = { namespace: app.metadata.namespace ?? 'default', name: app.metadata.name };
  const { problem: credentialProblem, ...spec } = await sourceSpec(deps.store, app);
  const status: ApplicationStatus = {
    ...(app.status ?? {}), reconciledAt: timestamp(now()),
    ...(app.metadata.generation ? { observedGeneration: app.metadata.generation } : {}),
    ...(requested ? { lastSyncRequest: requested } : {}),
  };
  const setCondition = (type: string, c: Omit<Condition, 'type' | 'lastTransitionTime'> | undefined): void => {
    const before = (status.conditions ?? []).find((x) => x.type === type);
    const others = (status.conditions ?? []).filter((x) => x.type !== type);
    // As Kubernetes: lastTransitionTime moves only when the condition's status does.
    const since = before && before.status === c?.status && before.lastTransitionTime ? before.lastTransitionTime : timestamp(now());
    status.conditions = c ? [...others, { type, ...c, lastTransitionTime: since }] : others;
  };

  if (credentialProblem) {
    setCondition('SourceError', { status: 'True', reason: 'CredentialsRefused', message: credentialProblem });
    status.sync = { status: 'Unknown', ...(status.sync?.revision ? { revision: status.sync.revision } : {}) };
    await writeStatus(deps.store, app, status);
    return { result: 'source-error', written: 0 };
  }
  const resolved = await deps.source.refresh(spec, { force: options.force === true });
  if (!resolved.ok) {
    setCondition('SourceError', { status: 'True', reason: resolved.condition.reason, message: resolved.condition.message });
    status.sync = { status: 'Unknown', ...(status.sync?.revision ? { revision: status.sync.revision } : {}) };
    await writeStatus(deps.store, app, status);
    return { result: 'source-error', written: 0 };
  }
  setCondition('SourceError', undefined);
  const head = resolved.value.commit;
  const memo = memoOf(deps, `${ref.namespace}/${ref.name}`, ref.name);
  const seen = memo.seen;
  if (seen && seen.commit === head && !options.manual && (await deps.store.revision()) === seen.storeRevision) {
    return { result: 'unchanged', revision: status.sync?.revision ?? head, written: 0, ...(status.operationState?.phase === 'Running' ? { running: true } : {}) };
  }
  // A force-push that rewrote history is not synced by itself: a person confirms it (manual sync),
  // or the branch comes back to containing what was synced.
  const synced = status.operationState?.phase === 'Succeeded' ? status.operationState.revision : undefined;
  if (synced && head !== synced && !options.manual && !(await deps.source.contains(spec, head, synced))) {
    setCondition('HistoryRewritten', {
      status: 'True', reason: 'ForcePush',
      message: `the tracked branch no longer contains the synced commit ${synced.slice(0, 7)} (history was rewritten); nothing was applied. Run \`berth app sync ${app.metadata.name}\` to sync ${head.slice(0, 7)} anyway`,
    });
    status.sync = { status: 'OutOfSync', revision: head };
    await writeStatus(deps.store, app, status);
    return { result: 'source-error', revision: head, written: 0 };
  }
  setCondition('HistoryRewritten', undefined);
  const pin = await requestedPin(deps.source, spec, app);
  if (pin && !pin.ok) {
    setCondition('SourceError', { status: 'True', reason: pin.condition.reason, message: pin.condition.message });
    await writeStatus(deps.store, app, status);
    return { result: 'source-error', written: 0 };
  }
  const { commit, rollback, start } = rollbackTarget(pin?.value, head, status.rollback, timestamp(now()), options.manual === true && !options.autoRolledBack);
  status.rollback = rollback;
  if (start) options = { ...options, manual: true };
  if (rollback?.state === 'Paused') {
    const what = rollback.kind === 'revision' ? `synced to ${JSON.stringify(rollback.request.slice(0, rollback.request.lastIndexOf('@')))} (${commit.slice(0, 7)}) by request` : `rolled back to ${commit.slice(0, 7)}`;
    setCondition('RollbackActive', {
      status: 'True', reason: rollback.kind === 'revision' ? 'PinnedRevision' : 'RolledBack',
      message: `${what}; automated sync is paused until a new commit lands on the tracked branch, or \`berth app sync ${app.metadata.name} --resume\``,
    });
  } else setCondition('RollbackActive', undefined);
  const artifact = await deps.source.artifact(spec, commit, { strict: false, defaultNamespace: app.spec.destination?.namespace ?? 'default' });
  if (!artifact.ok) {
    setCondition('SourceError', { status: 'True', reason: artifact.condition.reason, message: artifact.condition.message });
    await writeStatus(deps.store, app, status);
    return { result: 'source-error', revision: commit, written: 0 };
  }
  /** Refuses the whole commit: nothing of it is written, the last good state stays, the ledger says why. */
  const refuse = async (type: string, reason: string, message: string, description: string, result: 'invalid' | 'conflict', p?: Plan): Promise<SyncOutcome> => {
    setCondition(type, { status: 'True', reason, message });
    status.sync = { status: 'OutOfSync', revision: commit };
    status.ledger = record(status.ledger, commit, timestamp(now()), { state: 'failure', description });
    await notify(deps.store, app, status, commit, setCondition);
    await writeStatus(deps.store, app, status);
    return { result, revision: commit, written: 0, ...(p ? { plan: p } : {}) };
  };
  const errors = artifact.value.result.errors;
  if (errors.length) {
    return refuse('ComparisonError', 'InvalidManifests', errors.map(formatDiagnostic).join('\n'), `invalid manifests: ${errors.length} error${errors.length === 1 ? '' : 's'}, first ${formatDiagnostic(errors[0]!)}`, 'invalid');
  }
  // The project's rules: a commit that would write outside them is refused whole.
  const loaded = artifact.value.result.objects;
  const violations = [...(await projectViolations(deps.store, app, loaded)), ...(await podSecurityViolations(deps, loaded)), ...(await workloadQuotaViolations(deps.store, loaded))];
  if (violations.length) {
    return refuse('ComparisonError', 'PolicyViolation', violations.map(formatViolation).join('\n'), `refused by policy (project ${projectOf(app)}, pod security): ${violations.length} violation${violations.length === 1 ? '' : 's'}, first ${formatViolation(violations[0]!)}`, 'invalid');
  }
  // Objects go only into namespaces that exist, or that the commit declares; the destination
  // namespace is created on the way only with CreateNamespace=true (as Argo CD's sync option).
  const { missing, toCreate } = await missingNamespaces(deps.store, app, loaded);
  if (missing.length) {
    return refuse('ComparisonError', 'NamespaceNotFound', missing.map(formatViolation).join('\n'), `namespace not found: ${formatViolation(missing[0]!)}`, 'invalid');
  }
  setCondition('ComparisonError', undefined);

  // Hooks are run by a sync, not kept as desired state; Skip leaves an object out altogether.
  const isHookObject = (o: { object: object }) => hookPhases(o.object as KubeObject) !== undefined;
  const desired = loaded.filter((o) => !isHookObject(o)).map((o) => o.object as NormalizedObject & KubeObject);
  const hooks = loaded.filter((o) => isHookObject(o) && !hookPhases(o.object as KubeObject)!.includes('Skip')).map((o) => o.object as KubeObject);
  const live = await memo.live.read(deps.store, desired);
  const automated = app.spec.syncPolicy?.automated;
  const ignoreDifferences = app.spec.ignoreDifferences ?? [];
  const p = plan(ref, desired, live, { prune: automated?.prune === true || options.manual === true, ignoreDifferences, cache: memo.comparisons, adopt: syncOption(app, 'AdoptExisting') });
  if (p.conflicts.length) {
    return refuse('SharedResourceError', 'ManagedByAnotherApplication', p.conflicts.map((c) => `${c.key} is managed by Application ${c.owner.namespace}/${c.owner.name}`).join('\n'), `${p.conflicts.length} object(s) belong to another Application`, 'conflict', p);
  }
  if (p.unmanaged.length) {
    return refuse('SharedResourceError', 'NotManaged', p.unmanaged.map((k) => `${k} exists and no Application manages it: left alone (add syncOptions: [AdoptExisting=true] to the Application's syncPolicy to take it over)`).join('\n'), `${p.unmanaged.length} object(s) exist unmanaged`, 'conflict', p);
  }
  setCondition('SharedResourceError', undefined);
  // Argo CD's allowEmpty: an automated sync does not prune an Application down to nothing.
  const prunes = p.waves.reduce((n, w) => n + w.actions.filter((a) => a.type === 'prune').length, 0);
  if (desired.length === 0 && prunes > 0 && !options.manual && automated?.allowEmpty !== true) {
    return refuse('SyncError', 'EmptyCommit', `the commit has no objects: an automated sync would prune all ${prunes} of the Application's objects; refused (sync by hand, or set syncPolicy.automated.allowEmpty: true)`, `empty commit would prune all ${prunes} objects`, 'invalid', p);
  }
  setCondition('SyncError', undefined);
  const serviceCidr = deps.serviceCidr ?? parseCidr(DEFAULT_SERVICE_CIDR);
  // Checked for the whole commit before anything is written (a NodePort another Service holds
  // refuses it whole); what is given is allocated again, wave by wave, as each is written.
  const portProblems = (await allocateServicesIn(deps.store, serviceCidr, p.waves.flatMap((w) => w.actions), now())).problems;
  if (portProblems.length) {
    // As an invalid manifest: a NodePort another Service holds stops the whole commit.
    return refuse('ComparisonError', 'InvalidManifests', portProblems.join('\n'), `invalid manifests: ${portProblems[0]}`, 'invalid');
  }

  const pending = p.waves.reduce((n, w) => n + w.actions.length, 0);
  const newCommit = status.sync?.revision !== commit || status.operationState?.revision !== commit;
  // Argo CD's rules: automated sync applies a new commit; drift on the synced commit is
  // reverted only with selfHeal; a manual sync always applies. A rollback pin keeps its commit.
  // A sync still Running (waiting on a wave's health) carries on where it stopped.
  const continuing = status.operationState?.phase === 'Running' && status.operationState.revision === commit;
  // A sync operation with hooks runs them even when no object changes (a new commit, or by hand).
  const hooksToRun = hooks.length > 0 && (newCommit || options.manual === true || continuing);
  const apply = (pending > 0 || hooksToRun) && (options.manual === true || continuing || (automated !== undefined && (newCommit || automated.selfHeal === true)));
  const healthOfLive = (o: KubeObject | undefined): Health => {
    if (!o) return healthOf(undefined);
    let h = memo.health.get(o);
    if (!h) memo.health.set(o, (h = healthOf(o as Parameters<typeof healthOf>[0])));
    return h;
  };
  const keyOf = (o: KubeObject): string => memo.comparisons.keyOf(o);
  // Where each object came from, built only when a refusal has to name one.
  let sourceByKey: Map<string, { file: string; line: number }> | undefined;
  const sourceOf = (o: KubeObject) => (sourceByKey ??= new Map(loaded.map((l) => [keyOf(l.object as KubeObject), l.source]))).get(keyOf(o));
  let waitingFor: string | undefined;
  let written = 0;
  let transactions = 0;
  let splitWave = false;
  const split = (): string => {
    if (!splitWave) return '';
    const { maxOps, maxBytes } = deps.store.txnLimits;
    return ` in ${transactions} transactions, not atomically: the store takes at most ${maxOps} operations and ${maxBytes} bytes in one (etcd's --max-txn-ops and --max-request-bytes)`;
  };
  if (apply) {
    const startedAt = timestamp(now());
    // The hooks this operation has started (kept across reconciles while it runs).
    const hookRuns: HookRun[] = continuing ? [...(status.operationState?.hooks ?? [])] : [];
    try {
      if (toCreate) await createNamespace(deps.store, toCreate, now());
      const preSync = await runHookPhase(deps.store, ref, 'PreSync', hooks, hookRuns, now());
      if (preSync.state === 'failed') throw new HookFailure(preSync.message);
      if (preSync.state === 'running') waitingFor = `waiting for PreSync hooks: ${runningHooks(hookRuns, 'PreSync')}`;
      for (const wave of waitingFor ? [] : p.waves) {
        // Later waves wait until every object of the earlier waves is healthy (as Argo CD's waves).
        const blocked = await unhealthyBefore(() => memo.live.managed(deps.store), desired, wave.wave, keyOf, healthOfLive);
        if (blocked) {
          waitingFor = `waiting for wave ${blocked.wave} to be healthy: ${blocked.what}`;
          break;
        }
        // The wave's new objects are charged to their namespaces' quotas first, as the API charges them.
        const { charges, violations: overQuota } = await chargeCreates(deps.store, wave.actions.filter((a) => a.type === 'create').map((a) => a.desired as KubeObject), sourceOf);
        if (overQuota.length) throw new QuotaRefusal(overQuota);
        // The wave's Services are allocated for again right before it is written, with the
        // allocation lock in its transaction; lost to another allocator, allocated once more.
        const writtenBefore = written;
        for (let attempt = 1; ; attempt++) {
          const allocation = await allocateServicesIn(deps.store, serviceCidr, wave.actions, now());
          if (allocation.problems.length) throw new BerthError('Invalid', allocation.problems.join('\n'));
          const ops = wave.actions.map((action): { op: TxnOp; action?: Action } => ({ action, op: txnOpOf(action, now(), allocation.allocated.get(action)) }));
          // One transaction per wave, with its quota charges, unless the store cannot take it in one
          // (etcd's limits): then in parts, in order, and the message says the wave was not applied atomically.
          const parts = splitTxn<{ op: TxnOp; action?: Action }>([...[...charges, ...(allocation.lock ? [allocation.lock] : [])].map((op) => ({ op })), ...ops], deps.store.txnLimits, (x) => x.op);
          try {
            await writeWave(parts);
            break;
          } catch (e) {
            if (written > writtenBefore || !allocation.lock || attempt >= ALLOCATION_ATTEMPTS || !(await lostAllocationRace(deps.store, e, allocation.lockRevision))) throw e;
          }
        }
      }
      async function writeWave(parts: { op: TxnOp; action?: Action }[][]): Promise<void> {
        if (parts.length > 1) splitWave = true;
        for (const part of parts) {
          const result = await deps.store.txn(part.map((x) => x.op));
          const applied = part.map((x, i) => ({ action: x.action, op: x.op, object: result.results[i]! })).filter((x) => x.action);
          memo.live.applied(applied.filter((x) => x.op.op !== 'delete').map((x) => x.object), applied.filter((x) => x.op.op === 'delete').map((x) => x.object), result.revision);
          for (const x of applied) if (x.action!.type !== 'prune') memo.comparisons.remember(x.object, x.action!.source);
          written += applied.length;
          transactions++;
        }
      }
      if (!waitingFor) waitingFor = await runLaterHooks(deps.store, ref, hooks, hookRuns, now(), () => unhealthyBefore(() => memo.live.managed(deps.store), desired, Number.POSITIVE_INFINITY, keyOf, healthOfLive));
      const applied = `applied ${written} change${written === 1 ? '' : 's'}${split()}${hookRuns.length ? `; ${hookRuns.filter((r) => r.state === 'Succeeded').length}/${hookRuns.length} hooks done` : ''}`;
      const ranHooks = hookRuns.length ? { hooks: hookRuns } : {};
      status.operationState = waitingFor
        ? { phase: 'Running', revision: commit, message: `${applied}; ${waitingFor}`, startedAt: continuing ? status.operationState?.startedAt ?? startedAt : startedAt, ...ranHooks }
        : { phase: 'Succeeded', revision: commit, message: applied, startedAt, finishedAt: timestamp(now()), ...ranHooks };
      if ((newCommit || options.manual) && !continuing) {
        const history = status.history ?? [];
        const id = (history[history.length - 1]?.id ?? 0) + 1;
        const initiatedBy: 'auto' | 'user' | 'rollback' = rollback?.state === 'Paused' && rollback.kind !== 'revision' ? 'rollback' : options.manual ? 'user' : 'auto';
        status.history = [...history, { id, revision: commit, deployedAt: timestamp(now()), message: artifact.value.message, author: artifact.value.author, initiatedBy, outcome: 'Progressing' as const }].slice(-HISTORY_LIMIT);
      }
    } catch (e) {
      // Over quota before anything was written: refused as a whole, like any policy violation.
      if (e instanceof QuotaRefusal && written === 0) {
        return refuse('ComparisonError', 'PolicyViolation', e.violations.map(formatViolation).join('\n'), `over quota: ${formatViolation(e.violations[0]!)}`, 'invalid', p);
      }
      const partial = written ? ` (after ${written} change${written === 1 ? '' : 's'} had been applied${split()})` : '';
      // A failed hook fails the operation; its SyncFail hooks are started (not waited for), as Argo CD's.
      if (e instanceof HookFailure) await runHookPhase(deps.store, ref, 'SyncFail', hooks, hookRuns, now()).catch(() => undefined);
      status.operationState = { phase: isBerthError(e, 'Conflict') ? 'Failed' : 'Error', revision: commit, message: `${(e as Error).message}${partial}`, startedAt, finishedAt: timestamp(now()), ...(hookRuns.length ? { hooks: hookRuns } : {}) };
      status.sync = { status: 'OutOfSync', revision: commit };
      await writeStatus(deps.store, app, status);
      return { result: 'out-of-sync', revision: commit, plan: p, written };
    }
  }
  const inSync = written === pending && p.requirePruning.length === 0;
  status.sync = { status: inSync ? 'Synced' : 'OutOfSync', revision: commit };
  // Health from the objects as they are now (after this sync's writes).
  const nowLive = await memo.live.managed(deps.store);
  const resourceHealth = desired.map((d) => healthOfLive(nowLive.get(keyOf(d))));
  const appHealth = worst(resourceHealth);
  status.health = { status: appHealth.status, ...(appHealth.message ? { message: appHealth.message } : {}) };
  // The ledger of the latest sync: Healthy once its resources are; Degraded when they go bad.
  const latest = status.history?.[status.history.length - 1];
  if (latest && latest.revision === commit && latest.outcome !== 'Failed' && latest.outcome !== 'Healthy') {
    if (appHealth.status === 'Healthy') latest.outcome = 'Healthy';
    else if (appHealth.status === 'Degraded') latest.outcome = 'Degraded';
  }
  // autoRollback: a synced commit that went Degraded is undone, back to the last healthy one.
  const back = app.spec.syncPolicy?.autoRollback && latest?.revision === commit && latest.outcome === 'Degraded'
    ? [...(status.history ?? [])].reverse().find((h) => h.outcome === 'Healthy' && h.revision !== commit) : undefined;
  if (back && latest && !options.autoRolledBack) {
    latest.outcome = 'Failed';
    status.ledger = record(status.ledger, commit, timestamp(now()), { synced: true, state: 'failure', description: `Degraded (${appHealth.message ?? 'unhealthy'}): rolled back to ${back.revision.slice(0, 7)}` });
    await notify(deps.store, app, status, commit, setCondition);
    status.rollback = { request: `auto@${commit}`, revision: back.revision, branchHead: head, state: 'Paused', since: timestamp(now()) };
    await writeStatus(deps.store, app, { ...status, resources: status.resources ?? [] });
    return reconcileApplication(deps, app, { ...options, manual: true, autoRolledBack: true });
  }
  if (!inSync && p.requirePruning.length) setCondition('OrphanedResourceWarning', { status: 'True', reason: 'PruneDisabled', message: `${p.requirePruning.length} resource${p.requirePruning.length === 1 ? '' : 's'} require${p.requirePruning.length === 1 ? 's' : ''} pruning: ${p.requirePruning.join(', ')}` });
  else setCondition('OrphanedResourceWarning', undefined);
  const resources = desired.map((d, i) => ({
    kind: d.kind, ...(d.metadata.namespace ? { namespace: d.metadata.namespace } : {}), name: d.metadata.name,
    status: inSync ? ('Synced' as const) : ('OutOfSync' as const), health: resourceHealth[i]!.status,
  }));
  // The Application must stay under the store's 1 MiB limit: past a few thousand resources, list
  // the ones needing attention first and stop there (the count of all is in the sync message).
  const attention = (r: (typeof resources)[number]) => (r.status !== 'Synced' ? 0 : r.health !== 'Healthy' ? 1 : 2);
  const byAttention: (typeof resources)[] = [[], [], []];
  if (resources.length > MAX_STATUS_RESOURCES) for (const r of resources) byAttention[attention(r)]!.push(r);
  status.resources = resources.length <= MAX_STATUS_RESOURCES ? resources : byAttention.flat().slice(0, MAX_STATUS_RESOURCES);
  if (inSync || written) {
    const state: CommitState = !inSync ? 'pending' : appHealth.status === 'Healthy' ? 'success' : appHealth.status === 'Degraded' ? 'failure' : 'pending';
    const description = !inSync ? (waitingFor ?? 'syncing') : state === 'success' ? 'synced and healthy' : `synced; ${appHealth.status}${appHealth.message ? `: ${appHealth.message}` : ''}`;
    const entry = status.ledger?.find((e) => e.revision === commit);
    const serving = inSync && !entry?.servingAt && (await servesCurrentPods(deps.store, desired));
    status.ledger = record(status.ledger, commit, timestamp(now()), { synced: inSync, healthy: inSync && appHealth.status === 'Healthy', serving, state, description });
    await notify(deps.store, app, status, commit, setCondition);
  }
  await writeStatus(deps.store, app, status);
  // Remember what this reconcile saw; the status write just made is the store's latest revision
  // unless someone else wrote meanwhile (then the next poll does the full work, as it should).
  memo.seen = { commit: head, storeRevision: Number(app.metadata.resourceVersion) };
  return { result: waitingFor ? 'out-of-sync' : written ? 'synced' : inSync ? 'unchanged' : 'out-of-sync', revision: commit, plan: p, written, ...(waitingFor ? { running: true } : {}) };
}

/**
 * After the waves: the Sync hooks, then — once every object is healthy — the PostSync hooks.
 * Answers what the operation still waits for; throws HookFailure when a hook failed.
 */
async function runLaterHooks(store: Store, app: { namespace: string; name: string }, hooks: KubeObject[], runs: HookRun[], now: Date, unhealthy: () => Promise<{ what: string } | undefined>): Promise<string | undefined> {
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

/** What an action writes: the object as the store keeps it, with the live revision as precondition. */
/**
 * What the API server would give the actions' Services (ClusterIPs, NodePorts left out, proxy
 * ports: see api/services.ts): the Services as they are to be written, by action; the values other
 * Services hold as problems; and the allocation lock to write with them (none when no Service is
 * written). The actions are left as planned: an allocated value in a desired object would read,
 * to the next allocation (the wave's, or its retry after a lost race), as one the manifest asked for.
 */
async function allocateServicesIn(store: Store, cidr: Cidr, actions: Action[], now: Date): Promise<{ allocated: Map<Action, ObjectLike>; problems: string[]; lock?: TxnOp; lockRevision: number }> {
  const services = actions.filter((a): a is Exclude<Action, { type: 'prune' }> => a.type !== 'prune' && a.desired.kind === 'Service');
  if (!services.length) return { allocated: new Map(), problems: [], lockRevision: 0 };
  const allocation = await allocateServices(store, cidr, services.map((a) => ({ desired: a.desired as KubeObject & ServiceObject, previous: a.type === 'update' ? (a.live as KubeObject & ServiceObject) : undefined })), now);
  const problems = allocation.problems.map(({ index, problem }) => `Service ${services[index]!.desired.metadata.namespace ?? 'default'}/${services[index]!.desired.metadata.name} ${renderPath(problem.path)}: ${problem.message}`);
  return { allocated: new Map(services.map((a, i) => [a, allocation.services[i]!])), problems, lock: allocation.lock, lockRevision: allocation.lockRevision };
}

function txnOpOf(a: Action, now: Date, allocated?: ObjectLike): TxnOp {
  if (a.type === 'create') return { op: 'create', object: prepareCreate(structuredClone(allocated ?? a.desired) as KubeObject, now, randomUUID()) };
  if (a.type === 'update') return { op: 'update', object: prepareUpdate(a.live as KubeObject, structuredClone(allocated ?? a.desired) as KubeObject), expectedRevision: Number(a.live.metadata.resourceVersion) };
  return { op: 'delete', ref: refOf(a.live), expectedRevision: Number(a.live.metadata.resourceVersion) };
}

/** A wave whose creates do not fit their namespaces' quotas. */
class QuotaRefusal extends BerthError {
  constructor(readonly violations: Violation[]) {
    super('Forbidden', violations.map(formatViolation).join('\n'));
  }
}

/**
 * The namespaces the commit's objects go to that neither exist nor are declared by the commit: each
 * a violation at the first object that needs it; except the Application's destination namespace
 * when it says CreateNamespace=true, which is returned to be created.
 */
async function missingNamespaces(store: Store, app: ApplicationObject, objects: LoadedObject[]): Promise<{ missing: Violation[]; toCreate?: string }> {
  const declared = new Set(objects.filter((o) => o.object.kind === 'Namespace').map((o) => o.object.metadata.name));
  const wanted = new Map<string, LoadedObject>();
  for (const o of objects) {
    const ns = o.object.metadata.namespace;
    if (ns && !declared.has(ns) && !BUILTIN_NAMESPACES.includes(ns) && !wanted.has(ns) && kindInfoFor(o.object.apiVersion, o.object.kind)?.namespaced) wanted.set(ns, o);
  }
  const missing: Violation[] = [];
  let toCreate: string | undefined;
  for (const [ns, o] of wanted) {
    if (await getIfExists(store, { group: '', kind: 'Namespace', namespace: '', name: ns })) continue;
    if (ns === app.spec.destination?.namespace && syncOption(app, 'CreateNamespace')) toCreate = ns;
    else missing.push({ file: o.source.file, line: o.source.line, message: `namespace ${ns} does not exist: declare it in the commit, or set syncOptions: [CreateNamespace=true] to create the destination namespace` });
  }
  return { missing, ...(toCreate ? { toCreate } : {}) };
}

/** Creates a namespace for CreateNamespace=true (not managed by the Application: never pruned, as Argo CD's). */
async function createNamespace(store: Store, name: string, now: Date): Promise<void> {
  await store.create(prepareCreate({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } } as KubeObject, now, randomUUID())).catch((e) => {
    if (!isBerthError(e, 'AlreadyExists')) throw e;
  });
}

/** The Application's project (default: the built-in `default`). */
export const projectOf = (app: ApplicationObject): string => app.spec.project ?? DEFAULT_PROJECT_NAME;

/** An Argo CD-style sync option (`Name=true`) the Application sets. */
export const syncOption = (app: ApplicationObject, name: string): boolean => (app.spec.syncPolicy?.syncOptions ?? []).includes(`${name}=true`);

/**
 * What the commit would do that its project does not allow: the repository, then each object.
 * A project that does not exist allows nothing.
 */
async function projectViolations(store: Store, app: ApplicationObject, objects: LoadedObject[]): Promise<Violation[]> {
  const name = projectOf(app);
  const stored = await getIfExists(store, { group: 'berth.dev', kind: 'AppProject', namespace: '', name });
  if (!stored && name !== DEFAULT_PROJECT_NAME) return [{ message: `AppProject ${name} does not exist: nothing is synced until an admin creates it` }];
  const project = stored ? ((stored.spec ?? {}) as ProjectSpec) : DEFAULT_PROJECT;
  const located = objects.map((o) => ({ object: o.object as ProjectObject, source: o.source }));
  return [...checkSource(name, project, app.spec.source.repoURL), ...checkObjects(name, project, located, (apiVersion, kind) => kindInfoFor(apiVersion, kind)?.namespaced ?? true)];
}

/**
 * Pod Security at sync time, as at the API: every Pod and workload pod template of the commit
 * against the level of its namespace (as the commit declares it, else as it is live), and no
 * hostPath reaching a data directory.
 */
async function podSecurityViolations(deps: SyncDeps, objects: LoadedObject[]): Promise<Violation[]> {
  const options = deps.podSecurity ?? { defaultLevel: 'baseline' as const, protectedDirs: async () => [] };
  const declared = new Map(objects.filter((o) => o.object.kind === 'Namespace').map((o) => [o.object.metadata.name, o.object.metadata.labels as Record<string, string> | undefined]));
  // Each namespace's level is read once per sync, however many workloads it holds.
  const levels = new Map<string, Promise<PodSecurityLevel>>();
  const levelOf = (ns: string) => {
    let level = levels.get(ns);
    if (!level) {
      level = (declared.has(ns) ? Promise.resolve(declared.get(ns)) : getIfExists(deps.store, { group: '', kind: 'Namespace', namespace: '', name: ns }).then((n) => n?.metadata.labels))
        .then((labels) => enforcedLevel(labels, options.defaultLevel));
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
    for (const r of protectedHostPaths(template.spec, dirs)) out.push({ ...at, message: `${what}: ${describeProtectedPath(r)}: no pod may mount it` });
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
const podSecurityMemo = new WeakMap<object, { level: PodSecurityLevel; failures: ReturnType<typeof checkPodSecurity> }>();
function podSecurityOf(o: object, level: PodSecurityLevel, template: NonNullable<ReturnType<typeof podTemplateOf>>): ReturnType<typeof checkPodSecurity> {
  const known = podSecurityMemo.get(o);
  if (known?.level === level) return known.failures;
  const failures = checkPodSecurity(level, template.meta, template.spec);
  podSecurityMemo.set(o, { level, failures });
  return failures;
}

/** A commit someone asked to pin the app to: `app rollback` (a commit) or `app sync --revision`. */
interface PinRequest {
  /** Identifies one request: pinning to one revision twice is two requests. */
  request: string;
  commit: string;
  kind: 'rollback' | 'revision';
}

/** The pin the Application's annotations ask for, resolved to a commit (a branch or tag too). */
async function requestedPin(source: GitSource, spec: SourceSpec, app: ApplicationObject): Promise<{ ok: true; value: PinRequest } | { ok: false; condition: { reason: string; message: string } } | undefined> {
  const annotations = app.metadata.annotations ?? {};
  const rollbackTo = annotations[ROLLBACK_ANNOTATION];
  const revision = rollbackTo ?? annotations[SYNC_REVISION_ANNOTATION];
  if (!revision) return undefined;
  const resolved = await source.resolve(spec, revision);
  if (!resolved.ok) return resolved;
  const kind = rollbackTo ? 'rollback' : 'revision';
  return { ok: true, value: { request: `${revision}@${annotations[SYNC_REQUESTED_ANNOTATION] ?? ''}`, commit: resolved.value.commit, kind } };
}

/**
 * Which commit to sync: the branch head, unless a pin (a rollback, or a sync to a given revision)
 * holds an earlier one. A new pin request starts a pin (and a sync); the pin ends when the branch
 * head moves past the one it was made at, or when the request is withdrawn (`app sync --resume`).
 */
function rollbackTarget(requested: PinRequest | undefined, head: string, current: RollbackState | undefined, now: string, manualSync: boolean): { commit: string; rollback: RollbackState | undefined; start: boolean } {
  if (!requested) {
    // An automatic rollback holds like a manual one, until the branch moves on or someone syncs.
    if (current?.state === 'Paused' && current.request.startsWith('auto@') && !manualSync) {
      return head !== current.branchHead ? { commit: head, rollback: { ...current, state: 'Resumed' }, start: false } : { commit: current.revision, rollback: current, start: false };
    }
    return { commit: head, rollback: current?.state === 'Paused' ? { ...current, state: 'Resumed' } : current, start: false };
  }
  if (current?.request !== requested.request) {
    return { commit: requested.commit, rollback: { request: requested.request, revision: requested.commit, kind: requested.kind, branchHead: head, state: 'Paused', since: now }, start: true };
  }
  if (current.state === 'Paused' && head !== current.branchHead) return { commit: head, rollback: { ...current, state: 'Resumed' }, start: false };
  return { commit: current.state === 'Paused' ? current.revision : head, rollback: current, start: false };
}

/** The first earlier wave with an object that is not Healthy yet, if any. */
async function unhealthyBefore(liveNow: () => Promise<Map<string, KubeObject>>, desired: KubeObject[], wave: number, keyOf: (o: KubeObject) => string, healthOfLive: (o: KubeObject | undefined) => Health): Promise<{ wave: number; what: string } | undefined> {
  const earlier = desired.filter((d) => waveOf(d) < wave);
  if (earlier.length === 0) return undefined;
  const live = await liveNow();
  for (const d of earlier.sort((a, b) => waveOf(a) - waveOf(b))) {
    const h = healthOfLive(live.get(keyOf(d)));
    if (h.status !== 'Healthy') return { wave: waveOf(d), what: `${d.kind}/${d.metadata.name} is ${h.status}` };
  }
  return undefined;
}

/** Posts the commit's state to notify.commitStatus when it changed since the last post. */
async function notify(store: Store, app: ApplicationObject, status: ApplicationStatus, commit: string, setCondition: (type: string, c: Omit<Condition, 'type' | 'lastTransitionTime'> | undefined) => void): Promise<void> {
  const target = app.spec.notify?.commitStatus;
  const entry = status.ledger?.find((e) => e.revision === commit);
  if (!target || !entry || entry.notified === entry.state) return;
  try {
    let token: string | undefined;
    if (target.tokenSecret) {
      const data = await secretData(store, app.metadata.namespace ?? 'default', target.tokenSecret);
      const allowed = mayUseCredentials(target.tokenSecret, data, target.url);
      if (!allowed.ok) {
        setCondition('NotificationError', { status: 'True', reason: 'CredentialsRefused', message: allowed.problem });
        return;
      }
      token = data.token?.trim();
    }
    await postCommitStatus({ url: target.url, ...(token ? { token } : {}), ...(target.context ? { context: target.context } : {}) }, entry);
    entry.notified = entry.state;
    setCondition('NotificationError', undefined);
  } catch (e) {
    // Retried on the next reconcile (notified stays behind the state).
    setCondition('NotificationError', { status: 'True', reason: 'CommitStatusFailed', message: (e as Error).message });
  }
}

/** A Secret's data, decoded; empty when the Secret does not exist. */
async function secretData(store: Store, namespace: string, name: string): Promise<Record<string, string | undefined>> {
  try {
    const secret = await store.get({ group: '', kind: 'Secret', namespace, name });
    return Object.fromEntries(Object.entries((secret.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
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
  const spec: SourceSpec = { repoURL: s.repoURL, ...(s.targetRevision ? { targetRevision: s.targetRevision } : {}), ...(s.path ? { path: s.path } : {}) };
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
  const ref = { group: 'berth.dev', kind: 'Application', namespace: app.metadata.namespace ?? 'default', name: app.metadata.name };
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
