/**
 * An informer, as client-go's: one kind listed into a cache and kept current from a watch,
 * re-listed (with the differences delivered as events) when the watch is compacted or breaks.
 * One implementation over a ListWatch, which the store (the server's controllers, the sync) and
 * the API client (the agent, the data plane) both provide. Readers use the cache, and after a
 * write wait for it to reach that write's revision, so a second reconcile never acts on a world
 * older than its own writes (what client-go's "expectations" guard against).
 */
import { isBerthError } from '../api/errors.js';
import type { ObjectMeta } from '../api/types.gen.js';

/** What an informer caches: any object with a name (and, as the API gives them, a resourceVersion). */
export type InformedObject = { metadata: ObjectMeta & { name: string } };
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** The two calls an informer makes: a list with its revision, and the changes after a revision. */
export interface ListWatch<T extends InformedObject> {
  list(): Promise<{ items: T[]; revision: number }>;
  /** Ends when the stream does; throws a Compacted BerthError when the revision is gone. */
  watch(
    fromRevision: number,
    signal: AbortSignal,
  ): AsyncIterable<{ type: WatchEventType; object: T; prevObject?: T; revision: number }>;
}

export interface InformerEvent<T extends InformedObject = InformedObject> {
  type: WatchEventType;
  object: T;
  prevObject?: T;
}

export type InformerHandler<T extends InformedObject> = (event: InformerEvent<T>) => void;

const RETRY_MS = 200;
const MAX_RETRY_MS = 5000;

export class Informer<T extends InformedObject = InformedObject> {
  private readonly byNamespace = new Map<string, Map<string, T>>();
  /**
   * Owner uid → the objects whose ownerReferences name it, by key. The indexes hold the objects
   * themselves (replaced on every change), not keys: a ReplicaSet of 2,000 pods reads them all on
   * every reconcile, and a lookup per key was most of that.
   */
  private readonly byOwner = new Map<string, Map<string, T>>();
  /** Named secondary indexes: value → the objects the index function gives it for, by key. */
  private readonly indexes = new Map<string, { of: IndexFunction<T>; keys: Map<string, Map<string, T>> }>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly waiters: { revision: number; resolve: () => void }[] = [];
  private revision = 0;
  /** The revision of the newest event applied, complete once batchPending is false (advanceAfterBatch). */
  private batchRevision = 0;
  private batchPending = false;
  private hasSynced = false;
  private markSynced!: () => void;
  /** Resolves once the first list is in the cache. */
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));

  constructor(
    private readonly source: ListWatch<T>,
    /** Which kind it holds (group '' for core). */
    readonly kind: { group: string; kind: string },
    private readonly onError?: (e: unknown) => void,
  ) {}

  /** True once the first list is in the cache. */
  get isSynced(): boolean {
    return this.hasSynced;
  }

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
    return [...(this.byOwner.get(uid)?.values() ?? [])];
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
    return [...(this.indexes.get(name)?.keys.get(value)?.values() ?? [])];
  }

  /** Resolves once the cache reflects every change of this kind up to `revision`. */
  waitFor(revision: number): Promise<void> {
    if (this.revision >= revision) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ revision, resolve }));
  }

  async start(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const { items, revision } = await this.source.list();
        this.replace(items, revision);
        failures = 0;
        // A stream that ends (a server closing a long watch) is resumed from where it was.
        for (let from = revision; !signal.aborted; from = Math.max(from, this.revision)) {
          for await (const e of this.source.watch(from, signal)) {
            // The previous object is the cache's (as client-go's informers): the store parses its own only when asked.
            this.apply(e.type, e.object);
            this.advanceAfterBatch(e.revision);
          }
        }
      } catch (e) {
        if (signal.aborted) break;
        // Compacted or unavailable: list again after a moment (longer each time it fails in a
        // row, as a server that is down is waited for); the cache stays as it was meanwhile.
        if (!isBerthError(e, 'Compacted') && !isBerthError(e, 'Unavailable')) this.onError?.(e);
        await new Promise((r) => setTimeout(r, Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** failures++)));
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

  private apply(type: WatchEventType, object: T, prevObject?: T): void {
    const k = keyOfObject(object);
    const namespace = object.metadata.namespace ?? '';
    const previous = this.byNamespace.get(namespace)?.get(object.metadata.name);
    prevObject ??= previous;
    if (previous) {
      for (const r of previous.metadata.ownerReferences ?? []) {
        const owned = this.byOwner.get(r.uid);
        owned?.delete(k);
        if (owned?.size === 0) this.byOwner.delete(r.uid);
      }
      for (const index of this.indexes.values())
        for (const v of valuesOf(index.of, previous)) {
          const objects = index.keys.get(v);
          objects?.delete(k);
          if (objects?.size === 0) index.keys.delete(v);
        }
    }
    if (type === 'DELETED') {
      this.byNamespace.get(namespace)?.delete(object.metadata.name);
    } else {
      let objects = this.byNamespace.get(namespace);
      if (!objects) this.byNamespace.set(namespace, (objects = new Map()));
      objects.set(object.metadata.name, object);
      for (const r of object.metadata.ownerReferences ?? []) {
        let owned = this.byOwner.get(r.uid);
        if (!owned) this.byOwner.set(r.uid, (owned = new Map()));
        owned.set(k, object);
      }
      for (const index of this.indexes.values()) {
        for (const v of valuesOf(index.of, object)) {
          let objects = index.keys.get(v);
          if (!objects) index.keys.set(v, (objects = new Map()));
          objects.set(k, object);
        }
      }
    }
    const event: InformerEvent<T> = prevObject ? { type, object, prevObject } : { type, object };
    for (const h of this.handlers) h(event);
  }

  /**
   * Events of one transaction share its revision, so the cache holds revision R only once the
   * last of R's events is in: every earlier revision is complete now, and R once the events that
   * are already there have been applied (they arrive without a pause, so a macrotask comes after
   * them). Advancing on R's first event let a controller that waited for its own 256 creates see
   * one of them.
   */
  private advanceAfterBatch(revision: number): void {
    this.advance(revision - 1);
    if (revision <= this.batchRevision) return;
    this.batchRevision = revision;
    if (this.batchPending) return;
    this.batchPending = true;
    setImmediate(() => {
      this.batchPending = false;
      this.advance(this.batchRevision);
    });
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

const keyOfObject = (o: InformedObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const splitKey = (k: string): [string, string] => {
  const slash = k.indexOf('/');
  return [k.slice(0, slash), k.slice(slash + 1)];
};
