/**
 * The Deployment planner (Kubernetes' deployment controller, pure): which ReplicaSet is new, how
 * far each one is scaled this step of a RollingUpdate or Recreate rollout, revision numbers and
 * history cleanup, and the status with its Available and Progressing conditions. One reconcile
 * takes one step, as Kubernetes' does; the next ReplicaSet or pod change takes the next.
 */
import { CONDITION, REASON } from '../../api/conditions.js';
import type { DeploymentStatus, PodTemplateSpec } from '../../api/types.gen.js';
import {
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  templatesEqual,
} from '../../api/workloads.js';
import {
  controllerRef,
  fnv32a,
  findCondition,
  parseTime,
  safeEncode,
  scaledValue,
  stableJson,
  stamp,
  type DeploymentObject,
  type ReplicaSetObject,
} from '../objects.js';

export const REVISION = REVISION_ANNOTATION;
export const REVISION_HISTORY = REVISION_HISTORY_ANNOTATION;
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const POD_TEMPLATE_HASH = POD_TEMPLATE_HASH_LABEL;
export { templatesEqual };

export type DeploymentAction =
  | { type: 'create'; replicaSet: ReplicaSetObject }
  /** Sets spec.replicas (and the annotations that go with it) on an existing ReplicaSet. */
  | { type: 'scale'; name: string; replicas: number; annotations: Record<string, string> }
  | { type: 'delete'; name: string };

export interface DeploymentPlan {
  actions: DeploymentAction[];
  /** The revision annotation the Deployment should carry. */
  revision?: string;
  status: DeploymentStatus;
  /** Check again then: the progress deadline. */
  requeueAfterMs?: number;
  /** Events to record, as [type, reason, message]. */
  events: ['Normal' | 'Warning', string, string][];
}

/** The pod-template-hash: the template's FNV-1a hash, with collisionCount to escape a name clash. */
export function podTemplateHash(template: PodTemplateSpec, collisionCount = 0): string {
  return safeEncode(fnv32a(stableJson(template) + (collisionCount ? `#${collisionCount}` : '')));
}

export const revisionOf = (o: { metadata: { annotations?: Record<string, string | undefined> } }): number =>
  Number(o.metadata.annotations?.[REVISION] ?? 0) || 0;
const replicasOf = (rs: ReplicaSetObject): number => rs.spec.replicas ?? 0;
const byCreation = (a: ReplicaSetObject, b: ReplicaSetObject): number =>
  (parseTime(a.metadata.creationTimestamp) ?? 0) - (parseTime(b.metadata.creationTimestamp) ?? 0) ||
  (a.metadata.name < b.metadata.name ? -1 : 1);

/** maxSurge and maxUnavailable as numbers (surge rounds up, unavailable down; never both 0). */
export function fenceposts(d: DeploymentObject): { surge: number; unavailable: number } {
  const replicas = d.spec.replicas ?? 1;
  if (d.spec.strategy?.type === 'Recreate') return { surge: 0, unavailable: replicas };
  const ru = d.spec.strategy?.rollingUpdate;
  const surge = scaledValue(ru?.maxSurge, replicas, true, '25%');
  let unavailable = scaledValue(ru?.maxUnavailable, replicas, false, '25%');
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable: Math.min(unavailable, replicas) };
}

export interface DeploymentObserved {
  deployment: DeploymentObject;
  /** The ReplicaSets it controls. */
  replicaSets: ReplicaSetObject[];
  /** Active pods per ReplicaSet name (Recreate waits for old pods to be gone). */
  activePods: Record<string, number>;
  now: number;
}

/** Finds the new ReplicaSet (the oldest whose template matches) and the old ones. */
export function splitReplicaSets(
  d: DeploymentObject,
  replicaSets: ReplicaSetObject[],
): { newRS?: ReplicaSetObject; old: ReplicaSetObject[] } {
  const sorted = [...replicaSets].sort(byCreation);
  const newRS = sorted.find((rs) => templatesEqual(rs.spec.template, d.spec.template));
  return { ...(newRS ? { newRS } : {}), old: sorted.filter((rs) => rs !== newRS) };
}

