/**
 * Watch fan-out: one upstream change stream per store, any number of subscribers.
 *
 * The upstream's recent revisions are kept in a bounded ring; each subscriber reads the ring at
 * its own pace from its own cursor, so no subscriber buffers anything and none can slow the
 * writer. A subscriber that starts behind the ring replays from the driver's history (SQLite,
 * memory) and then joins the ring; one that falls out of the ring while live is closed with an
 * Unavailable error and re-lists, as a Kubernetes client does when its watch ends.
 */
import { BerthError } from '../api/errors.js';
import type { Backend, RevisionBatch } from './backend.js';
import { Wakeup } from './follow.js';

export interface HubOptions {
  /** Events kept for replay and for subscribers that lag a little. */
  ringEvents: number;
}

export interface HubBatch<E> {
  revision: number;
  events: E[];
}

export class WatchHub<E> {
  private readonly ring: HubBatch<E>[] = [];
  private ringEventCount = 0;
  /** The ring holds every revision in (floor, head]. */
  private floor = 0;
  private head = 0;
  private readonly wakeup = new Wakeup();
  private readonly abort = new AbortController();
  private failure: Error | undefined;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly convert: (batch: RevisionBatch) => HubBatch<E>,
    private readonly options: HubOptions,
  ) {}

  /** Starts the upstream at the store's current revision (once; later calls wait for it). */
  start(): Promise<void> {
    return (this.ready ??= (async () => {
      this.head = this.floor = await this.backend.revision();
      const upstream = await this.backend.openStream(this.head, this.abort.signal);
      void this.pump(upstream);
    })());
  }

  get window(): { floor: number; head: number } {
    return { floor: this.floor, head: this.head };
  }

  close(): void {
    this.abort.abort();
    this.wake();
  }

  private async pump(upstream: AsyncIterable<RevisionBatch>): Promise<void> {
    try {
      for await (const batch of upstream) {
        if (batch.revision <= this.head) continue;
        this.ring.push(this.convert(batch));
        this.ringEventCount += batch.events.length;
        this.head = batch.revision;
        while (this.ringEventCount > this.options.ringEvents && this.ring.length > 1) {
          const evicted = this.ring.shift()!;
          this.ringEventCount -= evicted.events.length;
          this.floor = evicted.revision;
        }
        this.wake();
      }
    } catch (e) {
      if (!this.abort.signal.aborted)
        this.failure =
          e instanceof BerthError
            ? e
            : new BerthError('Unavailable', `store watch failed: ${(e as Error).message}`, { cause: e });
    }
    this.wake();
  }

  private wake(): void {
    this.wakeup.wake();
  }

  /** Revisions after `from`, in order, each batch whole. */
  async *subscribe(from: number, signal?: AbortSignal): AsyncGenerator<HubBatch<E>> {
    await this.start();
    let cursor = from;
    let live = false;
    while (!signal?.aborted && !this.abort.signal.aborted) {
      if (this.failure) throw this.failure;
      if (cursor < this.floor) {
        if (live) {
          throw new BerthError(
            'Unavailable',
            `watch subscriber fell behind (at revision ${cursor}, oldest kept ${this.floor}); re-list and watch again`,
          );
        }
        const oldest = await this.backend.oldestRevision();
        if (!this.backend.history || cursor < oldest) {
          const available = this.backend.history ? oldest : this.floor;
          throw new BerthError(
            'Compacted',
            `revision ${from} has been compacted; the oldest revision available is ${available}`,
          );
        }
        const batches = await this.backend.history(cursor);
        if (batches.length === 0)
          throw new BerthError(
            'Compacted',
            `revision ${from} is not available; the oldest revision available is ${oldest}`,
          );
        for (const b of batches) {
          if (b.revision > cursor) {
            yield this.convert(b);
            cursor = b.revision;
          }
        }
        continue;
      }
      live = true;
      const next = this.firstAfter(cursor);
      if (next < this.ring.length) {
        // Copy the slice: the ring may shift while the consumer awaits between batches.
        const pending = this.ring.slice(next);
        for (const b of pending) {
          if (b.revision <= cursor) continue;
          if (b.revision <= this.floor && cursor < this.floor) break; // evicted meanwhile: loop re-checks
          yield b;
          cursor = b.revision;
        }
        continue;
      }
      await this.wakeup.wait(signal ?? this.abort.signal);
    }
  }

  /** Index of the first ring batch with revision > r (binary search: revisions ascend). */
  private firstAfter(r: number): number {
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ring[mid]!.revision <= r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
