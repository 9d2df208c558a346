/**
 * Pure sync planning: pair the desired objects of a commit with the live objects an Application
 * manages, compare them after the same normalization (server-set fields, status and the app's
 * ignoreDifferences removed), and order the creates, updates and prunes as a sync applies them:
 * by sync wave, then by kind (Namespace, ConfigMap/Secret, PVC, Service, workloads, Ingress).
 */
import { createHash } from 'node:crypto';
import { groupOf } from '../api/kinds.js';
import { BIND_COMPLETED, SELECTED_NODE } from '../api/storage.js';
import { ALLOCATED_SERVICE_FIELDS, portKey, PROXY_PORTS_ANNOTATION, type ServicePortSpec } from '../api/services.js';
import {
  managerOf,
  trackingId,
  withTracking,
  SYNC_WAVE_ANNOTATION,
  TRACKING_ANNOTATION,
  type AppRef,
  type ObjectLike,
} from './tracking.js';

/** The order Kubernetes objects are created in (deleted in reverse). */
export const KIND_ORDER = [
  'Namespace',
  'ResourceQuota',
  'LimitRange',
  'NetworkPolicy',
  'ServiceAccount',
  'ConfigMap',
  'Secret',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'PersistentVolumeClaim',
  'Service',
  'Endpoints',
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'Pod',
  'Ingress',
  'AppProject',
  'Application',
] as const;

export interface IgnoreDifference {
  group?: string;
  kind: string;
  name?: string;
  namespace?: string;
  jsonPointers: string[];
}

export interface PlanOptions {
  prune: boolean;
  ignoreDifferences?: IgnoreDifference[];
  /** Forms from earlier plans of the same Application (a pure speed-up: the plan is the same). */
  cache?: ComparisonCache;
  /**
   * Take over objects that exist and no Application manages (the AdoptExisting=true sync option).
   * Without it they are left alone and reported in `unmanaged`: a commit does not silently
   * overwrite (and later prune) what someone made by hand.
   */
  adopt?: boolean;
}

/** `source` is the desired object as the plan was given it (before tracking was added). */
export type Action =
  | { type: 'create'; key: string; desired: ObjectLike; source: ObjectLike }
  | { type: 'update'; key: string; desired: ObjectLike; live: ObjectLike; source: ObjectLike }
  | { type: 'prune'; key: string; live: ObjectLike };

export interface Plan {
  /** Per sync wave, in order; each wave's actions in kind order (prunes last, in reverse). */
  waves: { wave: number; actions: Action[] }[];
  unchanged: string[];
  /** Live objects that are no longer in Git but stay because prune is off. */
  requirePruning: string[];
  /** Desired objects that another Application already manages: an error, not a tug of war. */
  conflicts: { key: string; owner: AppRef }[];
  /** Desired objects that exist and no Application manages, when adopting is not allowed. */
  unmanaged: string[];
}

/** Metadata the server owns or adds; never part of the comparison. */
const SERVER_METADATA = [
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'generation',
  'managedFields',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'selfLink',
  'ownerReferences',
  'finalizers',
];
const SERVER_ANNOTATIONS = [
  'kubectl.kubernetes.io/last-applied-configuration',
  'deployment.kubernetes.io/revision',
  PROXY_PORTS_ANNOTATION,
];

