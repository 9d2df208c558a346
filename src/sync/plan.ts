/**
 * The decisions of a sync, as pure functions of what it observed: which commit (pins, rollbacks),
 * whether the commit is refused and why, what to write and whether to write it now, and — after
 * the writes — the Application's status, its ledger and history, and whether to roll back.
 * sync.ts observes and executes; everything it decides is here, tested with tables.
 */
import {
  APP_CONDITION,
  APP_REASON,
  KSTATUS_CONDITION,
  KSTATUS_REASON,
  type AppConditionType,
  type KstatusConditionType,
} from '../api/conditions.js';
import { hookPhases } from '../api/hooks.js';
import { autoscaledWorkloads, plan, type AutoscaledWorkloads, type ComparisonCache, type Plan } from '../diff/index.js';
import { worst, type Health } from '../health/index.js';
import { formatDiagnostic, type Diagnostic } from '../manifest/diagnostics.js';
import type { LoadedObject } from '../manifest/load.js';
import type { NormalizedObject } from '../manifest/normalize.js';
import type { HookRun } from '../api/types.gen.js';
import type { KubeObject } from '../store/types.js';
import { record, type CommitState } from './ledger.js';
import { DEFAULT_PROJECT_NAME, formatViolation, type Violation } from './project.js';
import type {
  ApplicationObject,
  ApplicationStatus,
  Condition,
  HistoryEntry,
  PinRequest,
  RollbackState,
} from './types.js';

const HISTORY_LIMIT = 10;
const MAX_STATUS_RESOURCES = 2000;

export type ConditionSetting = Omit<Condition, 'type' | 'lastTransitionTime'> | undefined;

/** Sets (or, given undefined, clears) a condition; as Kubernetes, lastTransitionTime moves only when its status does. */
export function setCondition(
  status: ApplicationStatus,
  type: AppConditionType | KstatusConditionType,
  c: ConditionSetting,
  now: string,
): void {
  const before = (status.conditions ?? []).find((x) => x.type === type);
  const others = (status.conditions ?? []).filter((x) => x.type !== type);
  const since = before && before.status === c?.status && before.lastTransitionTime ? before.lastTransitionTime : now;
  status.conditions = c ? [...others, { type, ...c, lastTransitionTime: since }] : others;
}

/** The status a reconcile starts from: the last one, stamped with this reconcile. */
export function beginStatus(app: ApplicationObject, syncRequest: string | undefined, now: string): ApplicationStatus {
  return {
    ...structuredClone(app.status ?? {}),
    reconciledAt: now,
    ...(app.metadata.generation ? { observedGeneration: app.metadata.generation } : {}),
    ...(syncRequest ? { lastSyncRequest: syncRequest } : {}),
  };
}

/** The source could not be read: nothing changes but the condition; the sync status keeps its revision as Unknown. */
export function sourceFailed(
  status: ApplicationStatus,
  failure: { reason: string; message: string },
  now: string,
  options: { unknownSync?: boolean } = {},
): void {
  setCondition(status, APP_CONDITION.SourceError, { status: 'True', ...failure }, now);
  if (options.unknownSync)
    status.sync = { status: 'Unknown', ...(status.sync?.revision ? { revision: status.sync.revision } : {}) };
}

/**
 * A force-push that rewrote history is not synced by itself: a person confirms it (manual sync),
 * or the branch comes back to containing what was synced. Answers the synced commit to check the
 * branch for (undefined: nothing to check).
 */
export function syncedCommitToCheck(status: ApplicationStatus, head: string, manual: boolean): string | undefined {
  const synced = status.operationState?.phase === 'Succeeded' ? status.operationState.revision : undefined;
  return synced && head !== synced && !manual ? synced : undefined;
}

export function historyRewritten(
  status: ApplicationStatus,
  app: ApplicationObject,
  head: string,
  synced: string,
  now: string,
): void {
  setCondition(
    status,
    APP_CONDITION.HistoryRewritten,
    {
      status: 'True',
      reason: APP_REASON.ForcePush,
      message: `the tracked branch no longer contains the synced commit ${synced.slice(0, 7)} (history was rewritten); nothing was applied. Run \`berth app sync ${app.metadata.name}\` to sync ${head.slice(0, 7)} anyway`,
    },
    now,
  );
  status.sync = { status: 'OutOfSync', revision: head };
}

