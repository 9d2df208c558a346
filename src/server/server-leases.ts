/**
 * The servers as `berth get leases -n berth-system` shows them, as kube-system shows
 * kube-controller-manager's lease and one per kube-apiserver: `berth-server-NAME` for each server
 * that heartbeats (every server, leader or not), and `berth-controller-manager` held by the one
 * that runs the controllers. Like node leases, these are views of heartbeat records kept outside
 * the object log.
 */
import type { KubeObject, Store } from '../store/types.js';
import { leaseObject } from './nodes.js';

export const SERVER_LEASE_NAMESPACE = 'berth-system';
export const CONTROLLER_LEASE = 'berth-controller-manager';
const SERVER_LEASE_PREFIX = 'server/';
const STALE_AFTER_LEASES = 10;

export const serverLeaseName = (identity: string): string => `${SERVER_LEASE_PREFIX}${identity}`;
/** A server's name as a Lease's name (a DNS subdomain: `host:port` has a colon). */
const leaseNameOf = (identity: string) => `berth-server-${identity.toLowerCase().replace(/[^a-z0-9.-]+/g, '-')}`;

/**
 * The servers' leases, and the controllers' held by `leader` (on etcd, the elected one; on
 * SQLite, the one server).
 */
export async function listServerLeases(store: Store, leader: string | undefined): Promise<KubeObject[]> {
  // A server that crashed leaves its record: shown while recent (as a stale Lease), then not.
  const now = Date.now();
  const records = (await store.leases.list()).filter(
    (l) => l.name.startsWith(SERVER_LEASE_PREFIX) && l.renewTime + STALE_AFTER_LEASES * l.ttlMs > now,
  );
  const servers = records.map((l) => leaseObject(leaseNameOf(l.holder), l, SERVER_LEASE_NAMESPACE));
  const leading = records.find((l) => l.holder === leader);
  return leading ? [leaseObject(CONTROLLER_LEASE, leading, SERVER_LEASE_NAMESPACE), ...servers] : servers;
}