export function objectKey(o: ObjectLike): string {
  return `${groupOf(o.apiVersion)}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function kindRank(kind: string): number {
  const i = (KIND_ORDER as readonly string[]).indexOf(kind);
  return i === -1 ? KIND_ORDER.length : i;
}

/** The object's sync wave (annotation `berth.dev/sync-wave`, or Argo CD's `argocd.argoproj.io/sync-wave`; default 0). */
export function waveOf(o: ObjectLike): number {
  const n = Number(
    o.metadata.annotations?.[SYNC_WAVE_ANNOTATION] ?? o.metadata.annotations?.[ARGO_SYNC_WAVE_ANNOTATION] ?? 0,
  );
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

const ARGO_SYNC_WAVE_ANNOTATION = 'argocd.argoproj.io/sync-wave';

/** Removes a JSON pointer's target from a plain value, in place. */
function removePointer(doc: unknown, pointer: string): void {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let cur = doc as Record<string, unknown> | undefined;
  for (const p of parts.slice(0, -1)) {
    cur = cur && typeof cur === 'object' ? (cur[p] as Record<string, unknown> | undefined) : undefined;
  }
  const last = parts[parts.length - 1];
  if (cur && typeof cur === 'object' && last !== undefined) {
    if (Array.isArray(cur)) cur.splice(Number(last), 1);
    else delete cur[last];
  }
}

function ignoredPointers(o: ObjectLike, rules: IgnoreDifference[]): string[] {
  const group = groupOf(o.apiVersion);
  return rules
    .filter(
      (r) =>
        r.kind === o.kind &&
        (r.group === undefined || r.group === group) &&
        (r.name === undefined || r.name === o.metadata.name) &&
        (r.namespace === undefined || r.namespace === o.metadata.namespace),
    )
    .flatMap((r) => r.jsonPointers);
}

/**
 * The comparable form: what Git declares, nothing the server or the app's ignores add. A shallow
 * copy (the input is never changed), deep only where an ignored pointer must be cut out.
 */
export function normalizeForDiff(o: ObjectLike, ignore: IgnoreDifference[] = []): ObjectLike {
  const pointers = ignoredPointers(o, ignore);
  const { status: _status, metadata, ...rest } = (pointers.length ? structuredClone(o) : o) as ObjectLike;
  const meta: Record<string, unknown> = { ...metadata };
  for (const k of SERVER_METADATA) delete meta[k];
  if (metadata.annotations) {
    const annotations = { ...metadata.annotations };
    for (const k of SERVER_ANNOTATIONS) delete annotations[k];
    if (Object.keys(annotations).length === 0) delete meta.annotations;
    else meta.annotations = annotations;
  }
  const copy = { ...rest, metadata: meta } as ObjectLike;
  for (const p of pointers) removePointer(copy, p);
  return copy;
}

/** Deterministic JSON (sorted keys, as JSON.stringify otherwise): equal objects compare equal whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v))
    return `[${v.map((x) => (x === undefined || typeof x === 'function' ? 'null' : canonicalJson(x))).join(',')}]`;
  const record = v as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(record).sort()) {
    const x = record[k];
    if (x === undefined || typeof x === 'function') continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(x)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * The comparable form's digest: equal objects have equal digests, and a cache of 10,000 objects
 * keeps 44 characters each instead of their whole canonical JSON (about 20 MB in the sync
 * benchmark's server). SHA-256, so that no commit can be made to look equal to what runs.
 */
function formDigest(o: ObjectLike, ignore: IgnoreDifference[]): string {
  return createHash('sha256')
    .update(canonicalJson(normalizeForDiff(o, ignore)))
    .digest('base64');
}

/**
 * Comparable forms (their digests) kept between the plans of one Application, so an unchanged object is not
 * normalized again: desired objects by identity (the source shares them while their file is
 * unchanged), live ones by key and resourceVersion (any write changes it).
 */
export class ComparisonCache {
  desired = new WeakMap<object, string>();
  live = new Map<string, string>();
  /** Pairs found equal, by identity: the same desired and live objects are still equal. */
  equal = new Map<string, { source: object; live: object }>();
  private readonly keys = new WeakMap<object, string>();
  /** The ignoreDifferences the forms were made under: other rules, other forms. */
  private rules = '';

  /** Starts over when the rules change. */
  use(ignore: IgnoreDifference[]): void {
    const rules = JSON.stringify(ignore);
    if (rules === this.rules) return;
    this.rules = rules;
    this.desired = new WeakMap();
    this.live = new Map();
    this.equal = new Map();
  }

  keyOf(o: ObjectLike): string {
    let key = this.keys.get(o);
    if (key === undefined) this.keys.set(o, (key = objectKey(o)));
    return key;
  }

  /**
   * Records what was just written from `source`'s plan action (the store's answer), so the next
   * plan finds the pair equal without normalizing either: a write adds only what normalization
   * removes (identity, generation, status), and ignored fields were taken from the live object.
   */
  remember(written: ObjectLike, source: ObjectLike): void {
    if (written.metadata.resourceVersion) this.equal.set(this.keyOf(written), { source, live: written });
  }
}

export function plan(app: AppRef, desired: ObjectLike[], live: ObjectLike[], options: PlanOptions): Plan {
  const ignore = options.ignoreDifferences ?? [];
  const cache = options.cache;
  cache?.use(ignore);
  const keyOf = (o: ObjectLike): string => (cache ? cache.keyOf(o) : objectKey(o));
  const liveByKey = new Map(live.map((o) => [keyOf(o), o]));
  const desiredKeys = new Set<string>();
  const actions: Action[] = [];
  const unchanged: string[] = [];
  const conflicts: Plan['conflicts'] = [];
  const unmanaged: string[] = [];
  // Only what this plan used is kept: the cache does not grow with history.
  const seenLive = new Map<string, string>();
  const seenEqual = new Map<string, { source: object; live: object }>();
  const desiredForm = (original: ObjectLike, wanted: ObjectLike, fromLive: boolean): string => {
    // A form merged from live values (ignored pointers, NodePorts) depends on the live object: not cached.
    if (!cache || fromLive) return formDigest(wanted, ignore);
    let form = cache.desired.get(original);
    if (form === undefined) cache.desired.set(original, (form = formDigest(wanted, ignore)));
    return form;
  };
  const liveForm = (key: string, l: ObjectLike): string => {
    const id = l.metadata.resourceVersion ? `${key}@${l.metadata.resourceVersion}` : undefined;
    let form = id ? cache?.live.get(id) : undefined;
    if (form === undefined) form = formDigest(l, ignore);
    if (id) seenLive.set(id, form);
    return form;
  };

  for (const d of desired) {
    const key = keyOf(d);
    desiredKeys.add(key);
    const l = liveByKey.get(key);
    if (!l) {
      actions.push({ type: 'create', key, desired: withTracking(app, d), source: d });
      continue;
    }
    // The very objects found equal last time (equal forms include the tracking annotation, so
    // the owner is this app too).
    const known = cache?.equal.get(key);
    if (known && known.source === d && known.live === l) {
      unchanged.push(key);
      seenEqual.set(key, known);
      continue;
    }
    const tracked = withTracking(app, d);
    const owner = managerOf(l);
    if (owner && (owner.namespace !== app.namespace || owner.name !== app.name)) {
      conflicts.push({ key, owner });
      continue;
    }
    if (!owner && !options.adopt) {
      unmanaged.push(key);
      continue;
    }
    // ignoreDifferences: the live value of an ignored field wins, so an update never resets it.
    const wanted = withServerAssigned(mergeIgnored(tracked, l, ignore), l);
    if (desiredForm(d, wanted, wanted !== tracked) === liveForm(key, l)) {
      unchanged.push(key);
      seenEqual.set(key, { source: d, live: l });
    } else actions.push({ type: 'update', key, desired: wanted, live: l, source: d });
  }
  if (cache) {
    cache.live = seenLive;
    cache.equal = seenEqual;
  }

  const requirePruning: string[] = [];
  for (const [key, l] of liveByKey) {
    if (desiredKeys.has(key)) continue;
    const owner = managerOf(l);
    if (
      !owner ||
      owner.namespace !== app.namespace ||
      owner.name !== app.name ||
      l.metadata.annotations?.[TRACKING_ANNOTATION] !== trackingId(app, l)
    )
      continue;
    // Already being deleted (waiting for its finalizers): nothing a prune could add.
    if (l.metadata.deletionTimestamp) continue;
    if (options.prune) actions.push({ type: 'prune', key, live: l });
    else requirePruning.push(key);
  }

  const byWave = new Map<number, Action[]>();
  for (const a of actions) {
    const wave = waveOf(a.type === 'prune' ? a.live : a.desired);
    const list = byWave.get(wave);
    if (list) list.push(a);
    else byWave.set(wave, [a]);
  }
  const order = (a: Action): number => {
    const kind = (a.type === 'prune' ? a.live : a.desired).kind;
    // Creates and updates in kind order; prunes after them, in reverse kind order.
    return a.type === 'prune' ? 1000 + (KIND_ORDER.length - kindRank(kind)) : kindRank(kind);
  };
  const waves = [...byWave.entries()]
    .sort(([a], [b]) => a - b)
    .map(([wave, list]) => ({ wave, actions: list.sort((x, y) => order(x) - order(y) || (x.key < y.key ? -1 : 1)) }));
  return {
    waves,
    unchanged: unchanged.sort(),
    requirePruning: requirePruning.sort(),
    conflicts,
    unmanaged: unmanaged.sort(),
  };
}

/** What the server and controllers fill in that a manifest leaves out, taken from `live` into `desired`. */
export function withServerAssigned(desired: ObjectLike, live: ObjectLike): ObjectLike {
  return withFinalizers(withVolumeBinding(withAllocatedPorts(desired, live), live), live);
}

/** Finalizers are the server's and controllers' (never compared): an update keeps the live ones. */
function withFinalizers(desired: ObjectLike, live: ObjectLike): ObjectLike {
  const finalizers = live.metadata.finalizers;
  if (!finalizers?.length || desired.metadata.finalizers) return desired;
  return { ...desired, metadata: { ...desired.metadata, finalizers: [...finalizers] } };
}

/** A claim's binding (its volume, the node chosen for it) and a volume's claimRef are the volume controller's. */
const BINDING_ANNOTATIONS = [SELECTED_NODE, BIND_COMPLETED, 'pv.kubernetes.io/bound-by-controller'];
function withVolumeBinding(desired: ObjectLike, live: ObjectLike): ObjectLike {
  if (desired.kind !== 'PersistentVolumeClaim' && desired.kind !== 'PersistentVolume') return desired;
  const field = desired.kind === 'PersistentVolume' ? 'claimRef' : 'volumeName';
  const spec = (desired as { spec?: Record<string, unknown> }).spec;
  const liveSpec = (live as { spec?: Record<string, unknown> }).spec;
  const missingField = spec?.[field] === undefined && liveSpec?.[field] !== undefined;
  const annotations = BINDING_ANNOTATIONS.filter(
    (a) => desired.metadata.annotations?.[a] === undefined && live.metadata.annotations?.[a] !== undefined,
  );
  if (!missingField && !annotations.length) return desired;
  const out = structuredClone(desired) as ObjectLike & { spec?: Record<string, unknown> };
  if (missingField) (out.spec ??= {})[field] = structuredClone(liveSpec![field]);
  if (annotations.length) {
    out.metadata.annotations ??= {};
    for (const a of annotations) out.metadata.annotations[a] = live.metadata.annotations![a];
  }
  return out;
}

/**
 * A Service's ClusterIP and NodePorts are the server's to choose when the manifest leaves them
 * out (as Kubernetes'): the live ones stand in, so they are neither a difference nor reset by an
 * update.
 */
function withAllocatedPorts(desired: ObjectLike, live: ObjectLike): ObjectLike {
  type WithPorts = ObjectLike & { spec?: Record<string, unknown> & { ports?: ServicePortSpec[] } };
  if (desired.kind !== 'Service') return desired;
  const spec = (desired as WithPorts).spec;
  const liveSpec = (live as WithPorts).spec;
  const ports = spec?.ports;
  const had = new Map((liveSpec?.ports ?? []).map((p) => [portKey(p), p.nodePort]));
  const missingPorts = Boolean(ports?.some((p) => !p.nodePort && had.get(portKey(p))));
  const missingFields = ALLOCATED_SERVICE_FIELDS.filter((f) => spec?.[f] === undefined && liveSpec?.[f] !== undefined);
  if (!missingPorts && !missingFields.length) return desired;
  const out = structuredClone(desired) as WithPorts;
  out.spec ??= {};
  for (const f of missingFields) out.spec[f] = structuredClone(liveSpec![f]);
  for (const p of out.spec.ports ?? []) {
    const nodePort = had.get(portKey(p));
    if (!p.nodePort && nodePort) p.nodePort = nodePort;
  }
  return out;
}

function mergeIgnored(desired: ObjectLike, live: ObjectLike, ignore: IgnoreDifference[]): ObjectLike {
  const pointers = ignoredPointers(desired, ignore);
  if (pointers.length === 0) return desired;
  const out = structuredClone(desired) as ObjectLike;
  for (const p of pointers) {
    const value = getPointer(live, p);
    if (value !== undefined) setPointer(out, p, structuredClone(value));
  }
  return out;
}

function getPointer(doc: unknown, pointer: string): unknown {
  let cur = doc;
  for (const p of pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
  }
  return cur;
}

function setPointer(doc: unknown, pointer: string, value: unknown): void {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let cur = doc as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) {
    if (!cur[p] || typeof cur[p] !== 'object') cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}