/**
 * Which commit to sync: the branch head, unless a pin (a rollback, or a sync to a given revision)
 * holds an earlier one. A new pin request starts a pin (and a sync); the pin ends when the branch
 * head moves past the one it was made at, or when the request is withdrawn (`app sync --resume`).
 */
export function rollbackTarget(
  requested: PinRequest | undefined,
  head: string,
  current: RollbackState | undefined,
  now: string,
  manualSync: boolean,
): { commit: string; rollback: RollbackState | undefined; start: boolean } {
  if (!requested) {
    // An automatic rollback holds like a manual one, until the branch moves on or someone syncs.
    if (current?.state === 'Paused' && current.request.startsWith('auto@') && !manualSync) {
      return head !== current.branchHead
        ? { commit: head, rollback: { ...current, state: 'Resumed' }, start: false }
        : { commit: current.revision, rollback: current, start: false };
    }
    return {
      commit: head,
      rollback: current?.state === 'Paused' ? { ...current, state: 'Resumed' } : current,
      start: false,
    };
  }
  if (current?.request !== requested.request) {
    return {
      commit: requested.commit,
      rollback: {
        request: requested.request,
        revision: requested.commit,
        kind: requested.kind,
        branchHead: head,
        state: 'Paused',
        since: now,
      },
      start: true,
    };
  }
  if (current.state === 'Paused' && head !== current.branchHead)
    return { commit: head, rollback: { ...current, state: 'Resumed' }, start: false };
  return { commit: current.state === 'Paused' ? current.revision : head, rollback: current, start: false };
}

/** Records the pin in the status: RollbackActive while it holds. */
export function pinned(
  status: ApplicationStatus,
  app: ApplicationObject,
  commit: string,
  rollback: RollbackState | undefined,
  now: string,
): void {
  status.rollback = rollback;
  if (rollback?.state !== 'Paused') return setCondition(status, APP_CONDITION.RollbackActive, undefined, now);
  const what =
    rollback.kind === 'revision'
      ? `synced to ${JSON.stringify(rollback.request.slice(0, rollback.request.lastIndexOf('@')))} (${commit.slice(0, 7)}) by request`
      : `rolled back to ${commit.slice(0, 7)}`;
  setCondition(
    status,
    APP_CONDITION.RollbackActive,
    {
      status: 'True',
      reason: rollback.kind === 'revision' ? APP_REASON.PinnedRevision : APP_REASON.RolledBack,
      message: `${what}; automated sync is paused until a new commit lands on the tracked branch, or \`berth app sync ${app.metadata.name} --resume\``,
    },
    now,
  );
}

/** Why a commit is refused whole: nothing of it is written, the last good state stays. */
export interface Refusal {
  type: AppConditionType;
  reason: string;
  /** Every problem, for the condition. */
  message: string;
  /** One line, for the ledger and the commit status. */
  description: string;
  result: 'invalid' | 'conflict';
}

/** A refused commit: its condition, OutOfSync, and a failure in the ledger. */
export function refused(status: ApplicationStatus, refusal: Refusal, commit: string, now: string): void {
  setCondition(status, refusal.type, { status: 'True', reason: refusal.reason, message: refusal.message }, now);
  status.sync = { status: 'OutOfSync', revision: commit };
  status.ledger = record(status.ledger, commit, now, { state: 'failure', description: refusal.description });
}

/** What a sync observed of the commit and the cluster, for planSync. */
export interface SyncFacts {
  app: ApplicationObject;
  /** The status so far (this reconcile's; the last sync's operation and history in it). */
  status: ApplicationStatus;
  commit: string;
  /** A person asked for this sync (or a pin started it): prune and apply whatever the policy. */
  manual: boolean;
  /** The commit's objects, or the errors that refuse it. */
  errors: Diagnostic[];
  objects: LoadedObject[];
  /** Project, Pod Security and quota rules the commit breaks (observed only when it has no errors). */
  policy: Violation[];
  /** Namespaces the commit's objects need that do not exist (observed only when no policy is broken). */
  missingNamespaces: Violation[];
  /** The live objects the app manages, and any at keys the commit asks for. */
  live: KubeObject[];
  /** Normalized forms kept between plans (see diff/plan.ts). */
  cache?: ComparisonCache;
}

