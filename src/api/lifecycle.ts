/**
 * What the server sets on a write, as Kubernetes' registry does, for every writer (the API and
 * the sync engine alike): uid, creationTimestamp and generation on create, with controller-owned
 * status started afresh; on update the identity kept, status kept (writers of the spec do not
 * write status), and generation moved when the spec changed.
 */
import type { ObjectMeta } from './types.gen.js';

/** Kinds whose status only controllers and agents write: a create starts it afresh. */
const INITIAL_STATUS: Record<string, () => unknown> = {
  Pod: () => ({ phase: 'Pending' }),
  Namespace: () => ({ phase: 'Active' }),
  PersistentVolumeClaim: () => ({ phase: 'Pending' }),
  Deployment: () => ({}),
  ReplicaSet: () => ({}),
  DaemonSet: () => ({}),
  StatefulSet: () => ({}),
  Job: () => ({}),
  CronJob: () => ({}),
  Service: () => ({ loadBalancer: {} }),
  Ingress: () => ({ loadBalancer: {} }),
  Application: () => ({}),
};
const HAS_STATUS = new Set([...Object.keys(INITIAL_STATUS), 'Node']);
/**
 * Finalizers the server puts on a new object, as Kubernetes' admission does: a claim a pod uses
 * waits for the pod to go before it goes (the volume controller takes it off then).
 */
export const PVC_PROTECTION = 'kubernetes.io/pvc-protection';
const INITIAL_FINALIZERS: Record<string, string> = { PersistentVolumeClaim: PVC_PROTECTION };
const NO_GENERATION = new Set(['ConfigMap', 'Secret', 'Event', 'Endpoints']);

interface Writable {
  kind: string;
  metadata: ObjectMeta;
  status?: unknown;
}

/** Kubernetes timestamps: RFC 3339 in UTC, to the second. */
export function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function hasStatus(kind: string): boolean {
  return HAS_STATUS.has(kind);
}

/** Sets the server's fields on an object about to be created (in place). */
export function prepareCreate<T extends Writable>(obj: T, now: Date, uid: string): T {
  obj.metadata.uid = uid;
  obj.metadata.creationTimestamp = timestamp(now);
  if (!NO_GENERATION.has(obj.kind)) obj.metadata.generation = 1;
  delete obj.metadata.resourceVersion;
  delete obj.metadata.deletionTimestamp;
  const initial = INITIAL_STATUS[obj.kind];
  if (initial) obj.status = initial();
  const finalizer = INITIAL_FINALIZERS[obj.kind];
  if (finalizer && !obj.metadata.finalizers?.includes(finalizer))
    obj.metadata.finalizers = [...(obj.metadata.finalizers ?? []), finalizer];
  return obj;
}

/** The spec-and-everything-but-metadata-and-status form generation follows. */
function specOf(o: Writable): string {
  const { metadata: _m, status: _s, ...rest } = o;
  return JSON.stringify(rest);
}

/** An update of the spec (not the status subresource): identity and status kept, generation moved. */
export function prepareUpdate<T extends Writable>(current: Writable, next: T): T {
  next.metadata.uid = current.metadata.uid;
  next.metadata.creationTimestamp = current.metadata.creationTimestamp;
  if (current.metadata.deletionTimestamp) next.metadata.deletionTimestamp = current.metadata.deletionTimestamp;
  if (current.metadata.deletionGracePeriodSeconds !== undefined)
    next.metadata.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds;
  if (HAS_STATUS.has(next.kind)) next.status = current.status;
  if (!NO_GENERATION.has(next.kind)) {
    const gen = current.metadata.generation ?? 1;
    next.metadata.generation = specOf(current) === specOf(next) ? gen : gen + 1;
  }
  return next;
}

type DeletablePod = Writable & {
  spec?: { nodeName?: string; terminationGracePeriodSeconds?: number };
  status?: { phase?: string };
};

/**
 * Graceful deletion, as Kubernetes': a pod running on a node is marked (deletionTimestamp and
 * its grace period) rather than removed, so that it leaves its Services' endpoints first and its
 * agent stops it within the grace period, then removes it. Returns the marked pod, or undefined
 * when it goes at once: not on a node, finished, already marked (the agent's own final delete),
 * or a grace period of 0 asked for.
 */
export function gracefulDeletion<T extends DeletablePod>(
  pod: T,
  now: Date,
  gracePeriodSeconds?: number,
): T | undefined {
  if (pod.kind !== 'Pod' || !pod.spec?.nodeName || pod.metadata.deletionTimestamp) return undefined;
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return undefined;
  const grace = gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
  if (grace <= 0) return undefined;
  return {
    ...pod,
    metadata: { ...pod.metadata, deletionTimestamp: timestamp(now), deletionGracePeriodSeconds: grace },
  };
}

/**
 * Kubernetes' finalizers: an object that has any is not removed by a delete but marked
 * (deletionTimestamp, and a grace period of 0: nothing else to wait for), and goes when an update
 * takes its last finalizer off (see finalizedBy). Returns the marked object, or undefined when it
 * has none and goes at once.
 */
export function finalizingDeletion<T extends Writable>(obj: T, now: Date): T | undefined {
  if (!obj.metadata.finalizers?.length) return undefined;
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      deletionTimestamp: obj.metadata.deletionTimestamp ?? timestamp(now),
      deletionGracePeriodSeconds: 0,
    },
  };
}

/**
 * Whether the update of `current` to `next` ends the object: it was marked for deletion by
 * finalizingDeletion, and `next` takes its last finalizer off. A pod in its grace period (a
 * deletionGracePeriodSeconds above 0) still waits for its agent's own delete.
 */
export function finalizedBy(current: Writable, next: Writable): boolean {
  return Boolean(
    current.metadata.deletionTimestamp &&
    current.metadata.finalizers?.length &&
    !next.metadata.finalizers?.length &&
    current.metadata.deletionGracePeriodSeconds === 0,
  );
}
