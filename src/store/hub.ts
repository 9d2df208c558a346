/**
 * Watch fan-out: one upstream change stream per store, any number of subscribers.
 *
 * The upstream's recent revisions are kept in a bounded ring; each subscriber reads the ring at
 * its own pace from its own cursor, so no subscriber buffers anything and none can slow the
 * writer. A subscriber that starts behind the ring replays from the driver's history (SQLite,
 * memory) and then joins the ring; one that falls out of the ring while live is closed with an
 * Unavailable error and re-lists, as a Kubernetes client does when its watch ends.
 *
 * A subscriber may name a trigger (as the Kubernetes watch cache's indexed triggers: a node's
 * agent watches the pods with its spec.nodeName; an informer, one kind): it is woken only by
 * batches that carry its trigger, and skips the others without yielding them — nor is it closed
 * when only batches without its trigger left the ring. With 200 node watchers, waking every one
 * for every pod write was most of the API server's watch cost.
 */
import { BerthError } from '../api/errors.js';
import type { Backend, RevisionBatch } from './backend.js';
import { Wakeup } from './follow.js';

export interface HubOptions<E> {
  /** Events kept for replay and for subscribers that lag a little. */
  ringEvents: number;
  /** The triggers a live batch carries (computed once, as it arrives): subscribers to any of them see it. */
  triggersOf?: (batch: HubBatch<E>) => ReadonlySet<string>;
}

export interface HubBatch<E> {
  revision: number;
  events: E[];
  /** Set on live batches when the hub has triggersOf. */
  triggers?: ReadonlySet<string>;
}

export class WatchHub<E> {
  private readonly ring: HubBatch<E>[] = [];
  private ringEventCount = 0;
  /** The ring holds every revision in (floor, head]. */
  private floor = 0;
  private head = 0;
  private readonly wakeup = new Wakeup();
  /** One wakeup per trigger subscribed to, with how many subscribers share it. */
  private readonly triggerWakeups = new Map<string, { wakeup: Wakeup; subscribers: number }>();
  /** For each trigger, the newest revision evicted from the ring that carried it. */
  private readonly evictedWith = new Map<string, number>();
  /** The newest revision evicted without triggers computed (it may have carried any). */
  private evictedUntriggered = 0;
  private readonly abort = new AbortController();
  private failure: Error | undefined;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly convert: (batch: RevisionBatch) => HubBatch<E>,
    private readonly options: HubOptions<E>,
  ) {}

  /** Starts the upstream at the store's current revision (once; later calls wait for it). */
  start(): Promise<void> {
    return (this.ready ??= (async () => {
      this.head = this.floor = await this.backend.revision();
      const upstream = await this.backend.openStream(this.head, this.abort.signal);
      void this.pump(upstream);
    })().catch((e: unknown) => {
      this.ready = undefined; // the next watch tries again (the store may have been down)
      throw e;
    }));
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
        const converted = this.convert(batch);
        // Computed only while someone subscribes to a trigger (it may parse every event).
        if (this.options.triggersOf && this.triggerWakeups.size)
          converted.triggers = this.options.triggersOf(converted);
        this.ring.push(converted);
        this.ringEventCount += batch.events.length;
        this.head = batch.revision;
        while (this.ringEventCount > this.options.ringEvents && this.ring.length > 1) {
          const evicted = this.ring.shift()!;
          this.ringEventCount -= evicted.events.length;
          this.floor = evicted.revision;
          if (!evicted.triggers) this.evictedUntriggered = evicted.revision;
          else for (const t of evicted.triggers) this.evictedWith.set(t, evicted.revision);
        }
        this.wakeup.wake();
        for (const t of converted.triggers ?? []) this.triggerWakeups.get(t)?.wakeup.wake();
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
    for (const t of this.triggerWakeups.values()) t.wakeup.wake();
  }

  /**
   * Revisions after `from`, in order, each batch whole. With a trigger, the live batches that do
   * not carry it are skipped (replayed history comes whole: the caller filters events anyway).
   */
  async *subscribe(from: number, signal?: AbortSignal, trigger?: string): AsyncGenerator<HubBatch<E>> {
    await this.start();
    if (trigger === undefined || !this.options.triggersOf) {
      yield* this.read(from, this.wakeup, undefined, signal);
      return;
    }
    const shared = this.triggerWakeups.get(trigger) ?? { wakeup: new Wakeup(), subscribers: 0 };
    this.triggerWakeups.set(trigger, shared);
    shared.subscribers++;
    try {
      yield* this.read(from, shared.wakeup, trigger, signal);
    } finally {
      if (--shared.subscribers === 0) this.triggerWakeups.delete(trigger);
    }
  }

  private async *read(
    from: number,
    wakeup: Wakeup,
    trigger: string | undefined,
    signal?: AbortSignal,
  ): AsyncGenerator<HubBatch<E>> {
    let cursor = from;
    let live = false;
    while (!signal?.aborted && !this.abort.signal.aborted) {
      if (this.failure) throw this.failure;
      if (cursor < this.floor) {
        // Only batches without this subscriber's trigger left the ring since its cursor: nothing missed.
        const missed = Math.max(this.evictedUntriggered, this.evictedWith.get(trigger ?? '') ?? 0);
        if (live && trigger !== undefined && missed <= cursor) {
          cursor = this.floor;
          continue;
        }
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
      if (this.firstAfter(cursor) < this.ring.length) {
        // By index, found again after each yield: the ring may shift while the consumer awaits.
        for (let i = this.firstAfter(cursor); i < this.ring.length && cursor >= this.floor;) {
          const b = this.ring[i]!;
          cursor = b.revision;
          if (trigger === undefined || !b.triggers || b.triggers.has(trigger)) {
            yield b;
            i = this.firstAfter(cursor);
          } else i++;
        }
        continue;
      }
      await wakeup.wait(signal ?? this.abort.signal);
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