export function planDeployment(observed: DeploymentObserved): DeploymentPlan {
  const { deployment: d, now } = observed;
  const plan: DeploymentPlan = { actions: [], status: {}, events: [] };
  const replicas = d.spec.replicas ?? 1;
  const { surge } = fenceposts(d);
  const { newRS: existingNew, old } = splitReplicaSets(d, observed.replicaSets);
  const maxOldRevision = Math.max(0, ...old.map(revisionOf));
  // The state after this step's actions, from which status is computed.
  const after = new Map(observed.replicaSets.map((rs) => [rs.metadata.name, rs]));
  const scale = (rs: ReplicaSetObject, to: number): void => {
    const annotations = {
      ...(rs.metadata.annotations ?? {}),
      [DESIRED_REPLICAS]: String(replicas),
      [MAX_REPLICAS]: String(replicas + surge),
    };
    if (rs === newRS && revisionOf(rs) !== newRevision) setRevision(annotations, rs, newRevision);
    plan.actions.push({ type: 'scale', name: rs.metadata.name, replicas: to, annotations });
    after.set(rs.metadata.name, {
      ...rs,
      metadata: { ...rs.metadata, annotations },
      spec: { ...rs.spec, replicas: to },
    });
    if (to !== replicasOf(rs))
      plan.events.push([
        'Normal',
        'ScalingReplicaSet',
        `Scaled ${to > replicasOf(rs) ? 'up' : 'down'} replica set ${rs.metadata.name} from ${replicasOf(rs)} to ${to}`,
      ]);
  };

  // The new ReplicaSet: an existing one brought to the next revision (an undo makes an old one
  // new again), or one created when the rollout may proceed.
  const newRevision =
    existingNew && revisionOf(existingNew) > maxOldRevision ? revisionOf(existingNew) : maxOldRevision + 1;
  let newRS = existingNew;
  let created = false;
  if (!newRS && !d.spec.paused) {
    const oldTotal = old.reduce((n, rs) => n + replicasOf(rs), 0);
    const initial = d.spec.strategy?.type === 'Recreate' ? 0 : newReplicaCount(replicas, surge, oldTotal, 0);
    newRS = newReplicaSet(d, newRevision, initial, surge);
    plan.actions.push({ type: 'create', replicaSet: newRS });
    after.set(newRS.metadata.name, newRS);
    created = true;
    if (initial > 0)
      plan.events.push([
        'Normal',
        'ScalingReplicaSet',
        `Scaled up replica set ${newRS.metadata.name} from 0 to ${initial}`,
      ]);
  } else if (newRS && revisionOf(newRS) !== newRevision) {
    scale(newRS, replicasOf(newRS));
  }
  if (newRS) plan.revision = String(newRevision);

  let stepped = created;
  if (d.spec.paused) {
    // Paused: scaling still follows spec.replicas, the rollout does not move.
    const active = [...old, ...(newRS ? [newRS] : [])].filter((rs) => replicasOf(rs) > 0);
    if (active.length === 1 && replicasOf(active[0]!) !== replicas) scale(active[0]!, replicas);
    else if (active.length === 0 && newRS && replicas > 0) scale(newRS, replicas);
  } else if (!created && newRS) {
    stepped =
      d.spec.strategy?.type === 'Recreate'
        ? recreateStep(observed, newRS, old, scale)
        : rollingStep(d, newRS, old, scale);
  }

  const all = [...after.values()];
  const newAfter = newRS ? after.get(newRS.metadata.name) : undefined;
  const complete = newAfter !== undefined && isComplete(d, newAfter, all);
  if (complete || d.spec.paused)
    plan.actions.push(
      ...cleanup(
        d,
        old.map((rs) => after.get(rs.metadata.name)!),
      ),
    );
  plan.status = deploymentStatus(d, newAfter, all, { created, stepped, complete, now });
  const progressing = findCondition(plan.status.conditions, CONDITION.Progressing);
  const deadline = d.spec.progressDeadlineSeconds;
  if (
    deadline !== undefined &&
    !complete &&
    !d.spec.paused &&
    progressing?.status === 'True' &&
    progressing.reason !== REASON.NewReplicaSetAvailable
  ) {
    const since = parseTime(progressing.lastUpdateTime) ?? now;
    plan.requeueAfterMs = Math.max(1, since + deadline * 1000 - now + 1);
  }
  if (
    progressing?.reason === REASON.ProgressDeadlineExceeded &&
    findCondition(d.status?.conditions, CONDITION.Progressing)?.reason !== REASON.ProgressDeadlineExceeded
  ) {
    plan.events.push(['Warning', REASON.ProgressDeadlineExceeded, progressing.message ?? '']);
  }
  return plan;
}

