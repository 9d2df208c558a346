/**
 * The DaemonSet planner (Kubernetes' daemon controller, pure): one pod per eligible node, bound
 * to it directly; eligibility by nodeSelector, required node affinity and taints, with the
 * tolerations every DaemonSet pod gets (not-ready, unreachable, pressure, unschedulable);
 * misscheduled and surplus pods removed; RollingUpdate within maxUnavailable, or with maxSurge a
 * new pod beside the old one until it is available; OnDelete replaces only deleted pods.
 */
import { nodeSelectionProblem, untoleratedTaint } from '../../api/scheduling.js';
import type { DaemonSetStatus, Toleration } from '../../api/types.gen.js';
import {
  fnv32a,
  safeEncode,
  scaledValue,
  stableJson,
  type DaemonSetObject,
  type NodeObject,
  type PodObject,
} from '../objects.js';
import { isActive, isAvailable, isReady, isTerminated, podFromTemplate } from '../pods.js';

export const REVISION_LABEL = 'controller-revision-hash';

/** What the DaemonSet controller adds to every pod's tolerations (daemon/util AddOrUpdateDaemonPodTolerations). */
export const DAEMON_TOLERATIONS: Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];
const NETWORK_UNAVAILABLE: Toleration = {
  key: 'node.kubernetes.io/network-unavailable',
  operator: 'Exists',
  effect: 'NoSchedule',
};

export function templateHash(ds: DaemonSetObject): string {
  return safeEncode(fnv32a(stableJson(ds.spec.template)));
}

export function daemonTolerations(ds: DaemonSetObject): Toleration[] {
  const own = ds.spec.template.spec?.tolerations ?? [];
  const extra = [...DAEMON_TOLERATIONS, ...(ds.spec.template.spec?.hostNetwork ? [NETWORK_UNAVAILABLE] : [])];
  return [...own, ...extra.filter((t) => !own.some((o) => o.key === t.key && o.effect === t.effect))];
}

export function shouldRun(ds: DaemonSetObject, node: NodeObject): boolean {
  const spec = ds.spec.template.spec ?? {};
  if (nodeSelectionProblem(spec, node)) return false;
  return untoleratedTaint(node.spec?.taints, daemonTolerations(ds)) === undefined;
}

export function podForNode(ds: DaemonSetObject, node: string, hash: string, name: string): PodObject {
  const pod = podFromTemplate(ds.spec.template, ds, name, { [REVISION_LABEL]: hash });
  pod.spec.nodeName = node;
  pod.spec.tolerations = daemonTolerations(ds);
  return pod;
}

export interface DaemonSetPlan {
  /** Nodes to start a pod on. */
  create: string[];
  delete: PodObject[];
  status: DaemonSetStatus;
  requeueAfterMs?: number;
}

export function planDaemonSet(ds: DaemonSetObject, nodes: NodeObject[], pods: PodObject[], now: number): DaemonSetPlan {
  const plan: DaemonSetPlan = { create: [], delete: [], status: {} };
  const hash = templateHash(ds);
  const minReady = ds.spec.minReadySeconds ?? 0;
  const byNode = new Map<string, PodObject[]>();
  for (const p of pods) {
    if (!p.spec.nodeName) continue;
    const list = byNode.get(p.spec.nodeName) ?? [];
    list.push(p);
    byNode.set(p.spec.nodeName, list);
  }
  const nodeNames = new Set(nodes.map((n) => n.metadata.name));
  const eligible = nodes.filter((n) => shouldRun(ds, n));
  const eligibleNames = new Set(eligible.map((n) => n.metadata.name));
  let misscheduled = 0;
  // Pods on nodes they should not be on, or on nodes that are gone; unbound pods are not ours to place.
  for (const [node, list] of byNode) {
    if (eligibleNames.has(node)) continue;
    const active = list.filter(isActive);
    if (nodeNames.has(node) && active.length) misscheduled++;
    plan.delete.push(...active);
  }
  for (const p of pods) if (!p.spec.nodeName && isActive(p)) plan.delete.push(p);

  const rolling = (ds.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
  const desired = eligible.length;
  const maxSurge = rolling ? scaledValue(ds.spec.updateStrategy?.rollingUpdate?.maxSurge, desired, true, 0) : 0;
  const maxUnavailable = rolling
    ? scaledValue(ds.spec.updateStrategy?.rollingUpdate?.maxUnavailable, desired, true, 1)
    : 0;
  const old: { node: string; pod: PodObject; available: boolean; newPod?: PodObject }[] = [];
  let unavailable = 0;
  for (const node of eligible) {
    const name = node.metadata.name;
    const list = byNode.get(name) ?? [];
    // Failed pods go; the next pass makes a new one.
    for (const p of list) if (isTerminated(p)) plan.delete.push(p);
    const active = list
      .filter(isActive)
      .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
    const current = active.filter((p) => p.metadata.labels?.[REVISION_LABEL] === hash);
    const outdated = active.filter((p) => p.metadata.labels?.[REVISION_LABEL] !== hash);
    if (active.length === 0) {
      plan.create.push(name);
      unavailable++;
      continue;
    }
    // One pod per node: extra current pods go (the oldest stays); surge leaves one old beside one new.
    plan.delete.push(...current.slice(1));
    if (outdated.length > 1) plan.delete.push(...outdated.slice(1));
    const oldPod = outdated[0];
    const newPod = current[0];
    if (!oldPod) {
      if (!isAvailable(newPod!, minReady, now)) unavailable++;
      continue;
    }
    if (newPod) {
      // Surging: the old pod goes once the new one is available.
      if (isAvailable(newPod, minReady, now)) plan.delete.push(oldPod);
      else if (!isAvailable(oldPod, minReady, now)) unavailable++;
      continue;
    }
    const available = isAvailable(oldPod, minReady, now);
    if (!available) unavailable++;
    old.push({ node: name, pod: oldPod, available });
  }

  if (rolling && old.length) {
    if (maxSurge > 0) {
      const surging = eligible.filter((n) => (byNode.get(n.metadata.name) ?? []).filter(isActive).length > 1).length;
      for (const o of old.slice(0, Math.max(0, maxSurge - surging))) plan.create.push(o.node);
    } else {
      // Unavailable old pods first: replacing them costs no availability.
      const ordered = [...old].sort((a, b) => Number(a.available) - Number(b.available));
      let budget = maxUnavailable - unavailable;
      for (const o of ordered) {
        if (!o.available) plan.delete.push(o.pod);
        else if (budget > 0) {
          plan.delete.push(o.pod);
          budget--;
        }
      }
    }
  }

  const scheduled = eligible.filter((n) => (byNode.get(n.metadata.name) ?? []).some(isActive));
  const available = eligible.filter((n) =>
    (byNode.get(n.metadata.name) ?? []).some((p) => isActive(p) && isAvailable(p, minReady, now)),
  ).length;
  plan.status = {
    observedGeneration: ds.metadata.generation ?? 1,
    desiredNumberScheduled: desired,
    currentNumberScheduled: scheduled.length,
    numberMisscheduled: misscheduled,
    numberReady: eligible.filter((n) => (byNode.get(n.metadata.name) ?? []).some((p) => isActive(p) && isReady(p)))
      .length,
    updatedNumberScheduled: eligible.filter((n) =>
      (byNode.get(n.metadata.name) ?? []).some((p) => isActive(p) && p.metadata.labels?.[REVISION_LABEL] === hash),
    ).length,
    numberAvailable: available,
    numberUnavailable: Math.max(0, desired - available),
  };
  return plan;
}