export interface SyncPlan {
  refusal?: Refusal;
  /** The writes, wave by wave. */
  plan: Plan;
  /** The objects kept as desired state (hooks aside), and the hooks the operation runs. */
  desired: (NormalizedObject & KubeObject)[];
  hooks: KubeObject[];
  /** Workloads an HPA of the commit scales: their replicas are the HPA's (and where Git sets them too). */
  autoscaled: AutoscaledWorkloads;
  /** How many actions the plan has. */
  pending: number;
  /** Write now: a manual sync, an operation under way, or an automated sync the policy allows. */
  apply: boolean;
  /** The operation started earlier on this commit is still running: carry on where it stopped. */
  continuing: boolean;
  /** A new operation (a new commit, or by hand): it gets a history entry. */
  newOperation: boolean;
  /** The writes revert changes made outside Git to the synced commit (automated selfHeal). */
  selfHeal?: boolean;
}

/** What a self-heal reverts, for the Application's Event: `kind/name` of each change, in plan order. */
export function selfHealed(p: SyncPlan): string[] {
  if (!p.selfHeal) return [];
  return p.plan.waves.flatMap((w) =>
    w.actions.map((a) => {
      const o = a.type === 'prune' ? a.live : a.desired;
      const verb = a.type === 'create' ? 'recreated' : a.type === 'prune' ? 'pruned' : 'restored';
      return `${o.kind.toLowerCase()}/${o.metadata?.name ?? ''} ${verb}`;
    }),
  );
}

/**
 * The sync of one commit, decided: refused (invalid, against policy, a namespace missing,
 * another app's objects, an automated prune of everything) or the plan, and whether to apply it.
 * Argo CD's rules: an automated sync applies a new commit; drift on the synced commit is reverted
 * only with selfHeal; a manual sync always applies; a rollback pin keeps its commit.
 */