function setRevision(annotations: Record<string, string>, rs: ReplicaSetObject, revision: number): void {
  const previous = revisionOf(rs);
  if (previous > 0) {
    const history = annotations[REVISION_HISTORY] ? annotations[REVISION_HISTORY].split(',') : [];
    annotations[REVISION_HISTORY] = [...history, String(previous)].join(',');
  }
  annotations[REVISION] = String(revision);
}

/** NewRSNewReplicas for RollingUpdate: as many as the surge allows, up to replicas. */
export function newReplicaCount(replicas: number, surge: number, currentTotal: number, newCurrent: number): number {
  if (newCurrent >= replicas) return replicas;
  const room = replicas + surge - currentTotal;
  if (room <= 0) return newCurrent;
  return newCurrent + Math.min(room, replicas - newCurrent);
}

function newReplicaSet(d: DeploymentObject, revision: number, replicas: number, surge: number): ReplicaSetObject {
  const hash = podTemplateHash(d.spec.template, d.status?.collisionCount ?? 0);
  const template = structuredClone(d.spec.template);
  template.metadata = {
    ...(template.metadata ?? {}),
    labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH]: hash },
  };
  const selector = structuredClone(d.spec.selector);
  selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace ?? 'default',
      labels: { ...(d.spec.template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH]: hash },
      annotations: {
        ...Object.fromEntries(
          Object.entries(d.metadata.annotations ?? {}).filter(
            ([k]) =>
              !k.startsWith('deployment.kubernetes.io/') && k !== 'kubectl.kubernetes.io/last-applied-configuration',
          ),
        ),
        [REVISION]: String(revision),
        [DESIRED_REPLICAS]: String(d.spec.replicas ?? 1),
        [MAX_REPLICAS]: String((d.spec.replicas ?? 1) + surge),
      },
      ownerReferences: [controllerRef(d)],
    },
    spec: { replicas, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
  } as ReplicaSetObject;
}

type Scale = (rs: ReplicaSetObject, to: number) => void;

/** rolloutRolling: scale the new ReplicaSet up within the surge, else old ones down within availability. */
function rollingStep(d: DeploymentObject, newRS: ReplicaSetObject, old: ReplicaSetObject[], scale: Scale): boolean {
  const replicas = d.spec.replicas ?? 1;
  const { surge, unavailable } = fenceposts(d);
  const all = [newRS, ...old];
  const total = all.reduce((n, rs) => n + replicasOf(rs), 0);
  const newCount = replicasOf(newRS) > replicas ? replicas : newReplicaCount(replicas, surge, total, replicasOf(newRS));
  if (newCount !== replicasOf(newRS)) {
    scale(newRS, newCount);
    return true;
  }
  const counts = oldReplicaCounts(replicas, unavailable, newRS, old);
  let stepped = false;
  for (const rs of old) {
    if (counts.get(rs.metadata.name) === replicasOf(rs)) continue;
    scale(rs, counts.get(rs.metadata.name)!);
    stepped = true;
  }
  return stepped;
}

/**
 * reconcileOldReplicaSets: how far each old ReplicaSet may shrink now, first by its unavailable
 * pods (cleanupUnhealthyReplicas), then by available ones as far as replicas−maxUnavailable
 * allows (scaleDownOldReplicaSetsForRollingUpdate). Oldest first.
 */
