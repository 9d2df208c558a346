/**
 * The Store: revisioned Kubernetes-style objects with compare-and-swap writes and watch, as
 * Kubernetes keeps them in etcd. Every object's metadata.resourceVersion is the store revision of
 * its last write. Errors are BerthErrors: NotFound, AlreadyExists, Conflict, Compacted, Invalid,
 * Unavailable.
 */
import type { ObjectMeta } from '../api/types.gen.js';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { name: string };
  [field: string]: unknown;
}

/** Identifies one object: group ('' for core), kind, namespace ('' or absent when cluster-scoped), name. */
export interface ObjectRef {
  group: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface KindRef {
  group: string;
  kind: string;
}

export interface ListOptions extends KindRef {
  namespace?: string;
  /** Label selector, string syntax (`app=web,tier in (a,b)`). */
  labelSelector?: string;
  /** Field selector on metadata.name, metadata.namespace, spec.nodeName, status.phase. */
  fieldSelector?: string;
  /** Page size; the result's `continue` token fetches the next page. */
  limit?: number;
  continue?: string;
}

export interface ListResult<T extends KubeObject = KubeObject> {
  items: T[];
  /** The store revision the list reflects: watch from here to follow changes without a gap. */
  revision: number;
  continue?: string;
}

export interface WriteOptions {
  /** Precondition: the object's current resourceVersion. Conflict when it differs. */
  expectedRevision?: number;
}

export type TxnOp =
  | { op: 'create'; object: KubeObject }
  | { op: 'update'; object: KubeObject; expectedRevision?: number }
  | { op: 'delete'; ref: ObjectRef; expectedRevision?: number };

export interface TxnResult {
  revision: number;
  /**
   * Per op: the object as stored, with its new resourceVersion (for deletes, as it was, at the
   * deletion's revision). Created and updated objects share nested values with the ones passed in.
   */
  results: KubeObject[];
}

export const WATCH_EVENT_TYPES = ['ADDED', 'MODIFIED', 'DELETED'] as const;
export type WatchEventType = (typeof WATCH_EVENT_TYPES)[number];

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  /** The object after the change (for DELETED, as it was, with the deletion's resourceVersion). */
  object: T;
  /** The object before the change (absent for ADDED). */
  prevObject?: T;
  revision: number;
}

export interface WatchOptions extends Partial<KindRef> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Deliver every change after this revision (a list's revision, or 0 for all retained history). */
  fromRevision: number;
  signal?: AbortSignal;
}

/** A holder's claim on a name that expires unless renewed: node heartbeats, leader election. */
export interface LeaseRecord {
  name: string;
  holder: string;
  ttlMs: number;
  /** Epoch milliseconds of the last renewal, by the renewer's clock. */
  renewTime: number;
  acquireTime: number;
}

/**
 * Leases live outside the revision log on purpose: a renewal changes nothing but a timestamp, and
 * writing one every 2 s per node would fill the log (as kine's lease rows filled its tables).
 */
export interface Leases {
  /** Takes or renews the lease; Conflict when another holder's lease has not expired. */
  acquire(name: string, holder: string, ttlMs: number, now?: number): Promise<LeaseRecord>;
  get(name: string): Promise<LeaseRecord | undefined>;
  list(): Promise<LeaseRecord[]>;
  /** Gives the lease up (only its holder can); a no-op when it is not held by `holder`. */
  release(name: string, holder: string): Promise<void>;
}

/**
 * A leader's fence (etcd): its writes apply only while its election key is still the one it
 * created, so a deposed leader that has not noticed yet cannot write (etcd's Mutex.IsOwner).
 */
export interface Fence {
  key: string;
  createRevision: number;
}

/** This server's term as leader: the fence its writes carry, and a signal that aborts when the term ends. */
export interface Leadership {
  fence: Fence;
  lost: AbortSignal;
}

/** Leader election among the servers sharing one store (etcd); a SQLite store has one server and none. */
export interface LeaderElection {
  /** Campaigns until elected (resolves with the term) or `signal` aborts (rejects). */
  campaign(signal: AbortSignal): Promise<Leadership>;
  /** The identity of the current leader, if any. */
  leader(): Promise<string | undefined>;
  /** Ends this server's term (or candidacy) at once: the next candidate is elected without waiting for the lease. */
  resign(): Promise<void>;
}

/** What one transaction may hold (etcd's --max-txn-ops and --max-request-bytes); Infinity when unbounded. */
export interface TxnLimits {
  maxOps: number;
  maxBytes: number;
}

export interface Store {
  get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T>;
  list<T extends KubeObject = KubeObject>(options: ListOptions): Promise<ListResult<T>>;
  create<T extends KubeObject>(object: T): Promise<T>;
  /** Precondition: `options.expectedRevision`, else the object's resourceVersion when set. */
  update<T extends KubeObject>(object: T, options?: WriteOptions): Promise<T>;
  delete<T extends KubeObject = KubeObject>(ref: ObjectRef, options?: WriteOptions): Promise<T>;
  /**
   * All-or-nothing: every op and precondition applies at one revision, or nothing changes.
   * More than `txnLimits` allows is refused (RequestEntityTooLarge) before anything is sent.
   */
  txn(ops: TxnOp[]): Promise<TxnResult>;
  readonly txnLimits: TxnLimits;
  /** Changes after `fromRevision`, in revision order, without gap or duplicate. */
  watch<T extends KubeObject = KubeObject>(options: WatchOptions): AsyncIterable<WatchEvent<T>>;
  /** Forgets history older than the newest `keep` revisions; returns the oldest revision kept. */
  compact(options: { keep: number }): Promise<{ oldestRevision: number }>;
  revision(): Promise<number>;
  /** The oldest revision a watch can start from. */
  oldestRevision(): Promise<number>;
  readonly leases: Leases;
  close(): Promise<void>;
}