export function planSync(f: SyncFacts): SyncPlan {
  const { app, status, commit, manual } = f;
  const { desired, hooks } = splitHooks(f.objects);
  const declaresReplicas = new Set(f.objects.filter((o) => o.declaresReplicas).map((o) => o.object));
  const autoscaled = autoscaledWorkloads(desired, (o) => declaresReplicas.has(o as NormalizedObject));
  const ref = { namespace: app.metadata.namespace ?? 'default', name: app.metadata.name };
  const automated = app.spec.syncPolicy?.automated;
  const empty: Plan = { waves: [], unchanged: [], requirePruning: [], conflicts: [], unmanaged: [] };
  const refuse = (refusal: Refusal, p = empty): SyncPlan => ({
    refusal,
    plan: p,
    desired,
    hooks,
    autoscaled,
    pending: 0,
    apply: false,
    continuing: false,
    newOperation: false,
  });
  const count = <T>(items: T[], one: string, many = `${one}s`) => `${items.length} ${items.length === 1 ? one : many}`;

  if (f.errors.length) {
    return refuse({
      type: APP_CONDITION.ComparisonError,
      reason: APP_REASON.InvalidManifests,
      message: f.errors.map(formatDiagnostic).join('\n'),
      description: `invalid manifests: ${count(f.errors, 'error')}, first ${formatDiagnostic(f.errors[0]!)}`,
      result: 'invalid',
    });
  }
  if (f.policy.length) {
    return refuse({
      type: APP_CONDITION.ComparisonError,
      reason: APP_REASON.PolicyViolation,
      message: f.policy.map(formatViolation).join('\n'),
      description: `refused by policy (project ${app.spec.project ?? DEFAULT_PROJECT_NAME}, pod security): ${count(f.policy, 'violation')}, first ${formatViolation(f.policy[0]!)}`,
      result: 'invalid',
    });
  }
  if (f.missingNamespaces.length) {
    return refuse({
      type: APP_CONDITION.ComparisonError,
      reason: APP_REASON.NamespaceNotFound,
      message: f.missingNamespaces.map(formatViolation).join('\n'),
      description: `namespace not found: ${formatViolation(f.missingNamespaces[0]!)}`,
      result: 'invalid',
    });
  }
  const p = plan(ref, desired, f.live, {
    prune: automated?.prune === true || manual,
    ignoreDifferences: [...(app.spec.ignoreDifferences ?? []), ...autoscaled.ignores],
    ...(f.cache ? { cache: f.cache } : {}),
    adopt: syncOption(app, 'AdoptExisting'),
  });
  if (p.conflicts.length) {
    return refuse(
      {
        type: APP_CONDITION.SharedResourceError,
        reason: APP_REASON.ManagedByAnotherApplication,
        message: p.conflicts
          .map((c) => `${c.key} is managed by Application ${c.owner.namespace}/${c.owner.name}`)
          .join('\n'),
        description: `${p.conflicts.length} object(s) belong to another Application`,
        result: 'conflict',
      },
      p,
    );
  }
  if (p.unmanaged.length) {
    return refuse(
      {
        type: APP_CONDITION.SharedResourceError,
        reason: APP_REASON.NotManaged,
        message: p.unmanaged
          .map(
            (k) =>
              `${k} exists and no Application manages it: left alone (add syncOptions: [AdoptExisting=true] to the Application's syncPolicy to take it over)`,
          )
          .join('\n'),
        description: `${p.unmanaged.length} object(s) exist unmanaged`,
        result: 'conflict',
      },
      p,
    );
  }
  // Argo CD's allowEmpty: an automated sync does not prune an Application down to nothing.
  const prunes = p.waves.reduce((n, w) => n + w.actions.filter((a) => a.type === 'prune').length, 0);
  if (desired.length === 0 && prunes > 0 && !manual && automated?.allowEmpty !== true) {
    return refuse(
      {
        type: APP_CONDITION.SyncError,
        reason: APP_REASON.EmptyCommit,
        message: `the commit has no objects: an automated sync would prune all ${prunes} of the Application's objects; refused (sync by hand, or set syncPolicy.automated.allowEmpty: true)`,
        description: `empty commit would prune all ${prunes} objects`,
        result: 'invalid',
      },
      p,
    );
  }
  const pending = p.waves.reduce((n, w) => n + w.actions.length, 0);
  const newCommit = status.sync?.revision !== commit || status.operationState?.revision !== commit;
  const continuing = status.operationState?.phase === 'Running' && status.operationState.revision === commit;
  // A sync operation with hooks runs them even when no object changes (a new commit, or by hand).
  const hooksToRun = hooks.length > 0 && (newCommit || manual || continuing);
  const apply =
    (pending > 0 || hooksToRun) &&
    (manual || continuing || (automated !== undefined && (newCommit || automated.selfHeal === true)));
  const selfHeal = apply && !manual && !continuing && !newCommit;
  return {
    plan: p,
    desired,
    hooks,
    autoscaled,
    pending,
    apply,
    continuing,
    newOperation: (newCommit || manual) && !continuing,
    ...(selfHeal ? { selfHeal } : {}),
  };
}

/** Hooks are run by a sync, not kept as desired state; Skip leaves an object out altogether. */
export function splitHooks(objects: LoadedObject[]): {
  desired: (NormalizedObject & KubeObject)[];
  hooks: KubeObject[];
} {
  const phasesOf = (o: LoadedObject) => hookPhases(o.object as KubeObject);
  return {
    desired: objects.filter((o) => !phasesOf(o)).map((o) => o.object as NormalizedObject & KubeObject),
    hooks: objects.filter((o) => phasesOf(o) && !phasesOf(o)!.includes('Skip')).map((o) => o.object as KubeObject),
  };
}

/** What executing a plan did. */
export interface Execution {
  startedAt: string;
  /** Actions written, in how many transactions, and a note when a wave could not be written in one. */
  written: number;
  splitNote: string;
  /** What the operation waits for (a wave's health, hooks): it carries on at the next reconcile. */
  waitingFor?: string;
  /** The hooks the operation has started (kept across reconciles while it runs). */
  hooks: HookRun[];
  /** Refused before anything was written (quota, a port another Service holds). */
  refusal?: Refusal;
  /** Failed on the way (a conflict, a hook); what was written stays written. */
  error?: { message: string; conflict: boolean };
}

