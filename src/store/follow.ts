/**
 * Following a driver's own history as a change stream (memory and SQLite): read the revisions
 * after the cursor, yield them, and sleep until a commit wakes the stream (or, for changes made by
 * other processes, until a poll interval passes).
 */
import type { RevisionBatch } from './backend.js';

export class Wakeup {
  private readonly waiters = new Set<() => void>();

  wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves on the next wake(), on abort, or after `timeoutMs` when given. */
  wait(signal: AbortSignal, timeoutMs?: number): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(done);
        stopWatching();
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      this.waiters.add(done);
      const stopWatching = onAbort(signal, done);
    });
  }
}

/**
 * The callbacks waiting on each signal's abort, behind one listener per signal. The server's
 * informers all wait on one signal and every commit wakes each of them, so each wait used to add
 * and remove a listener of its own — and an AbortSignal's add and remove walk all its listeners.
 */
const abortCallbacks = new WeakMap<AbortSignal, Set<() => void>>();

function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let callbacks = abortCallbacks.get(signal);
  if (!callbacks) {
    const all = (callbacks = new Set());
    abortCallbacks.set(signal, all);
    signal.addEventListener(
      'abort',
      () => {
        for (const c of [...all]) c();
      },
      { once: true },
    );
  }
  callbacks.add(callback);
  return () => callbacks.delete(callback);
}

export async function* followHistory(
  history: (after: number) => Promise<RevisionBatch[]>,
  waitForChange: (signal: AbortSignal) => Promise<void>,
  isClosed: () => boolean,
  after: number,
  signal: AbortSignal,
): AsyncGenerator<RevisionBatch> {
  let cursor = after;
  while (!signal.aborted && !isClosed()) {
    const batches = await history(cursor);
    for (const b of batches) {
      yield b;
      cursor = b.revision;
    }
    if (batches.length === 0) await waitForChange(signal);
  }
}