export function oldReplicaCounts(
  replicas: number,
  unavailable: number,
  newRS: ReplicaSetObject,
  old: ReplicaSetObject[],
): Map<string, number> {
  const current = new Map(old.map((rs) => [rs.metadata.name, replicasOf(rs)]));
  const total = [newRS, ...old].reduce((n, rs) => n + replicasOf(rs), 0);
  const oldTotal = old.reduce((n, rs) => n + replicasOf(rs), 0);
  if (oldTotal === 0) return current;
  const minAvailable = replicas - unavailable;
  const newUnavailable = replicasOf(newRS) - (newRS.status?.availableReplicas ?? 0);
  let maxScaledDown = total - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return current;
  for (const rs of old) {
    if (maxScaledDown <= 0) break;
    const have = current.get(rs.metadata.name)!;
    const unhealthy = have - Math.min(have, rs.status?.availableReplicas ?? 0);
    if (have === 0 || unhealthy <= 0) continue;
    const down = Math.min(maxScaledDown, unhealthy);
    current.set(rs.metadata.name, have - down);
    maxScaledDown -= down;
  }
  const available = [newRS, ...old].reduce(
    (n, rs) =>
      n + Math.min(rs.status?.availableReplicas ?? 0, rs === newRS ? replicasOf(rs) : current.get(rs.metadata.name)!),
    0,
  );
  let canRemove = available - minAvailable;
  for (const rs of old) {
    if (canRemove <= 0) break;
    const have = current.get(rs.metadata.name)!;
    if (have === 0) continue;
    const down = Math.min(have, canRemove);
    current.set(rs.metadata.name, have - down);
    canRemove -= down;
  }
  return current;
}

/** rolloutRecreate: old ReplicaSets to 0, wait for their pods to go, then the new one up. */
function recreateStep(
  observed: DeploymentObserved,
  newRS: ReplicaSetObject,
  old: ReplicaSetObject[],
  scale: Scale,
): boolean {
  const replicas = observed.deployment.spec.replicas ?? 1;
  const running = old.filter((rs) => replicasOf(rs) > 0);
  if (running.length) {
    for (const rs of running) scale(rs, 0);
    return true;
  }
  if (old.some((rs) => (observed.activePods[rs.metadata.name] ?? 0) > 0 || (rs.status?.replicas ?? 0) > 0))
    return false;
  if (replicasOf(newRS) !== replicas) {
    scale(newRS, replicas);
    return true;
  }
  return false;
}

/** DeploymentComplete: every replica updated, available, and no old one left. */
function isComplete(d: DeploymentObject, newRS: ReplicaSetObject, all: ReplicaSetObject[]): boolean {
  const replicas = d.spec.replicas ?? 1;
  const total = all.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0);
  const available = all.reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0);
  return (
    replicasOf(newRS) === replicas &&
    (newRS.status?.replicas ?? 0) === replicas &&
    (newRS.status?.observedGeneration ?? 0) >= (newRS.metadata.generation ?? 0) &&
    total === replicas &&
    available >= replicas &&
    all.every((rs) => rs === newRS || replicasOf(rs) === 0)
  );
}

/** cleanupDeployment: old ReplicaSets scaled to 0 beyond revisionHistoryLimit, oldest revision first. */
function cleanup(d: DeploymentObject, old: ReplicaSetObject[]): DeploymentAction[] {
  const limit = d.spec.revisionHistoryLimit ?? 10;
  const cleanable = old
    .filter((rs) => !rs.metadata.deletionTimestamp)
    .sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
  const excess = cleanable.length - limit;
  const out: DeploymentAction[] = [];
  for (const rs of cleanable) {
    if (out.length >= excess) break;
    if (replicasOf(rs) !== 0 || (rs.status?.replicas ?? 0) !== 0) continue;
    out.push({ type: 'delete', name: rs.metadata.name });
  }
  return out;
}

interface StatusFacts {
  created: boolean;
  stepped: boolean;
  complete: boolean;
  now: number;
}