/** What the sync saw after executing: the health of each desired object, and whether its Ingresses serve its pods. */
export interface AfterSync {
  health: Health[];
  serving: boolean;
}

/** Whether the cluster holds the commit after the sync: every action written and nothing left to prune. */
export function inSyncAfter(p: SyncPlan, x: Execution | undefined): boolean {
  return (x?.written ?? 0) === p.pending && p.plan.requirePruning.length === 0 && !x?.error && !x?.refusal;
}

export type SyncResult = 'synced' | 'unchanged' | 'out-of-sync' | 'invalid' | 'source-error' | 'conflict';

export interface Settled {
  result: SyncResult;
  /** The commit went Degraded under autoRollback: sync this one (the last healthy) instead. */
  rollBackTo?: string;
  running: boolean;
}

/**
 * The status after the sync: the operation, the history, Synced or not, health, the ledger and
 * the commit's state; and whether autoRollback undoes the commit. Mutates `status`.
 */
export function settleSync(
  status: ApplicationStatus,
  s: {
    app: ApplicationObject;
    commit: string;
    head: string;
    manual: boolean;
    autoRolledBack: boolean;
    artifact: { message?: string; author?: string };
  },
  p: SyncPlan,
  x: Execution | undefined,
  after: AfterSync | undefined,
  now: string,
): Settled {
  const { commit } = s;
  for (const type of [APP_CONDITION.ComparisonError, APP_CONDITION.SharedResourceError, APP_CONDITION.SyncError])
    setCondition(status, type, undefined, now);
  if (x?.refusal) {
    refused(status, x.refusal, commit, now);
    return { result: x.refusal.result, running: false };
  }
  const ranHooks = x?.hooks.length ? { hooks: x.hooks } : {};
  if (x?.error) {
    status.operationState = {
      phase: x.error.conflict ? 'Failed' : 'Error',
      revision: commit,
      message: x.error.message,
      startedAt: x.startedAt,
      finishedAt: now,
      ...ranHooks,
    };
    status.sync = { status: 'OutOfSync', revision: commit };
    return { result: 'out-of-sync', running: false };
  }
  if (x) {
    const applied = `applied ${x.written} change${x.written === 1 ? '' : 's'}${x.splitNote}${x.hooks.length ? `; ${x.hooks.filter((r) => r.state === 'Succeeded').length}/${x.hooks.length} hooks done` : ''}`;
    status.operationState = x.waitingFor
      ? {
          phase: 'Running',
          revision: commit,
          message: `${applied}; ${x.waitingFor}`,
          startedAt: p.continuing ? (status.operationState?.startedAt ?? x.startedAt) : x.startedAt,
          ...ranHooks,
        }
      : {
          phase: 'Succeeded',
          revision: commit,
          message: applied,
          startedAt: x.startedAt,
          finishedAt: now,
          ...ranHooks,
        };
    if (p.newOperation) {
      const history = status.history ?? [];
      const id = (history[history.length - 1]?.id ?? 0) + 1;
      const initiatedBy: HistoryEntry['initiatedBy'] =
        status.rollback?.state === 'Paused' && status.rollback.kind !== 'revision'
          ? 'rollback'
          : s.manual
            ? 'user'
            : 'auto';
      status.history = [
        ...history,
        {
          id,
          revision: commit,
          deployedAt: now,
          message: s.artifact.message,
          author: s.artifact.author,
          initiatedBy,
          outcome: 'Progressing' as const,
        },
      ].slice(-HISTORY_LIMIT);
    }
  }
  const written = x?.written ?? 0;
  const inSync = inSyncAfter(p, x);
  status.sync = { status: inSync ? 'Synced' : 'OutOfSync', revision: commit };
  const health = after?.health ?? [];
  const appHealth = worst(health);
  status.health = { status: appHealth.status, ...(appHealth.message ? { message: appHealth.message } : {}) };
  // The ledger of the latest sync: Healthy once its resources are; Degraded when they go bad.
  const latest = status.history?.[status.history.length - 1];
  if (latest && latest.revision === commit && latest.outcome !== 'Failed' && latest.outcome !== 'Healthy') {
    if (appHealth.status === 'Healthy') latest.outcome = 'Healthy';
    else if (appHealth.status === 'Degraded') latest.outcome = 'Degraded';
  }
  // autoRollback: a synced commit that went Degraded is undone, back to the last healthy one.
  const back =
    s.app.spec.syncPolicy?.autoRollback && latest?.revision === commit && latest.outcome === 'Degraded'
      ? [...(status.history ?? [])].reverse().find((h) => h.outcome === 'Healthy' && h.revision !== commit)
      : undefined;
  if (back && latest && !s.autoRolledBack) {
    latest.outcome = 'Failed';
    status.ledger = record(status.ledger, commit, now, {
      synced: true,
      state: 'failure',
      description: `Degraded (${appHealth.message ?? 'unhealthy'}): rolled back to ${back.revision.slice(0, 7)}`,
    });
    status.rollback = {
      request: `auto@${commit}`,
      revision: back.revision,
      branchHead: s.head,
      state: 'Paused',
      since: now,
    };
    status.resources ??= [];
    return { result: 'out-of-sync', rollBackTo: back.revision, running: false };
  }
  const orphans = p.plan.requirePruning;
  if (!inSync && orphans.length)
    setCondition(
      status,
      APP_CONDITION.OrphanedResourceWarning,
      {
        status: 'True',
        reason: APP_REASON.PruneDisabled,
        message: `${orphans.length} resource${orphans.length === 1 ? '' : 's'} require${orphans.length === 1 ? 's' : ''} pruning: ${orphans.join(', ')}`,
      },
      now,
    );
  else setCondition(status, APP_CONDITION.OrphanedResourceWarning, undefined, now);
  // Replicas an HPA owns are left to it; Git setting them too is said while it lasts.
  const overridden = p.autoscaled.overridden;
  setCondition(
    status,
    APP_CONDITION.AutoscaledReplicasWarning,
    overridden.length
      ? {
          status: 'True',
          reason: APP_REASON.ReplicasLeftToAutoscaler,
          message: `spec.replicas is left to the autoscaler (remove it from Git): ${overridden.join('; ')}`,
        }
      : undefined,
    now,
  );
  status.resources = statusResources(p.desired, health, inSync);
  if (inSync || written) {
    const state: CommitState = !inSync
      ? 'pending'
      : appHealth.status === 'Healthy'
        ? 'success'
        : appHealth.status === 'Degraded'
          ? 'failure'
          : 'pending';
    const entry = status.ledger?.find((e) => e.revision === commit);
    const description = !inSync
      ? (x?.waitingFor ?? 'syncing')
      : state === 'success'
        ? healthyDescription(
            p.desired.length,
            entry?.syncedAt ?? now,
            now,
            entry?.servingAt ?? (after?.serving ? now : undefined),
          )
        : `synced; ${appHealth.status}${appHealth.message ? `: ${appHealth.message}` : ''}`;
    status.ledger = record(status.ledger, commit, now, {
      synced: inSync,
      healthy: inSync && appHealth.status === 'Healthy',
      serving: after?.serving === true,
      state,
      description,
    });
  }
  return {
    result: x?.waitingFor ? 'out-of-sync' : written ? 'synced' : inSync ? 'unchanged' : 'out-of-sync',
    running: x?.waitingFor !== undefined,
  };
}

