/**
 * The node lifecycle (Kubernetes' node lifecycle controller and taint manager, pure): a node whose
 * lease is older than the grace period is `Ready=Unknown` and tainted
 * `node.kubernetes.io/unreachable` (NoSchedule and NoExecute); when its lease is renewed the
 * taints go and it is Ready again; a cordoned node carries `node.kubernetes.io/unschedulable`.
 * Pods that do not tolerate a NoExecute taint are evicted at once, those with tolerationSeconds
 * when it runs out (Berth adds no default tolerations, so the default is right at NotReady).
 */
import { CONDITION, REASON } from '../../api/conditions.js';
import { tolerates } from '../../api/scheduling.js';
import type { Condition, Taint } from '../../api/types.gen.js';
import { findCondition, parseTime, stamp, type NodeObject, type PodObject } from '../objects.js';
import { isActive } from '../pods.js';

export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';
export const UNSCHEDULABLE_TAINT = 'node.kubernetes.io/unschedulable';
export const DEFAULT_GRACE_MS = 10_000;
/** While a node is down, look again this often for its return. */
const DOWN_POLL_MS = 1000;

export interface NodePlan {
  /** New status.conditions, when they change. */
  conditions?: Condition[];
  /** New spec.taints, when they change. */
  taints?: Taint[];
  alive: boolean;
  requeueAfterMs: number;
}

export function planNode(
  node: NodeObject,
  lease: { renewTime: number } | undefined,
  now: number,
  graceMs = DEFAULT_GRACE_MS,
): NodePlan {
  const alive = lease !== undefined && now - lease.renewTime <= graceMs;
  const conditions = node.status?.conditions ?? [];
  const ready = findCondition(conditions, CONDITION.Ready);
  const plan: NodePlan = { alive, requeueAfterMs: alive ? lease!.renewTime + graceMs - now + 50 : DOWN_POLL_MS };
  const heartbeat = lease ? stamp(lease.renewTime) : undefined;
  if (!alive && ready?.status !== 'Unknown') {
    plan.conditions = replaceCondition(conditions, {
      type: CONDITION.Ready,
      status: 'Unknown',
      reason: REASON.NodeStatusUnknown,
      message: 'Kubelet stopped posting node status.',
      ...(heartbeat ? { lastHeartbeatTime: heartbeat } : {}),
      lastTransitionTime: stamp(now),
    });
  } else if (alive && ready?.status !== 'True') {
    plan.conditions = replaceCondition(conditions, {
      type: CONDITION.Ready,
      status: 'True',
      reason: REASON.KubeletReady,
      message: 'berth agent is posting ready status',
      lastHeartbeatTime: heartbeat!,
      lastTransitionTime: stamp(now),
    });
  }
  const current = node.spec?.taints ?? [];
  let taints = current.filter((t) => t.key !== UNREACHABLE_TAINT && t.key !== UNSCHEDULABLE_TAINT);
  const keep = (key: string, effect: Taint['effect']) =>
    current.find((t) => t.key === key && t.effect === effect) ?? { key, effect, timeAdded: stamp(now) };
  if (!alive) taints = [...taints, keep(UNREACHABLE_TAINT, 'NoSchedule'), keep(UNREACHABLE_TAINT, 'NoExecute')];
  if (node.spec?.unschedulable) taints = [...taints, keep(UNSCHEDULABLE_TAINT, 'NoSchedule')];
  if (JSON.stringify(taints) !== JSON.stringify(current)) plan.taints = taints;
  return plan;
}

function replaceCondition(conditions: Condition[], next: Condition): Condition[] {
  return [...conditions.filter((c) => c.type !== next.type), next];
}

export interface Evictions {
  evict: PodObject[];
  /** When the next toleration runs out. */
  requeueAfterMs?: number;
}

/** The taint manager: pods on the node that do not tolerate its NoExecute taints (or no longer). */
export function planEvictions(taints: Taint[], pods: PodObject[], now: number): Evictions {
  const noExecute = taints.filter((t) => t.effect === 'NoExecute');
  const out: Evictions = { evict: [] };
  if (!noExecute.length) return out;
  for (const pod of pods) {
    if (!isActive(pod)) continue;
    let evictAt = Infinity;
    for (const taint of noExecute) {
      const toleration = (pod.spec.tolerations ?? []).find((t) => tolerates(t, taint));
      if (!toleration) {
        evictAt = now;
        break;
      }
      if (toleration.tolerationSeconds !== undefined) {
        const since = parseTime(taint.timeAdded) ?? now;
        evictAt = Math.min(evictAt, since + Math.max(0, toleration.tolerationSeconds) * 1000);
      }
    }
    if (evictAt <= now) out.evict.push(pod);
    else if (evictAt !== Infinity) out.requeueAfterMs = Math.min(out.requeueAfterMs ?? Infinity, evictAt - now);
  }
  return out;
}
