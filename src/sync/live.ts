/**
 * The live objects one Application manages. In the server, read from the informers the
 * Application controller runs (a LiveSource: the objects labelled as the app's, by an index), with
 * the app's own writes laid over them until the informers have them: nothing is listed or
 * replayed however much the cluster churns. Without informers (`berth app diff`, a reconcile
 * called directly), kept between reconciles and caught up from the store's change stream: a
 * repository of 10,000 objects is listed once, and a later reconcile reads only what changed.
 */
import { KINDS } from '../api/kinds.js';
import { INSTANCE_LABEL, objectKey } from '../diff/index.js';
import { refOf } from '../store/index.js';
import type { KubeObject, Store } from '../store/types.js';

/** A stream that goes quiet before reaching the store's revision is not trusted: list again. */
const CATCH_UP_IDLE_MS = 100;
/** Past this many changes, listing again is cheaper than replaying them. */
const CATCH_UP_MAX_EVENTS = 20_000;

/** The informers' view of the cluster, for the live view. */
export interface LiveSource {
  /** Every object labelled as this app's (app.berth.dev/instance). */
  labelled(app: string): KubeObject[];
  /** The object at this one's key (kind, namespace, name), if there is one. */
  get(o: KubeObject): KubeObject | undefined;
}

/** An app's own write, until the informers have it: the object written, or its deletion's revision. */
type Pending = { object: KubeObject; revision: number } | { deleted: KubeObject; revision: number };

export class LiveView {
  /** With a source: the app's writes the informers may not have delivered yet, by key. */
  private readonly pending = new Map<string, Pending>();

  /** By objectKey: the objects labelled as the app's, and any others at keys it asked about. */
  private objects = new Map<string, KubeObject>();
  /** The store revision the view is exact at; 0 = not loaded. */
  private revision = 0;
  /** Keys outside the app's label that the view follows (objects it may adopt or conflict with). */
  private readonly extra = new Set<string>();

  /** keyOf: objectKey, or a cached one (the same objects are asked about on every reconcile). */
  constructor(
    private readonly app: string,
    private readonly keyOf: (o: KubeObject) => string = objectKey,
    private readonly source?: LiveSource,
  ) {}

  /**
   * The live side of a plan, exact at the store's current revision: every object labelled as this
   * app's, plus whatever exists at a desired key it does not manage yet (another app's: a conflict;
   * nobody's: adopted, as Argo CD does).
   */
  async read(store: Store, desired: KubeObject[]): Promise<KubeObject[]> {
    if (this.source) return [...this.fromSource(desired).values()];
    const current = await store.revision();
    if (this.revision === 0 || !(await this.catchUp(store, current))) await this.list(store);
    for (const d of desired) {
      const key = this.keyOf(d);
      if (this.objects.has(key) || this.extra.has(key)) continue;
      // Not followed yet: read it once, and follow it from now on.
      this.extra.add(key);
      const existing = await store.get(refOf(d)).catch(() => undefined);
      if (existing) this.objects.set(key, existing);
    }
    return [...this.objects.values()];
  }

  /** Only the objects labelled as the app's, caught up to now (for health during and after a sync). */
  async managed(store: Store): Promise<Map<string, KubeObject>> {
    if (this.source) return this.fromSource([]);
    await this.read(store, []);
    const out = new Map<string, KubeObject>();
    for (const [key, o] of this.objects) if (o.metadata.labels?.[INSTANCE_LABEL] === this.app) out.set(key, o);
    return out;
  }

  /** What a transaction this app made wrote: the view stays exact without reading it back. */
  applied(written: KubeObject[], deleted: KubeObject[], revision: number): void {
    if (this.source) {
      for (const o of written)
        this.pending.set(this.keyOf(o), { object: o, revision: Number(o.metadata.resourceVersion) });
      for (const o of deleted) this.pending.set(this.keyOf(o), { deleted: o, revision });
      return;
    }
    for (const o of written) this.objects.set(this.keyOf(o), o);
    for (const o of deleted) this.objects.delete(this.keyOf(o));
    // Exact at `revision` only if nothing else happened in between; else the next read catches up
    // from the older revision (replaying our own writes is harmless).
    if (this.revision === revision - 1) this.revision = revision;
  }

