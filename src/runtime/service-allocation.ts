/**
 * Allocating ClusterIPs, NodePorts and proxy ports so that no two writers — two servers, a sync
 * racing an API write — can hand out the same one. What is in use is read from the Services
 * themselves; a lock object (a ConfigMap in berth-system, as Kubernetes keeps its allocation
 * bitmaps in one etcd key) is read first and written in the same transaction as the Service,
 * with its revision as the precondition. Any other allocating write in between moved it: the
 * transaction fails with Conflict and the writer allocates again from what is there now.
 * Deleting a Service frees its values without the lock (a writer that has not seen the delete
 * only skips a value that was free).
 */
import { randomUUID } from 'node:crypto';
import { isBerthError } from '../api/errors.js';
import { prepareCreate } from '../api/lifecycle.js';
import { assignServicePorts, portsInUse, type PortProblem, type ServiceObject } from '../api/services.js';
import type { Cidr } from '../api/cidr.js';
import { getIfExists } from '../store/lookup.js';
import type { KubeObject, Store, TxnOp } from '../store/types.js';

export const ALLOCATION_LOCK = {
  group: '',
  kind: 'ConfigMap',
  namespace: 'berth-system',
  name: 'service-allocations',
} as const;
/** How often a writer allocates again after losing a race before the Conflict is the caller's. */
export const ALLOCATION_ATTEMPTS = 5;

export interface ServiceAllocation<T> {
  /** The Services with what was allocated for them (in the order given). */
  services: T[];
  problems: { index: number; problem: PortProblem }[];
  /** Goes into the transaction that writes `services`. */
  lock: TxnOp;
  /** The lock's revision as read (0: there was none): whether a Conflict came from it. */
  lockRevision: number;
}

/**
 * Allocates for `services` (each with the stored Service it replaces, if any). Services not in
 * the list keep what they hold; those in it are allocated in order.
 */
export async function allocateServices<T extends KubeObject & ServiceObject>(
  store: Store,
  cidr: Cidr,
  services: { desired: T; previous?: (KubeObject & ServiceObject) | undefined }[],
  now = new Date(),
): Promise<ServiceAllocation<T>> {
  // The lock first, then the Services: an allocation written after this read moves the lock.
  const lock = await getIfExists(store, ALLOCATION_LOCK);
  const { items } = await store.list({ group: '', kind: 'Service' });
  const writing = new Set(
    services.map(({ desired }) => `${desired.metadata.namespace ?? 'default'}/${desired.metadata.name}`),
  );
  const inUse = portsInUse(
    (items as (KubeObject & ServiceObject)[]).filter(
      (s) => !writing.has(`${s.metadata.namespace ?? 'default'}/${s.metadata.name}`),
    ),
  );
  const problems: ServiceAllocation<T>['problems'] = [];
  const assigned = services.map(({ desired, previous }, index) => {
    const { service, problems: found } = assignServicePorts(desired, previous, inUse, cidr);
    for (const problem of found) problems.push({ index, problem });
    return service;
  });
  const data = { serviceCIDR: cidr.text };
  const lockOp: TxnOp = lock
    ? { op: 'update', object: { ...lock, data }, expectedRevision: Number(lock.metadata.resourceVersion) }
    : {
        op: 'create',
        object: prepareCreate(
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: ALLOCATION_LOCK.name, namespace: ALLOCATION_LOCK.namespace },
            data,
          } as KubeObject,
          now,
          randomUUID(),
        ),
      };
  return { services: assigned, problems, lock: lockOp, lockRevision: lock ? Number(lock.metadata.resourceVersion) : 0 };
}

/** After a failed transaction: whether another allocation got in first (so allocating again may succeed). */
export async function lostAllocationRace(store: Store, error: unknown, lockRevision: number): Promise<boolean> {
  if (!isBerthError(error, 'Conflict') && !isBerthError(error, 'AlreadyExists')) return false;
  const lock = await getIfExists(store, ALLOCATION_LOCK);
  return Number(lock?.metadata.resourceVersion ?? 0) !== lockRevision;
}

/** The service CIDR the cluster's allocations were made from, if any were. */
export async function recordedServiceCidr(store: Store): Promise<string | undefined> {
  const lock = await getIfExists<KubeObject & { data?: { serviceCIDR?: string } }>(store, ALLOCATION_LOCK);
  return lock?.data?.serviceCIDR;
}
