/**
 * What controllers need to know about pods, as Kubernetes' controller utilities define it: which
 * pods count (active), ready and available; the pod a template makes; and the order in which a
 * controller deletes surplus pods.
 */
import { CONDITION } from '../api/conditions.js';
import type { PodTemplateSpec } from '../api/types.gen.js';
import { controllerRef, findCondition, parseTime, randomSuffix, type Owner, type PodObject } from './objects.js';

export function isTerminated(p: { status?: { phase?: string } }): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

/** Counts toward replicas: not finished and not being deleted. */
export function isActive(p: PodObject): boolean {
  return !isTerminated(p) && !p.metadata.deletionTimestamp;
}

export function isReady(p: PodObject): boolean {
  return findCondition(p.status?.conditions, CONDITION.Ready)?.status === 'True';
}

/** Ready for at least minReadySeconds at `now`. */
export function isAvailable(p: PodObject, minReadySeconds: number, now: number): boolean {
  if (!isReady(p)) return false;
  if (!minReadySeconds) return true;
  const since = parseTime(findCondition(p.status?.conditions, CONDITION.Ready)?.lastTransitionTime);
  return since !== undefined && since + minReadySeconds * 1000 <= now;
}

/** How long until a ready pod becomes available (for a timed requeue); undefined when never or already. */
export function msUntilAvailable(p: PodObject, minReadySeconds: number, now: number): number | undefined {
  if (!minReadySeconds || !isReady(p)) return undefined;
  const since = parseTime(findCondition(p.status?.conditions, CONDITION.Ready)?.lastTransitionTime);
  if (since === undefined) return undefined;
  const left = since + minReadySeconds * 1000 - now;
  return left > 0 ? left : undefined;
}

/**
 * Names for new pods of one namespace: the prefix and five random characters (as Kubernetes'
 * generateName), drawn again while the name is taken by a pod the informer knows or was given
 * out before. Five characters make 14 million names, but 2,000 pods of one ReplicaSet still met
 * a taken one in one run of seven, and a create transaction with one taken name fails whole.
 */
export function podNamer(pods: { get(namespace: string, name: string): unknown }, namespace: string) {
  const given = new Set<string>();
  return (prefix: string): string => {
    let name: string;
    do name = `${prefix}-${randomSuffix()}`;
    while (given.has(name) || pods.get(namespace, name) !== undefined);
    given.add(name);
    return name;
  };
}

/** GetPodFromTemplate: the template's labels, annotations and spec, owned by its controller. */
export function podFromTemplate(
  template: PodTemplateSpec | undefined,
  owner: Owner,
  name: string,
  extraLabels: Record<string, string> = {},
): PodObject {
  const meta = template?.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: owner.metadata.namespace ?? 'default',
      labels: { ...(meta.labels ?? {}), ...extraLabels },
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ownerReferences: [controllerRef(owner)],
    },
    spec: structuredClone(template?.spec ?? { containers: [] }),
  } as PodObject;
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function restarts(p: PodObject): number {
  return (p.status?.containerStatuses ?? []).reduce((max, c) => Math.max(max, c.restartCount ?? 0), 0);
}

/**
 * ActivePods' order, the ones to delete first first: not yet on a node, then pending before
 * unknown before running, not ready before ready, ready for less time, more restarts, newer.
 */
export function compareForDeletion(a: PodObject, b: PodObject): number {
  const assigned = (p: PodObject) => (p.spec.nodeName ? 1 : 0);
  if (assigned(a) !== assigned(b)) return assigned(a) - assigned(b);
  const phase = (p: PodObject) => PHASE_RANK[p.status?.phase ?? 'Pending'] ?? 0;
  if (phase(a) !== phase(b)) return phase(a) - phase(b);
  const ready = (p: PodObject) => (isReady(p) ? 1 : 0);
  if (ready(a) !== ready(b)) return ready(a) - ready(b);
  if (isReady(a) && isReady(b)) {
    const since = (p: PodObject) =>
      parseTime(findCondition(p.status?.conditions, CONDITION.Ready)?.lastTransitionTime) ?? 0;
    if (since(a) !== since(b)) return since(b) - since(a);
  }
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  const created = (p: PodObject) => parseTime(p.metadata.creationTimestamp) ?? 0;
  if (created(a) !== created(b)) return created(b) - created(a);
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}
