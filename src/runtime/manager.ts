/**
 * The controller manager: every controller's informers started and listed before any worker
 * runs, one workqueue per controller, `workers` keys reconciled at once (never one key twice),
 * errors retried with per-key backoff, and everything drained when the signal aborts.
 */
import type { Logger } from 'pino';
import { isBerthError } from '../api/errors.js';
import type { InformerFactory } from './informer.js';
import { WorkQueue, type WorkQueueOptions } from './workqueue.js';

export interface ReconcileResult {
  /** Reconcile this key again after so long (a timer the controller is waiting on). */
  requeueAfterMs?: number;
}

export interface Controller {
  readonly name: string;
  /** How many keys it reconciles at once. */
  readonly workers?: number;
  /** Its queue's retry backoff (default: from 5 ms, doubling, to 5 min). */
  readonly backoff?: WorkQueueOptions;
  /**
   * Subscribes to the informers it reads, turning their events into keys to reconcile, now or
   * after a delay (the earliest asked for wins; a key is never queued twice).
   */
  watch(
    enqueue: (key: string) => void,
    informers: InformerFactory,
    enqueueAfter: (key: string, ms: number) => void,
  ): void;
  /** Level-triggered and idempotent: brings the world for `key` to its desired state. */
  reconcile(key: string): Promise<ReconcileResult | void>;
}

/** What the manager reports of each reconcile, for Prometheus (controller-runtime's metrics). */
export interface ReconcileObserver {
  reconciled(controller: string, result: 'success' | 'requeue' | 'error', seconds: number): void;
}

export class ControllerManager {
  private readonly queues = new Map<string, WorkQueue>();
  /** Every key each controller was given, for resync. */
  private readonly known = new Map<string, Set<string>>();

  constructor(
    private readonly informers: InformerFactory,
    private readonly controllers: Controller[],
    private readonly log?: Logger,
    private readonly observer?: ReconcileObserver,
  ) {}

  /** How many keys wait in each controller's queue (the workqueue_depth gauge). */
  depths(): Map<string, number> {
    return new Map([...this.queues].map(([name, q]) => [name, q.length]));
  }

  /** Adds a key to a controller's queue (tests and imperative triggers). */
  enqueue(controller: string, key: string): void {
    this.queues.get(controller)?.add(key);
  }

  /**
   * Reconciles every key again, as client-go's resync: nothing changed, so nothing may be written
   * (the idempotence tests check the store's revision does not move).
   */
  resync(): void {
    for (const [name, keys] of this.known) for (const k of keys) this.queues.get(name)!.add(k);
  }

  /** Resolves once every queue has been idle for `quietMs` (tests and benchmarks wait for quiet). */
  async settled(quietMs = 50): Promise<void> {
    let quietSince = Date.now();
    while (Date.now() - quietSince < quietMs) {
      await new Promise((r) => setTimeout(r, 5));
      if (![...this.queues.values()].every((q) => q.idle)) quietSince = Date.now();
    }
  }

  async start(signal: AbortSignal): Promise<void> {
    for (const c of this.controllers) {
      const queue = new WorkQueue(c.backoff);
      const known = new Set<string>();
      this.queues.set(c.name, queue);
      this.known.set(c.name, known);
      c.watch(
        (key) => {
          known.add(key);
          queue.add(key);
        },
        this.informers,
        (key, ms) => {
          known.add(key);
          queue.addAfter(key, ms);
        },
      );
    }
    signal.addEventListener(
      'abort',
      () => {
        for (const q of this.queues.values()) q.shutdown();
      },
      { once: true },
    );
    if (signal.aborted) return;
    await this.informers.start(signal);
    const workers: Promise<void>[] = [];
    for (const c of this.controllers) {
      const queue = this.queues.get(c.name)!;
      for (let i = 0; i < (c.workers ?? 1); i++) workers.push(this.work(c, queue));
    }
    await Promise.all(workers);
    await this.informers.stopped();
  }

  private async work(c: Controller, queue: WorkQueue): Promise<void> {
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      const started = performance.now();
      try {
        const result = await c.reconcile(key);
        queue.forget(key);
        if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
        this.observer?.reconciled(
          c.name,
          result?.requeueAfterMs !== undefined ? 'requeue' : 'success',
          (performance.now() - started) / 1000,
        );
      } catch (e) {
        this.observer?.reconciled(c.name, 'error', (performance.now() - started) / 1000);
        if (isBerthError(e, 'Invalid')) {
          // Retrying cannot fix an object the store refuses: say so once and wait for a change.
          this.log?.error({ controller: c.name, key, err: e }, 'reconcile failed permanently');
        } else {
          const retryInMs = queue.addRateLimited(key);
          const level =
            isBerthError(e, 'Conflict') || isBerthError(e, 'NotFound') || isBerthError(e, 'AlreadyExists')
              ? 'debug'
              : 'warn';
          this.log?.[level]({ controller: c.name, key, err: e, retryInMs }, 'reconcile failed');
        }
      } finally {
        queue.done(key);
      }
    }
  }
}
