/**
 * The server's informers: one per kind over the store (storeListWatch), shared by every
 * controller that reads it. The informer itself is src/informer/'s, the one the agent and the
 * data plane run over the API client.
 */
import { setMaxListeners } from 'node:events';
import { Informer } from '../informer/index.js';
import type { KindRef, KubeObject, Store } from '../store/types.js';

export { Informer, type IndexFunction, type InformerEvent, type InformerHandler } from '../informer/index.js';

/** A kind of the store, as an informer lists and watches it. */
export function storeListWatch<T extends KubeObject>(store: Store, kind: KindRef) {
  return {
    list: () => store.list<T>(kind),
    watch: (fromRevision: number, signal: AbortSignal) => store.watch<T>({ ...kind, fromRevision, signal }),
  };
}

/** One informer per kind, shared by every controller that reads it. */
export class InformerFactory {
  private readonly informers = new Map<string, Informer<any>>();
  private started: AbortSignal | undefined;
  private readonly running: Promise<void>[] = [];

  constructor(
    private readonly store: Store,
    private readonly onError?: (e: unknown) => void,
  ) {}

  for<T extends KubeObject = KubeObject>(kind: KindRef): Informer<T> {
    const k = `${kind.group}/${kind.kind}`;
    let informer = this.informers.get(k);
    if (!informer) {
      this.informers.set(
        k,
        (informer = new Informer<T>(
          storeListWatch<T>(this.store, kind),
          { group: kind.group, kind: kind.kind },
          this.onError,
        )),
      );
      if (this.started) this.running.push(informer.start(this.started));
    }
    return informer as Informer<T>;
  }

  /** Starts every informer (and any asked for later); resolves when all have their first list. */
  async start(signal: AbortSignal): Promise<void> {
    this.started = signal;
    // Each informer's watch listens on the one signal: many is expected, not a leak.
    setMaxListeners(0, signal);
    for (const informer of this.informers.values()) this.running.push(informer.start(signal));
    await Promise.all([...this.informers.values()].map((i) => i.synced));
  }

  /** Resolves when every informer has stopped (after the start signal aborted). */
  async stopped(): Promise<void> {
    await Promise.allSettled(this.running);
  }
}