/** What a commit status says of a commit that went healthy: `synced 4 objects, healthy in 12 s, serving since 14:01:02Z`. */
export function healthyDescription(objects: number, syncedAt: string, healthyAt: string, servingAt?: string): string {
  const seconds = Math.max(0, Math.round((Date.parse(healthyAt) - Date.parse(syncedAt)) / 1000));
  return [
    `synced ${objects} object${objects === 1 ? '' : 's'}`,
    `healthy in ${seconds} s`,
    ...(servingAt ? [`serving since ${servingAt.slice(11)}`] : []),
  ].join(', ');
}

/**
 * The status's resource list. The Application must stay under the store's 1 MiB limit: past a
 * few thousand resources, it lists the ones needing attention first and stops there.
 */
function statusResources(
  desired: KubeObject[],
  health: Health[],
  inSync: boolean,
): NonNullable<ApplicationStatus['resources']> {
  const resources = desired.map((d, i) => ({
    kind: d.kind,
    ...(d.metadata.namespace ? { namespace: d.metadata.namespace } : {}),
    name: d.metadata.name,
    status: inSync ? ('Synced' as const) : ('OutOfSync' as const),
    health: health[i]?.status ?? 'Missing',
  }));
  if (resources.length <= MAX_STATUS_RESOURCES) return resources;
  const attention = (r: (typeof resources)[number]) => (r.status !== 'Synced' ? 0 : r.health !== 'Healthy' ? 1 : 2);
  const byAttention: (typeof resources)[] = [[], [], []];
  for (const r of resources) byAttention[attention(r)]!.push(r);
  return byAttention.flat().slice(0, MAX_STATUS_RESOURCES);
}

