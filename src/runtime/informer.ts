/**
 * An informer, as client-go's: one kind listed into a cache and kept current from the store's
 * watch, re-listed (with the differences delivered as events) when the watch is compacted or
 * breaks. Controllers read the cache, never the store, and after a write wait for the cache to
 * reach that write's revision, so a second reconcile never acts on a world older than its own
 * writes (what client-go's "expectations" guard against).
 */
import { setMaxListeners } from 'node:events';
import { isBerthError } from '../api/errors.js';
import type { KindRef, KubeObject, Store, WatchEventType } from '../store/types.js';

export interface InformerEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
  prevObject?: T;
}

export type InformerHandler<T extends KubeObject> = (event: InformerEvent<T>) => void;

const RETRY_MS = 200;

export class Informer<T extends KubeObject = KubeObject> {
  private readonly byNamespace = new Map<string, Map<string, T>>();
  /** Owner uid → keys of the objects whose ownerReferences name it. */
  private readonly byOwner = new Map<string, Set<string>>();
  /** Named secondary indexes: value → keys of the objects the index function gives it for. */
  private readonly indexes = new Map<string, { of: IndexFunction<T>; keys: Map<string, Set<string>> }>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly waiters: { revision: number; resolve: () => void }[] = [];
  private revision = 0;
  private hasSynced = false;
  private markSynced!: () => void;
  /** Resolves once the first list is in the cache. */
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));

  constructor(
    private readonly store: Store,
    readonly kind: KindRef,
    private readonly onError?: (e: unknown) => void,
  ) {}

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.byNamespace.get(namespace ?? '')?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.byNamespace.get(namespace)?.values() ?? [])];
    const out: T[] = [];
    for (const objects of this.byNamespace.values()) out.push(...objects.values());
    return out;
  }

  /** The objects naming `uid` among their ownerReferences. */
  ownedBy(uid: string): T[] {
    const out: T[] = [];
    for (const k of this.byOwner.get(uid) ?? []) {
      const [namespace, name] = splitKey(k);
      const o = this.get(namespace, name);
      if (o) out.push(o);
    }
    return out;
  }

  /**
   * Adds an index (before start): `byIndex(name, value)` then finds the objects `of` maps to
   * that value (or to one of its values), e.g. pods by spec.nodeName, or by each of their labels.
   */
  addIndex(name: string, of: IndexFunction<T>): void {
    if (!this.indexes.has(name)) this.indexes.set(name, { of, keys: new Map() });
  }

  /** How many objects byIndex(name, value) would return, without building the list. */
  countByIndex(name: string, value: string): number {
    return this.indexes.get(name)?.keys.get(value)?.size ?? 0;
  }

  byIndex(name: string, value: string): T[] {
    const out: T[] = [];
    for (const k of this.indexes.get(name)?.keys.get(value) ?? []) {
      const [namespace, n] = splitKey(k);
      const o = this.get(namespace, n);
      if (o) out.push(o);
    }
    return out;
  }

  /** Resolves once the cache reflects every change of this kind up to `revision`. */
  waitFor(revision: number): Promise<void> {
    if (this.revision >= revision) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ revision, resolve }));
  }

  async start(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const { items, revision } = await this.store.list<T>(this.kind);
        this.replace(items, revision);
        for await (const e of this.store.watch<T>({ ...this.kind, fromRevision: revision, signal })) {
          this.apply(e.type, e.object, e.prevObject);
          this.advance(e.revision);
        }
      } catch (e) {
        if (signal.aborted) break;
        // Compacted or unavailable: list again after a moment; the cache stays as it was meanwhile.
        if (!isBerthError(e, 'Compacted') && !isBerthError(e, 'Unavailable')) this.onError?.(e);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
    // Nothing more will arrive: release whoever waits, they will see the signal.
    this.advance(Number.MAX_SAFE_INTEGER);
  }

  /** A fresh list: deliver what changed since the cache was last current. */
  private replace(items: T[], revision: number): void {
    const seen = new Set<string>();
    for (const o of items) {
      const k = keyOfObject(o);
      seen.add(k);
      const [namespace, name] = splitKey(k);
      const old = this.get(namespace, name);
      if (old?.metadata.resourceVersion === o.metadata.resourceVersion) continue;
      this.apply(old ? 'MODIFIED' : 'ADDED', o, old);
    }
    for (const old of this.list()) if (!seen.has(keyOfObject(old))) this.apply('DELETED', old, old);
    this.advance(revision);
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.markSynced();
    }
  }

  private apply(type: WatchEventType, object: T, prevObject: T | undefined): void {
    const k = keyOfObject(object);
    const namespace = object.metadata.namespace ?? '';
    const previous = this.byNamespace.get(namespace)?.get(object.metadata.name);
    if (previous) {
      for (const r of previous.metadata.ownerReferences ?? []) this.byOwner.get(r.uid)?.delete(k);
      for (const index of this.indexes.values())
        for (const v of valuesOf(index.of, previous)) index.keys.get(v)?.delete(k);
    }
    if (type === 'DELETED') {
      this.byNamespace.get(namespace)?.delete(object.metadata.name);
    } else {
      let objects = this.byNamespace.get(namespace);
      if (!objects) this.byNamespace.set(namespace, (objects = new Map()));
      objects.set(object.metadata.name, object);
      for (const r of object.metadata.ownerReferences ?? []) {
        let keys = this.byOwner.get(r.uid);
        if (!keys) this.byOwner.set(r.uid, (keys = new Set()));
        keys.add(k);
      }
      for (const index of this.indexes.values()) {
        for (const v of valuesOf(index.of, object)) {
          let keys = index.keys.get(v);
          if (!keys) index.keys.set(v, (keys = new Set()));
          keys.add(k);
        }
      }
    }
    const event: InformerEvent<T> = prevObject ? { type, object, prevObject } : { type, object };
    for (const h of this.handlers) h(event);
  }

  private advance(revision: number): void {
    if (revision <= this.revision) return;
    this.revision = revision;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i]!.revision <= revision) this.waiters.splice(i, 1)[0]!.resolve();
    }
  }
}

/** What an index files an object under: nothing, one value, or several. */
export type IndexFunction<T> = (o: T) => string | readonly string[] | undefined;
const valuesOf = <T>(of: IndexFunction<T>, o: T): readonly string[] => {
  const v = of(o);
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
};

const keyOfObject = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const splitKey = (k: string): [string, string] => {
  const slash = k.indexOf('/');
  return [k.slice(0, slash), k.slice(slash + 1)];
};

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
        (informer = new Informer<T>(this.store, { group: kind.group, kind: kind.kind }, this.onError)),
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
