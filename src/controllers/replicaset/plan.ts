/**
 * The ReplicaSet planner (Kubernetes' replica_set.go, pure): which pods it owns, how many to
 * create or which to delete, and the status it reports.
 */
import { CONDITION, REASON } from '../../api/conditions.js';
import type { ReplicaSetStatus } from '../../api/types.gen.js';
import { claim, type Claim } from '../claim.js';
import { findCondition, removeCondition, setCondition, type ReplicaSetObject, type PodObject } from '../objects.js';
import { compareForDeletion, isActive, isAvailable, isReady, msUntilAvailable } from '../pods.js';

/** Kubernetes' burstReplicas: at most this many creates or deletes per reconcile. */
export const BURST_REPLICAS = 500;

/** ClaimPods, as Kubernetes names it for ReplicaSets. */
export const claimPods = (owner: Parameters<typeof claim>[0], pods: PodObject[]): Claim<PodObject> =>
  claim(owner, pods);

export interface ReplicaSetPlan {
  create: number;
  /** Pods to delete, in the order Kubernetes prefers. */
  delete: PodObject[];
  status: ReplicaSetStatus;
  /** When a ready pod becomes available (minReadySeconds). */
  requeueAfterMs?: number;
}

/** manageReplicas + calculateStatus. `createError` is the message of a failed create this round. */
export function planReplicaSet(
  rs: ReplicaSetObject,
  owned: PodObject[],
  now: number,
  createError?: string,
): ReplicaSetPlan {
  const active = owned.filter(isActive);
  const want = rs.spec.replicas ?? 1;
  const diff = active.length - want;
  const plan: ReplicaSetPlan = { create: 0, delete: [], status: {} };
  if (!rs.metadata.deletionTimestamp) {
    if (diff < 0) plan.create = Math.min(-diff, BURST_REPLICAS);
    else if (diff > 0) plan.delete = [...active].sort(compareForDeletion).slice(0, Math.min(diff, BURST_REPLICAS));
  }
  plan.status = replicaSetStatus(rs, active, now, createError);
  const waits = active
    .map((p) => msUntilAvailable(p, rs.spec.minReadySeconds ?? 0, now))
    .filter((ms): ms is number => ms !== undefined);
  if (waits.length) plan.requeueAfterMs = Math.min(...waits) + 1;
  return plan;
}

export function replicaSetStatus(
  rs: ReplicaSetObject,
  active: PodObject[],
  now: number,
  createError?: string,
): ReplicaSetStatus {
  const templateLabels = rs.spec.template?.metadata?.labels ?? {};
  const fullyLabeled = active.filter((p) =>
    Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v),
  ).length;
  let conditions = rs.status?.conditions;
  if (createError) {
    conditions = setCondition(
      conditions,
      { type: CONDITION.ReplicaFailure, status: 'True', reason: REASON.FailedCreate, message: createError },
      now,
    );
  } else if (findCondition(conditions, CONDITION.ReplicaFailure)) {
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