/** An Argo CD-style sync option (`Name=true`) the Application sets. */
export const syncOption = (app: ApplicationObject, name: string): boolean =>
  (app.spec.syncPolicy?.syncOptions ?? []).includes(`${name}=true`);

/** The Application's project (default: the built-in `default`). */
export const projectOf = (app: ApplicationObject): string => app.spec.project ?? DEFAULT_PROJECT_NAME;

/** Conditions no reconcile clears by itself: a new commit (or another app letting go) must. */
const STALLING: readonly string[] = [
  APP_CONDITION.ComparisonError,
  APP_CONDITION.SharedResourceError,
  APP_CONDITION.SyncError,
];

/**
 * Ready, Reconciling and Stalled, summarizing what the status already says as kstatus reads it:
 * Stalled while the commit is refused; Reconciling while a sync runs, resources progress or an
 * automated sync has yet to apply the commit; Ready when synced and healthy with neither.
 */
export function summarize(status: ApplicationStatus, app: ApplicationObject, now: string): void {
  const trueOf = (types: readonly string[]) =>
    status.conditions?.find((c) => c.status === 'True' && types.includes(c.type));
  const stalled = trueOf(STALLING);
  const sourceError = trueOf([APP_CONDITION.SourceError]);
  const health = status.health?.status;
  const synced = status.sync?.status === 'Synced';
  const revision = status.sync?.revision?.slice(0, 7) ?? '';
  const progressing =
    status.operationState?.phase === 'Running'
      ? (status.operationState.message ?? 'sync running')
      : health === 'Progressing' || health === 'Missing'
        ? (status.health?.message ?? `resources are ${health}`)
        : !synced && app.spec.syncPolicy?.automated
          ? `syncing ${revision}`
          : undefined;
  setCondition(
    status,
    KSTATUS_CONDITION.Stalled,
    stalled ? { status: 'True', reason: stalled.reason ?? stalled.type, message: stalled.message ?? '' } : undefined,
    now,
  );
  setCondition(
    status,
    KSTATUS_CONDITION.Reconciling,
    !stalled && progressing ? { status: 'True', reason: KSTATUS_REASON.Progressing, message: progressing } : undefined,
    now,
  );
  const notReady = stalled
    ? { reason: stalled.reason ?? stalled.type, message: stalled.message ?? '' }
    : sourceError
      ? { reason: sourceError.reason ?? sourceError.type, message: sourceError.message ?? '' }
      : progressing
        ? { reason: KSTATUS_REASON.Progressing, message: progressing }
        : !synced
          ? { reason: KSTATUS_REASON.OutOfSync, message: `the live objects differ from ${revision || 'the commit'}` }
          : health === 'Suspended'
            ? { reason: KSTATUS_REASON.Suspended, message: status.health?.message ?? 'a resource is suspended' }
            : health !== 'Healthy'
              ? { reason: KSTATUS_REASON.HealthCheckFailed, message: status.health?.message ?? `health is ${health}` }
              : undefined;
  setCondition(
    status,
    KSTATUS_CONDITION.Ready,
    notReady
      ? { status: 'False', ...notReady }
      : {
          status: 'True',
          reason: KSTATUS_REASON.ReconciliationSucceeded,
          message: `synced ${revision} and healthy`,
        },
    now,
  );
}