/** calculateStatus + the Available and Progressing conditions. */
export function deploymentStatus(
  d: DeploymentObject,
  newRS: ReplicaSetObject | undefined,
  all: ReplicaSetObject[],
  facts: StatusFacts,
): DeploymentStatus {
  const replicas = d.spec.replicas ?? 1;
  const { unavailable } = fenceposts(d);
  const sum = (f: (rs: ReplicaSetObject) => number) => all.reduce((n, rs) => n + f(rs), 0);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata.generation ?? 1,
    replicas: sum((rs) => rs.status?.replicas ?? 0),
    updatedReplicas: newRS?.status?.replicas ?? 0,
    readyReplicas: sum((rs) => rs.status?.readyReplicas ?? 0),
    availableReplicas: sum((rs) => rs.status?.availableReplicas ?? 0),
  };
  status.unavailableReplicas = Math.max(0, sum(replicasOf) - status.availableReplicas!);
  if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
  const old = d.status ?? {};
  const at = stamp(facts.now);
  const conditions = [...(old.conditions ?? [])];
  const put = (
    type: string,
    s: 'True' | 'False' | 'Unknown',
    reason: string,
    message: string,
    touch: boolean,
  ): void => {
    const i = conditions.findIndex((c) => c.type === type);
    const prev = i === -1 ? undefined : conditions[i]!;
    if (prev && prev.status === s && prev.reason === reason && prev.message === message && !touch) return;
    const next = {
      type,
      status: s,
      lastUpdateTime: at,
      lastTransitionTime: prev && prev.status === s ? (prev.lastTransitionTime ?? at) : at,
      reason,
      message,
    };
    if (i === -1) conditions.push(next);
    else conditions[i] = next;
  };
  const minAvailable = replicas - unavailable;
  if ((status.availableReplicas ?? 0) >= minAvailable)
    put(CONDITION.Available, 'True', REASON.MinimumReplicasAvailable, 'Deployment has minimum availability.', false);
  else
    put(
      CONDITION.Available,
      'False',
      REASON.MinimumReplicasUnavailable,
      'Deployment does not have minimum availability.',
      false,
    );

  const rsName = newRS?.metadata.name ?? '';
  const current = findCondition(old.conditions, CONDITION.Progressing);
  if (d.spec.paused) {
    put(CONDITION.Progressing, 'Unknown', REASON.DeploymentPaused, 'Deployment is paused', false);
  } else if (current?.reason === REASON.DeploymentPaused) {
    put(CONDITION.Progressing, 'Unknown', REASON.DeploymentResumed, 'Deployment is resumed', false);
  } else if (facts.complete) {
    put(
      CONDITION.Progressing,
      'True',
      REASON.NewReplicaSetAvailable,
      `ReplicaSet "${rsName}" has successfully progressed.`,
      false,
    );
  } else if (facts.created) {
    put(CONDITION.Progressing, 'True', REASON.NewReplicaSetCreated, `Created new replica set "${rsName}"`, true);
  } else if (madeProgress(old, status) || facts.stepped) {
    put(CONDITION.Progressing, 'True', REASON.ReplicaSetUpdated, `ReplicaSet "${rsName}" is progressing.`, true);
  } else if (!current) {
    put(CONDITION.Progressing, 'True', REASON.FoundNewReplicaSet, `Found new replica set "${rsName}"`, true);
  } else if (
    d.spec.progressDeadlineSeconds !== undefined &&
    current.reason !== REASON.ProgressDeadlineExceeded &&
    current.reason !== REASON.NewReplicaSetAvailable
  ) {
    const since = parseTime(current.lastUpdateTime) ?? facts.now;
    if (since + d.spec.progressDeadlineSeconds * 1000 <= facts.now) {
      put(
        CONDITION.Progressing,
        'False',
        REASON.ProgressDeadlineExceeded,
        `ReplicaSet "${rsName}" has timed out progressing.`,
        false,
      );
    }
  }
  status.conditions = conditions;
  return status;
}

/** DeploymentProgressing: more updated, ready or available replicas, or fewer old ones, than before. */
function madeProgress(before: DeploymentStatus, after: DeploymentStatus): boolean {
  const oldBefore = (before.replicas ?? 0) - (before.updatedReplicas ?? 0);
  const oldAfter = (after.replicas ?? 0) - (after.updatedReplicas ?? 0);
  return (
    (after.updatedReplicas ?? 0) > (before.updatedReplicas ?? 0) ||
    oldAfter < oldBefore ||
    (after.readyReplicas ?? 0) > (before.readyReplicas ?? 0) ||
    (after.availableReplicas ?? 0) > (before.availableReplicas ?? 0)
  );
}
