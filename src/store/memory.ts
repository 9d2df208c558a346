/** `memory:` — the whole store in this process, for unit tests and throwaway runs. */
import { BerthError } from '../api/errors.js';
import type { Backend, BackendOp, CommitResult, KeyValue, RawEvent, RevisionBatch } from './backend.js';
import { followHistory, Wakeup } from './follow.js';
import { preconditionError } from './precondition.js';

const HISTORY_PAGE = 1000;

export class MemoryBackend implements Backend {
  readonly name = 'memory';
  private readonly kv = new Map<string, KeyValue>();
  private sortedKeys: string[] = [];
  private readonly log: RevisionBatch[] = [];
  private current = 0;
  private compacted = 0;
  private readonly leases = new Map<string, string>();
  private readonly wakeup = new Wakeup();
  private closed = false;

  async get(key: string): Promise<KeyValue | undefined> {
    return this.kv.get(key);
  }

  async range(prefix: string, options: { after?: string; limit?: number } = {}) {
    let i = lowerBound(
      this.sortedKeys,
      options.after !== undefined && options.after >= prefix ? options.after + '\0' : prefix,
    );
    const kvs: KeyValue[] = [];
    for (; i < this.sortedKeys.length && this.sortedKeys[i]!.startsWith(prefix); i++) {
      if (options.limit !== undefined && kvs.length === options.limit)
        return { kvs, revision: this.current, more: true };
      kvs.push(this.kv.get(this.sortedKeys[i]!)!);
    }
    return { kvs, revision: this.current, more: false };
  }

  async backup(): Promise<{ revision: number }> {
    throw new BerthError('BadRequest', 'a memory: store is gone with its process: there is nothing to back up');
  }

  async commit(ops: BackendOp[]): Promise<CommitResult> {
    this.assertOpen();
    const previous = ops.map((op) => this.kv.get(op.key));
    ops.forEach((op, i) => {
      const err = preconditionError(op, previous[i]);
      if (err) throw err;
    });
    const revision = ++this.current;
    const events: RawEvent[] = [];
    ops.forEach((op, i) => {
      const prev = previous[i];
      if (op.type === 'delete') {
        this.kv.delete(op.key);
        this.sortedKeys.splice(lowerBound(this.sortedKeys, op.key), 1);
        events.push({ type: 'delete', key: op.key, prevValue: prev!.value, prevRevision: prev!.revision });
      } else {
        if (!prev) this.sortedKeys.splice(lowerBound(this.sortedKeys, op.key), 0, op.key);
        this.kv.set(op.key, { key: op.key, value: op.value, revision });
        events.push({
          type: 'put',
          key: op.key,
          value: op.value,
          ...(prev ? { prevValue: prev.value, prevRevision: prev.revision } : {}),
        });
      }
    });
    this.log.push({ revision, events });
    this.wakeup.wake();
    return { revision, previous };
  }

  async revision(): Promise<number> {
    return this.current;
  }

  async oldestRevision(): Promise<number> {
    return this.compacted;
  }

  async history(after: number): Promise<RevisionBatch[]> {
    if (after < this.compacted)
      throw new BerthError(
        'Compacted',
        `revision ${after} has been compacted; the oldest revision available is ${this.compacted}`,
      );
    const start = lowerBound(
      this.log.map((b) => b.revision),
      after + 1,
    );
    return this.log.slice(start, start + HISTORY_PAGE);
  }

  async openStream(after: number, signal: AbortSignal): Promise<AsyncIterable<RevisionBatch>> {
    return followHistory(
      (a) => this.history(a),
      (s) => this.wakeup.wait(s),
      () => this.closed,
      after,
      signal,
    );
  }

  async compact(keep: number): Promise<number> {
    const target = Math.max(this.compacted, this.current - keep);
    while (this.log.length > 0 && this.log[0]!.revision <= target) this.log.shift();
    this.compacted = target;
    return target;
  }

  async leaseGet(name: string): Promise<string | undefined> {
    return this.leases.get(name);
  }

  async leaseList(): Promise<string[]> {
    return [...this.leases.values()];
  }

  async leaseSwap(name: string, expected: string | undefined, next: string | undefined): Promise<boolean> {
    if (this.leases.get(name) !== expected) return false;
    if (next === undefined) this.leases.delete(name);
    else this.leases.set(name, next);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeup.wake();
  }

  private assertOpen(): void {
    if (this.closed) throw new BerthError('Unavailable', 'the store is closed');
  }
}

function lowerBound<T>(xs: readonly T[], x: T): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
