import type { Fence, LeaderElection, TxnLimits } from './types.js';

/**
 * What a storage driver provides: strings under keys with revisions, atomic multi-key commits with
 * preconditions, and its change stream. Everything Kubernetes-shaped (objects, selectors,
 * resourceVersion, watch fan-out) lives above it in store.ts, once for every driver.
 */
export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the last write to this key. */
  revision: number;
}

export type BackendOp =
  | { type: 'create'; key: string; value: string }
  | { type: 'update'; key: string; value: string; expectedRevision?: number }
  | { type: 'delete'; key: string; expectedRevision?: number };

export interface CommitResult {
  revision: number;
  /** Per op, the value it replaced: required for deletes, optional for puts. */
  previous: (KeyValue | undefined)[];
}

export interface RawEvent {
  type: 'put' | 'delete';
  key: string;
  /** The new value (for puts). */
  value?: string;
  /** The value before (absent when the put created the key). */
  prevValue?: string;
  prevRevision?: number;
}

/** All the events of one revision (a commit), in op order. */
export interface RevisionBatch {
  revision: number;
  events: RawEvent[];
}

export interface Backend {
  readonly name: string;
  /** What one commit may hold, when the driver has a limit (etcd). */
  readonly txnLimits?: TxnLimits;
  get(key: string): Promise<KeyValue | undefined>;
  /** Every key under the prefix, in key order, at one revision; `after` skips keys ≤ it. */
  range(
    prefix: string,
    options?: { after?: string; limit?: number },
  ): Promise<{ kvs: KeyValue[]; revision: number; more: boolean }>;
  /**
   * Applies all ops at one new revision, or none: throws NotFound, AlreadyExists or Conflict; with
   * a fence (etcd), only while the fence holds, else throws NotLeader.
   */
  commit(ops: BackendOp[], fence?: Fence): Promise<CommitResult>;
  /**
   * Writes a consistent copy of the whole store to `file` while it serves (SQLite's online backup;
   * an etcd snapshot); resolves with the revision the copy is at.
   */
  backup(file: string): Promise<{ revision: number }>;
  /** Elections among the servers sharing this store, when it can be shared (etcd). */
  leaderElection?(identity: string, ttlSeconds: number): LeaderElection;
  revision(): Promise<number>;
  oldestRevision(): Promise<number>;
  /** Revisions after `after`, oldest first, each complete; ends at the newest. Optional. */
  history?(after: number): Promise<RevisionBatch[]>;
  /**
   * Opens the change stream from `after` on, for the store's single upstream; resolves once it is
   * established (no change after `after` can be missed from then on). Ends when the signal aborts.
   */
  openStream(after: number, signal: AbortSignal): Promise<AsyncIterable<RevisionBatch>>;
  compact(keep: number): Promise<number>;
  leaseGet(name: string): Promise<string | undefined>;
  leaseList(): Promise<string[]>;
  /** Sets (or deletes, when next is undefined) the lease iff its current value is `expected`. */
  leaseSwap(name: string, expected: string | undefined, next: string | undefined): Promise<boolean>;
  close(): Promise<void>;
}