  /** The informers' objects (labelled as the app's, or at a desired key), with the app's own writes over them. */
  private fromSource(desired: KubeObject[]): Map<string, KubeObject> {
    const out = new Map<string, KubeObject>();
    for (const o of this.source!.labelled(this.app)) out.set(this.keyOf(o), o);
    for (const d of desired) {
      const key = this.keyOf(d);
      if (out.has(key)) continue;
      const o = this.source!.get(d);
      if (o) out.set(key, o);
    }
    for (const [key, p] of this.pending) {
      const seen = out.get(key) ?? this.source!.get('object' in p ? p.object : p.deleted);
      const seenRevision = seen ? Number(seen.metadata.resourceVersion) : undefined;
      if ('object' in p) {
        // Written: ours until the informer shows this version or a later one.
        if (seenRevision !== undefined && seenRevision >= p.revision) this.pending.delete(key);
        else out.set(key, p.object);
      } else if (seenRevision === undefined || seenRevision > p.revision) {
        // Deleted: the informer has it gone (or made again since).
        this.pending.delete(key);
      } else out.delete(key);
    }
    return out;
  }

  private async list(store: Store): Promise<void> {
    this.objects = new Map();
    this.extra.clear();
    let revision = Infinity;
    for (const k of KINDS.filter((x) => x.declarable)) {
      const res = await store.list({ group: k.group, kind: k.kind, labelSelector: `${INSTANCE_LABEL}=${this.app}` });
      for (const o of res.items) this.objects.set(this.keyOf(o), o);
      revision = Math.min(revision, res.revision);
    }
    // Lists of different kinds may be at different revisions: catch up from the oldest.
    this.revision = revision;
  }

  /** Replays the changes after the view's revision up to `target`; false when it cannot. */
  private async catchUp(store: Store, target: number): Promise<boolean> {
    if (this.revision >= target) return true;
    const abort = new AbortController();
    const events = store.watch({ fromRevision: this.revision, signal: abort.signal })[Symbol.asyncIterator]();
    try {
      for (let seen = 0; seen < CATCH_UP_MAX_EVENTS; seen++) {
        // Short of the target, wait a little for the stream; past it, only for the rest of the
        // revision in hand (its events come without waiting), so no revision is left half-read.
        const next = await nextOrIdle(events, this.revision < target ? CATCH_UP_IDLE_MS : 0);
        // Quiet short of the target: the revision may belong to something outside the objects
        // (etcd counts lease writes), or the stream is behind. Either way a list is exact.
        if (next === 'idle') return this.revision >= target;
        if (next.done) return false;
        const e = next.value;
        const key = this.keyOf(e.object);
        const ours =
          e.type !== 'DELETED' && (e.object.metadata.labels?.[INSTANCE_LABEL] === this.app || this.extra.has(key));
        if (ours) this.objects.set(key, e.object);
        else this.objects.delete(key);
        this.revision = e.revision;
      }
      return false;
    } catch {
      // Compacted past the view's revision, or the store is unavailable: list again.
      return false;
    } finally {
      abort.abort();
      void events.return?.(undefined);
    }
  }
}

/** The stream's next event, or 'idle' when none comes within `ms` (0: none already on its way). */
async function nextOrIdle<T>(events: AsyncIterator<T>, ms: number): Promise<IteratorResult<T> | 'idle'> {
  let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  const idle = new Promise<'idle'>((resolve) => {
    timer = ms > 0 ? setTimeout(() => resolve('idle'), ms) : setImmediate(() => resolve('idle'));
  });
  try {
    return await Promise.race([events.next(), idle]);
  } finally {
    if (ms > 0) clearTimeout(timer as NodeJS.Timeout);
    else clearImmediate(timer as NodeJS.Immediate);
  }
}
