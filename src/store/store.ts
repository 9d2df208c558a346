/**
 * The Store over a Backend: objects in and out as JSON, resourceVersion from the backend's
 * revisions, selectors and paging, the 1 MiB object limit, watch through one shared hub, and
 * leases. Written once; every driver gets identical semantics (the contract suite checks it).
 */
import { BerthError } from '../api/errors.js';
import { fieldValue, parseFieldSelector, type FieldSelector } from '../api/fields.js';
import { parseSelector, type Selector } from '../api/selector.js';
import type { Backend, BackendOp, KeyValue, RawEvent, RevisionBatch } from './backend.js';
import { WatchHub, type HubBatch } from './hub.js';
import { describeRef, keyOf, kindPrefix, refOf } from './keys.js';
import { LeaseBook } from './leases.js';
import type {
  Fence,
  KubeObject,
  LeaderElection,
  ListOptions,
  ListResult,
  ObjectRef,
  Store,
  TxnLimits,
  TxnOp,
  TxnResult,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from './types.js';

/** As etcd's default request limit: larger objects belong somewhere else. */
export const MAX_OBJECT_BYTES = 1024 * 1024;

export interface StoreOptions {
  /** Events the watch hub keeps for replay and lagging subscribers. */
  watchRingEvents?: number;
}

/**
 * An upstream event, parsed on first use: the hub keeps every event for replay, but most are read
 * by no subscriber, or only by ones that skip them by key. The parsed object is held weakly: while
 * an informer holds it, every subscriber shares that one object; once superseded, the ring keeps
 * only the JSON (a ring of 10,000 pod versions held parsed was a third of a busy server's heap).
 * The previous object is held weakly too: the readers of one batch (the node triggers, the
 * selector-filtered watches; informers take it from their own caches) share one parse, and
 * nothing keeps it after them.
 */
class PreparedEvent {
  readonly type: WatchEvent['type'];
  private parsed: WeakRef<KubeObject> | undefined;
  private parsedPrev: WeakRef<KubeObject> | undefined;

  constructor(
    readonly key: string,
    private readonly raw: RawEvent,
    private readonly revision: number,
  ) {
    this.type = raw.type === 'delete' ? 'DELETED' : raw.prevValue !== undefined ? 'MODIFIED' : 'ADDED';
  }

  /** The object after the change; for a deletion, as Kubernetes reports it: the last state, at the deletion's revision. */
  get object(): KubeObject {
    let object = this.parsed?.deref();
    if (!object) {
      const value = this.raw.type === 'delete' ? (this.raw.prevValue ?? '{}') : this.raw.value!;
      object = decode({ key: this.key, value, revision: this.revision });
      this.parsed = new WeakRef(object);
    }
    return object;
  }

  get hasPrevObject(): boolean {
    return this.raw.prevValue !== undefined;
  }

  get prevObject(): KubeObject | undefined {
    if (this.raw.prevValue === undefined) return undefined;
    let prev = this.parsedPrev?.deref();
    if (!prev) {
      prev = decode({ key: this.key, value: this.raw.prevValue, revision: this.raw.prevRevision ?? 0 });
      this.parsedPrev = new WeakRef(prev);
    }
    return prev;
  }
}

export class RevisionedStore implements Store {
  readonly leases: LeaseBook;
  readonly txnLimits: TxnLimits;
  private readonly hub: WatchHub<PreparedEvent>;

  constructor(
    private readonly backend: Backend,
    options: StoreOptions = {},
  ) {
    this.txnLimits = backend.txnLimits ?? { maxOps: Infinity, maxBytes: Infinity };
    this.hub = new WatchHub(backend, (b) => prepare(b), {
      ringEvents: options.watchRingEvents ?? 10_000,
      triggersOf: batchTriggers,
    });
    this.leases = new LeaseBook(backend);
  }

  /**
   * A driver without pageable history (etcd) can only replay what the hub has seen: its hub starts
   * here, before the store is handed out, so that every revision read through this store later
   * falls inside the watch window (openStore awaits it).
   */
  async startWatching(): Promise<void> {
    if (!this.backend.history) await this.hub.start();
  }

  /** The fence every commit through this store carries (see withFence). */
  private fence: Fence | undefined;

  get driver(): string {
    return this.backend.name;
  }

  /**
   * This store as a leader writes to it: the same store (its backend, its watch hub, its
   * leases), every commit carrying `fence`, so that none applies once the term has ended. A view:
   * closing the store closes it.
   */
  withFence(fence: Fence): RevisionedStore {
    const view = Object.create(this) as RevisionedStore;
    view.fence = fence;
    return view;
  }

  /** A consistent copy of the whole store in `file`, taken while it serves (see Backend.backup). */
  backup(file: string): Promise<{ revision: number }> {
    return this.backend.backup(file);
  }

  /** Elections among the servers sharing this store; undefined when it has one server (SQLite). */
  leaderElection(identity: string, ttlSeconds: number): LeaderElection | undefined {
    return this.backend.leaderElection?.(identity, ttlSeconds);
  }

  async get<T extends KubeObject>(ref: ObjectRef): Promise<T> {
    const kv = await this.backend.get(keyOf(ref));
    if (!kv) throw new BerthError('NotFound', `${describeRef(ref)} not found`);
    return decode(kv) as T;
  }

  async list<T extends KubeObject>(options: ListOptions): Promise<ListResult<T>> {
    const labels = options.labelSelector ? parseSelector(options.labelSelector) : undefined;
    const fields = options.fieldSelector ? parseFieldSelector(options.fieldSelector) : undefined;
    let namespace = options.namespace;
    const fieldNamespace = fields?.exact('metadata.namespace');
    if (namespace === undefined && fieldNamespace !== undefined) namespace = fieldNamespace;
    const prefix = kindPrefix(options, namespace);
    const limit = options.limit && options.limit > 0 ? options.limit : undefined;
    let after = options.continue ? decodeContinue(options.continue, prefix) : undefined;

    const items: T[] = [];
    let revision = 0;
    for (;;) {
      const page = await this.backend.range(prefix, { after, limit: limit ? Math.max(limit * 2, 100) : undefined });
      revision ||= page.revision;
      for (const kv of page.kvs) {
        after = kv.key;
        const obj = decode(kv);
        if (matches(obj, labels, fields)) items.push(obj as T);
        if (limit && items.length === limit) {
          const more = page.more || kv !== page.kvs[page.kvs.length - 1];
          return { items, revision, ...(more ? { continue: encodeContinue(kv.key) } : {}) };
        }
      }
      if (!page.more) return { items, revision };
    }
  }

  async create<T extends KubeObject>(object: T): Promise<T> {
    return (await this.txn([{ op: 'create', object }])).results[0] as T;
  }

  async update<T extends KubeObject>(object: T, options: WriteOptions = {}): Promise<T> {
    return (
      await this.txn([{ op: 'update', object, expectedRevision: options.expectedRevision ?? revisionOf(object) }])
    ).results[0] as T;
  }

  async delete<T extends KubeObject>(ref: ObjectRef, options: WriteOptions = {}): Promise<T> {
    return (await this.txn([{ op: 'delete', ref, expectedRevision: options.expectedRevision }])).results[0] as T;
  }

  async txn(ops: TxnOp[]): Promise<TxnResult> {
    if (ops.length === 0) return { revision: await this.backend.revision(), results: [] };
    const keys = new Set<string>();
    const backendOps = ops.map((op) => {
      const backendOp = backendOpOf(op);
      if (keys.has(backendOp.key))
        throw new BerthError('Invalid', `a transaction may write ${backendOp.key} only once`);
      keys.add(backendOp.key);
      return backendOp;
    });
    refuseOversized(backendOps, this.txnLimits, this.backend.name);
    const { revision, previous } = await this.backend.commit(backendOps, this.fence);
    const results = backendOps.map((op, i) => {
      if (op.type === 'delete') return decode({ key: op.key, value: previous[i]!.value, revision });
      // The object as written, at its new revision: a fresh top level and metadata, without
      // parsing back the JSON just written (nested fields are the caller's own values).
      const written = (ops[i] as { object: KubeObject }).object;
      const { resourceVersion: _old, ...metadata } = written.metadata;
      return { ...written, metadata: { ...metadata, resourceVersion: String(revision) } };
    });
    return { revision, results };
  }

  async *watch<T extends KubeObject>(options: WatchOptions): AsyncGenerator<WatchEvent<T>> {
    const prefix = options.kind
      ? kindPrefix({ group: options.group ?? '', kind: options.kind }, options.namespace)
      : undefined;
    const labels = options.labelSelector ? parseSelector(options.labelSelector) : undefined;
    const fields = options.fieldSelector ? parseFieldSelector(options.fieldSelector) : undefined;
    const node = prefix?.startsWith(POD_PREFIX) ? fields?.exact('spec.nodeName') : undefined;
    const trigger = node !== undefined ? nodeTrigger(node) : prefix !== undefined ? kindTrigger(prefix) : undefined;
    for await (const batch of this.hub.subscribe(options.fromRevision, options.signal, trigger)) {
      for (const e of batch.events) {
        if (prefix && !e.key.startsWith(prefix)) continue;
        if (!prefix && options.namespace !== undefined && e.key.split('/')[2] !== options.namespace) continue;
        const event = filterEvent(e, batch.revision, labels, fields);
        if (event) yield event as WatchEvent<T>;
      }
    }
  }

  async compact({ keep }: { keep: number }): Promise<{ oldestRevision: number }> {
    return { oldestRevision: await this.backend.compact(Math.max(1, keep)) };
  }

  revision(): Promise<number> {
    return this.backend.revision();
  }

  async oldestRevision(): Promise<number> {
    if (this.backend.history) return this.backend.oldestRevision();
    await this.hub.start();
    return this.hub.window.floor;
  }

  async close(): Promise<void> {
    this.hub.close();
    await this.backend.close();
  }
}

function revisionOf(obj: KubeObject): number | undefined {
  const rv = obj.metadata?.resourceVersion;
  if (rv === undefined || rv === '') return undefined;
  const n = Number(rv);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new BerthError('Invalid', `invalid resourceVersion ${JSON.stringify(rv)}`);
  return n;
}

/** The stored form carries no resourceVersion: it is the key's revision, added on the way out. */
function encode(obj: KubeObject): string {
  const { resourceVersion: _ignored, ...metadata } = obj.metadata;
  const json = JSON.stringify({ ...obj, metadata });
  if (json.length > MAX_OBJECT_BYTES && Buffer.byteLength(json) > MAX_OBJECT_BYTES) {
    throw new BerthError(
      'Invalid',
      `${describeRef(refOf(obj))} is ${Buffer.byteLength(json)} bytes; the store refuses objects over 1 MiB (move large data out of the object)`,
    );
  }
  return json;
}

/** An object write as the driver takes it: under its key, encoded. */
function backendOpOf(op: TxnOp): BackendOp {
  const key = keyOf(op.op === 'delete' ? op.ref : refOf(op.object));
  if (op.op === 'delete') return { type: 'delete', key, expectedRevision: op.expectedRevision };
  const value = encode(op.object);
  return op.op === 'create'
    ? { type: 'create', key, value }
    : { type: 'update', key, value, expectedRevision: op.expectedRevision };
}

/** A transaction's size as the driver counts it: keys and values, in bytes. */
/**
 * Room for what a driver adds to each op beyond its key and value: etcd sends the key twice (its
 * compare and its put), under the store's prefix, each in its own framing. Without it, a
 * transaction of many small objects passed the size check and was refused by etcd's gRPC limit.
 */
const OP_OVERHEAD_BYTES = 96;

function opBytes(op: BackendOp): number {
  return 2 * Buffer.byteLength(op.key) + (op.type === 'delete' ? 0 : Buffer.byteLength(op.value)) + OP_OVERHEAD_BYTES;
}

function refuseOversized(ops: BackendOp[], limits: TxnLimits, driver: string): void {
  const bytes = Number.isFinite(limits.maxBytes) ? ops.reduce((n, op) => n + opBytes(op), 0) : 0;
  if (ops.length <= limits.maxOps && bytes <= limits.maxBytes) return;
  throw new BerthError(
    'RequestEntityTooLarge',
    `a transaction of ${ops.length} operations${bytes ? ` (${bytes} bytes)` : ''} is more than ${driver} takes in one (${limits.maxOps} operations, ${limits.maxBytes} bytes); split it`,
  );
}

/**
 * Splits ops into consecutive groups that each fit one transaction, in order. For a caller that
 * would rather apply a large change in parts than not at all (and says so).
 */
export function splitTxn<T = TxnOp>(
  items: T[],
  limits: TxnLimits,
  opOf: (item: T) => TxnOp = (item) => item as TxnOp,
): T[][] {
  if (items.length <= limits.maxOps && !Number.isFinite(limits.maxBytes)) return [items];
  const groups: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    // Measured as the store will send it (so a part never fails the check in txn).
    const size = Number.isFinite(limits.maxBytes) ? opBytes(backendOpOf(opOf(item))) : 0;
    if (current.length > 0 && (current.length >= limits.maxOps || bytes + size > limits.maxBytes)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length) groups.push(current);
  return groups;
}

function decode(kv: KeyValue): KubeObject {
  const obj = JSON.parse(kv.value) as KubeObject;
  obj.metadata.resourceVersion = String(kv.revision);
  return obj;
}

const POD_PREFIX = kindPrefix({ group: '', kind: 'Pod' });
const nodeTrigger = (node: string) => `spec.nodeName=${node}`;
/** A kind's trigger is the prefix of its keys (`core/Pod/`), from a key or a kind's (namespaced) prefix. */
const kindTrigger = (key: string) => key.slice(0, key.indexOf('/', key.indexOf('/') + 1) + 1);

/**
 * What a batch wakes: the watches of each kind it changes (the server's ~40 informers each woke
 * for every batch to find nothing of theirs in most), and the agents of the nodes its pod changes
 * concern (before and after).
 */
function batchTriggers(batch: HubBatch<PreparedEvent>): ReadonlySet<string> {
  const triggers = new Set<string>();
  for (const e of batch.events) {
    triggers.add(kindTrigger(e.key));
    if (!e.key.startsWith(POD_PREFIX)) continue;
    triggers.add(nodeTrigger(fieldValue(e.object, 'spec.nodeName')));
    const before = e.prevObject;
    if (before) triggers.add(nodeTrigger(fieldValue(before, 'spec.nodeName')));
  }
  return triggers;
}

function prepare(batch: RevisionBatch): HubBatch<PreparedEvent> {
  return { revision: batch.revision, events: batch.events.map((e) => new PreparedEvent(e.key, e, batch.revision)) };
}

function matches(obj: KubeObject, labels?: Selector, fields?: FieldSelector): boolean {
  return (!labels || labels.matches(obj.metadata.labels)) && (!fields || fields.matches(obj));
}

/**
 * With a selector, a watch sees an object enter (ADDED) and leave (DELETED) the selection as
 * Kubernetes' watch cache reports it, not only its own ADDED/DELETED.
 */
function filterEvent(
  e: PreparedEvent,
  revision: number,
  labels?: Selector,
  fields?: FieldSelector,
): WatchEvent | undefined {
  if (!labels && !fields) return withPrevObject({ type: e.type, object: e.object, revision }, e);
  const prevObject = e.prevObject;
  const base = { revision, ...(prevObject ? { prevObject } : {}) };
  const now = e.type !== 'DELETED' && matches(e.object, labels, fields);
  const before = prevObject !== undefined && matches(prevObject, labels, fields);
  if (e.type === 'DELETED') return before ? { type: 'DELETED', object: e.object, ...base } : undefined;
  if (now && before) return { type: 'MODIFIED', object: e.object, ...base };
  if (now) return { type: 'ADDED', object: e.object, ...base };
  if (before)
    return {
      type: 'DELETED',
      object: { ...prevObject, metadata: { ...prevObject.metadata, resourceVersion: String(revision) } },
      ...base,
    };
  return undefined;
}

/** The event with its prevObject parsed only if a reader asks for it (most take it from their caches). */
function withPrevObject(event: WatchEvent, e: PreparedEvent): WatchEvent {
  if (!e.hasPrevObject) return event;
  return Object.defineProperty(event, 'prevObject', { enumerable: true, get: () => e.prevObject });
}

function encodeContinue(key: string): string {
  return Buffer.from(JSON.stringify({ k: key })).toString('base64url');
}

function decodeContinue(token: string, prefix: string): string {
  try {
    const { k } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k: unknown };
    if (typeof k === 'string' && k.startsWith(prefix)) return k;
  } catch {
    // fall through
  }
  throw new BerthError(
    'Invalid',
    'invalid continue token: it belongs to another list or is corrupt; start the list again',
  );
}
