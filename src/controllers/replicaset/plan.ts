/**
 * The ReplicaSet planner (Kubernetes' replica_set.go, pure): which pods it owns, how many to
 * create or which to delete, and the status it reports.
 */
import { selectorFromObject } from '../../api/selector.js';
import type { ReplicaSetStatus } from '../../api/types.gen.js';
import { controllerOf, findCondition, removeCondition, setCondition, type ReplicaSetObject, type PodObject } from '../objects.js';
import { compareForDeletion, isActive, isAvailable, isReady, msUntilAvailable } from '../pods.js';

/** Kubernetes' burstReplicas: at most this many creates or deletes per reconcile. */
export const BURST_REPLICAS = 500;

export interface Claim {
  /** Pods it controls after adoption and release. */
  owned: PodObject[];
  /** Orphans matching its selector, to take over. */
  adopt: PodObject[];
  /** Pods it controls that no longer match its selector, to let go. */
  release: PodObject[];
}

/** ClaimPods: adopt matching orphans (unless the owner is being deleted), release non-matching. */
export function claimPods(owner: ReplicaSetObject | { metadata: ReplicaSetObject['metadata']; spec: { selector: ReplicaSetObject['spec']['selector'] } }, pods: PodObject[]): Claim {
  const selector = selectorFromObject(owner.spec.selector);
  const claim: Claim = { owned: [], adopt: [], release: [] };
  for (const p of pods) {
    const ref = controllerOf(p);
    const matches = !selector.matchesNothing && !selector.isEmpty() && selector.matches(p.metadata.labels);
    if (ref) {
      if (ref.uid !== owner.metadata.uid) continue;
      if (matches) claim.owned.push(p);
      else if (!p.metadata.deletionTimestamp) claim.release.push(p);
    } else if (matches && !owner.metadata.deletionTimestamp && !p.metadata.deletionTimestamp) {
      claim.adopt.push(p);
      claim.owned.push(p);
    }
  }
  return claim;
}

export interface ReplicaSetPlan {
  create: number;
  /** Pods to delete, in the order Kubernetes prefers. */
  delete: PodObject[];
  status: ReplicaSetStatus;
  /** When a ready pod becomes available (minReadySeconds). */
  requeueAfterMs?: number;
}

/** manageReplicas + calculateStatus. `createError` is the message of a failed create this round. */
export function planReplicaSet(rs: ReplicaSetObject, owned: PodObject[], now: number, createError?: string): ReplicaSetPlan {
  const active = owned.filter(isActive);
  const want = rs.spec.replicas ?? 1;
  const diff = active.length - want;
  const plan: ReplicaSetPlan = { create: 0, delete: [], status: {} };
  if (!rs.metadata.deletionTimestamp) {
    if (diff < 0) plan.create = Math.min(-diff, BURST_REPLICAS);
    else if (diff > 0) plan.delete = [...active].sort(compareForDeletion).slice(0, Math.min(diff, BURST_REPLICAS));
  }
  plan.status = replicaSetStatus(rs, active, now, createError);
  const waits = active.map((p) => msUntilAvailable(p, rs.spec.minReadySeconds ?? 0, now)).filter((ms): ms is number => ms !== undefined);
  if (waits.length) plan.requeueAfterMs = Math.min(...waits) + 1;
  return plan;
}

export function replicaSetStatus(rs: ReplicaSetObject, active: PodObject[], now: number, createError?: string): ReplicaSetStatus {
  const templateLabels = rs.spec.template?.metadata?.labels ?? {};
  const fullyLabeled = active.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length;
  let conditions = rs.status?.conditions;
  if (createError) {
    conditions = setCondition(conditions, { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: createError }, now);
  } else if (findCondition(conditions, 'ReplicaFailure')) {
    conditions = removeCondition(conditions, 'ReplicaFailure');
  }
  const minReady = rs.spec.minReadySeconds ?? 0;
  return {
    replicas: active.length,
    fullyLabeledReplicas: fullyLabeled,
    readyReplicas: active.filter(isReady).length,
    availableReplicas: active.filter((p) => isAvailable(p, minReady, now)).length,
    ...(rs.metadata.generation !== undefined ? { observedGeneration: rs.metadata.generation } : {}),
    ...(conditions && conditions.length ? { conditions } : {}),
  };
}
