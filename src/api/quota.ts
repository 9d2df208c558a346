/**
 * ResourceQuota and LimitRange, as Kubernetes' quota evaluators and LimitRanger admission plugin
 * define them. Pure: objects in, usage and verdicts out (the shell that reads the store and keeps
 * quota status is runtime/quota.ts).
 *
 * Usage is kept in nano-units (exact, as Quantity). What counts:
 *   pods, count/pods, requests.cpu|memory|ephemeral-storage (and cpu, memory, ephemeral-storage,
 *   their short names), limits.cpu|memory|ephemeral-storage — for pods not yet finished;
 *   services, services.nodeports, services.loadbalancers; persistentvolumeclaims, requests.storage;
 *   configmaps, secrets, resourcequotas, replicationcontrollers; count/<plural>[.<group>] for any kind.
 */
import { parseQuantity, quantityFromNanos, type QuantityFormat } from './quantity.js';

const NANO = 1_000_000_000n;
const ONE = NANO;

export type Usage = Record<string, bigint>;

export interface QuotaObject {
  metadata: { name: string; namespace?: string };
  spec?: { hard?: Record<string, string | number> };
  status?: { hard?: Record<string, string | number>; used?: Record<string, string | number> };
}

export interface LimitRangeItem {
  type: 'Container' | 'Pod' | 'PersistentVolumeClaim';
  default?: Record<string, string | number>;
  defaultRequest?: Record<string, string | number>;
  min?: Record<string, string | number>;
  max?: Record<string, string | number>;
  maxLimitRequestRatio?: Record<string, string | number>;
}

/** The items of LimitRange objects, all in one list (a namespace may have several LimitRanges). */
export function limitRangeItems(ranges: { metadata: unknown; spec?: unknown }[]): LimitRangeItem[] {
  return ranges.flatMap((r) => (r.spec as { limits?: LimitRangeItem[] } | undefined)?.limits ?? []);
}

type AnyObject = {
  apiVersion?: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: any;
  status?: any;
};
type Container = {
  name: string;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
};

const COMPUTE = ['cpu', 'memory', 'ephemeral-storage'] as const;
const nanosOf = (v: string | number | undefined): bigint => (v === undefined ? 0n : parseQuantity(v).nanos);
const add = (into: Usage, key: string, n: bigint): void => {
  into[key] = (into[key] ?? 0n) + n;
};

/** Kubernetes' plural resource names for the counted kinds (count/<plural>[.<group>]). */
export function countName(apiVersion: string | undefined, plural: string): string {
  const group = apiVersion?.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return `count/${plural}${group ? `.${group}` : ''}`;
}

/** A pod's effective requests or limits: the containers' sum, or the largest init container, plus overhead. */
function podCompute(
  spec:
    { containers?: Container[]; initContainers?: Container[]; overhead?: Record<string, string | number> } | undefined,
  which: 'requests' | 'limits',
): Usage {
  const out: Usage = {};
  for (const r of COMPUTE) {
    let sum = 0n;
    for (const c of spec?.containers ?? []) sum += nanosOf(c.resources?.[which]?.[r]);
    for (const c of spec?.initContainers ?? []) {
      const v = nanosOf(c.resources?.[which]?.[r]);
      if (v > sum) sum = v;
    }
    sum += nanosOf(spec?.overhead?.[r]);
    if (sum) out[r] = sum;
  }
  return out;
}

/** Whether an object uses quota at all now: a pod that has finished (or is going) does not. */
export function countsTowardQuota(o: AnyObject): boolean {
  if (o.kind !== 'Pod') return true;
  const phase = o.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

/** The core kinds a quota also counts by their plain name (`pods`, not only `count/pods`), as Kubernetes does. */
const LEGACY_COUNTS = new Map([
  ['Pod', 'pods'],
  ['Service', 'services'],
  ['PersistentVolumeClaim', 'persistentvolumeclaims'],
  ['ConfigMap', 'configmaps'],
  ['Secret', 'secrets'],
  ['ResourceQuota', 'resourcequotas'],
  ['ReplicationController', 'replicationcontrollers'],
]);

/** Whether objects of a kind use a quota resource name (the kinds a recount must list for it). */
export function kindUsesResource(resource: string, kind: { kind: string; plural: string; group: string }): boolean {
  if (
    resource === `count/${kind.plural}${kind.group ? `.${kind.group}` : ''}` ||
    resource === LEGACY_COUNTS.get(kind.kind)
  )
    return true;
  switch (kind.kind) {
    case 'Pod':
      return COMPUTE.some((r) => resource === r || resource === `requests.${r}` || resource === `limits.${r}`);
    case 'Service':
      return resource === 'services.nodeports' || resource === 'services.loadbalancers';
    case 'PersistentVolumeClaim':
      return resource === 'requests.storage';
    default:
      return false;
  }
}

/** What one object uses, by resource name; `plural` is its kind's REST name (for count/…). */
export function usageOf(o: AnyObject, plural: string): Usage {
  const out: Usage = {};
  if (!countsTowardQuota(o)) return out;
  add(out, countName(o.apiVersion, plural), ONE);
  const legacyCount = LEGACY_COUNTS.get(o.kind);
  if (legacyCount) add(out, legacyCount, ONE);
  switch (o.kind) {
    case 'Pod': {
      const requests = podCompute(o.spec, 'requests');
      const limits = podCompute(o.spec, 'limits');
      for (const r of COMPUTE) {
        if (requests[r]) {
          add(out, `requests.${r}`, requests[r]);
          add(out, r, requests[r]);
        }
        if (limits[r]) add(out, `limits.${r}`, limits[r]);
      }
      break;
    }
    case 'Service': {
      const type = o.spec?.type ?? 'ClusterIP';
      if (type === 'LoadBalancer') add(out, 'services.loadbalancers', ONE);
      if (type === 'NodePort' || type === 'LoadBalancer')
        add(out, 'services.nodeports', BigInt((o.spec?.ports ?? []).length) * ONE);
      break;
    }
    case 'PersistentVolumeClaim':
      add(out, 'requests.storage', nanosOf(o.spec?.resources?.requests?.storage));
      break;
  }
  return out;
}

export function sumUsage(parts: Usage[]): Usage {
  const out: Usage = {};
  for (const p of parts) for (const [k, v] of Object.entries(p)) add(out, k, v);
  return out;
}

/** The hard limits a quota sets, in nano-units, with each limit's format for printing. */
function hardOf(q: QuotaObject): Map<string, { nanos: bigint; format: QuantityFormat }> {
  return new Map(
    Object.entries(q.spec?.hard ?? {}).map(([k, v]) => {
      const quantity = parseQuantity(v);
      return [k, { nanos: quantity.nanos, format: quantity.format }];
    }),
  );
}

const show = (n: bigint, format: QuantityFormat): string => quantityFromNanos(n, format).toString();

/**
 * Kubernetes' verdict on adding `requested` to a namespace already using `used` under a quota:
 * undefined when it fits, else `exceeded quota: NAME, requested: …, used: …, limited: …` naming
 * the resources that would go over. Resources the quota does not limit do not matter.
 */
export function exceededQuota(q: QuotaObject, used: Usage, requested: Usage): string | undefined {
  const failed: [string, bigint, bigint, bigint, QuantityFormat][] = [];
  for (const [name, hard] of hardOf(q)) {
    const want = requested[name] ?? 0n;
    if (want <= 0n) continue;
    const have = used[name] ?? 0n;
    if (have + want > hard.nanos) failed.push([name, want, have, hard.nanos, hard.format]);
  }
  if (!failed.length) return undefined;
  failed.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const list = (i: 1 | 2 | 3) => failed.map((f) => `${f[0]}=${show(f[i], f[4])}`).join(',');
  return `exceeded quota: ${q.metadata.name}, requested: ${list(1)}, used: ${list(2)}, limited: ${list(3)}`;
}

/**
 * A quota on compute requests or limits needs every container to state them (else the namespace
 * could not be held to it): `failed quota: NAME: must specify limits.cpu for: app; …`.
 */
export function missingForQuota(q: QuotaObject, pod: AnyObject): string | undefined {
  if (pod.kind !== 'Pod') return undefined;
  const hard = hardOf(q);
  const containers: Container[] = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const missing: string[] = [];
  for (const which of ['requests', 'limits'] as const) {
    for (const r of COMPUTE) {
      const tracked = hard.has(`${which}.${r}`) || (which === 'requests' && hard.has(r));
      if (!tracked) continue;
      const lacking = containers.filter((c) => c.resources?.[which]?.[r] === undefined).map((c) => c.name);
      if (lacking.length) missing.push(`${which}.${r} for: ${lacking.join(',')}`);
    }
  }
  return missing.length ? `failed quota: ${q.metadata.name}: must specify ${missing.join('; ')}` : undefined;
}

/** The usage to show in a quota's status: every resource it limits, 0 when nothing uses it. */
export function quotaStatus(
  q: QuotaObject,
  used: Usage,
): { hard: Record<string, string>; used: Record<string, string> } {
  const hard = hardOf(q);
  return {
    hard: Object.fromEntries([...hard].map(([k, h]) => [k, show(h.nanos, h.format)])),
    used: Object.fromEntries([...hard].map(([k, h]) => [k, show(used[k] ?? 0n, h.format)])),
  };
}

/** The usage a quota's status records (what admission adds to). */
export function recordedUsage(q: QuotaObject): Usage {
  return Object.fromEntries(Object.entries(q.status?.used ?? {}).map(([k, v]) => [k, nanosOf(v)]));
}

// ---- LimitRange -------------------------------------------------------------------------------

/**
 * LimitRanger's defaulting of a pod's containers: a container that names no request or limit for
 * a resource gets the LimitRange's defaultRequest and default (a request defaults to the default
 * limit when no defaultRequest is given; an explicit limit with no request makes the request
 * equal to it, as Kubernetes' own defaulting). Returns the pod changed in place.
 */
export function applyLimitRangeDefaults<T extends AnyObject>(pod: T, items: LimitRangeItem[]): T {
  const container = items.filter((i) => i.type === 'Container');
  if (!container.length || pod.kind !== 'Pod') return pod;
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])] as Container[]) {
    for (const item of container) {
      const limits = { ...(item.default ?? {}) };
      const requests = { ...(item.default ?? {}), ...(item.defaultRequest ?? {}) };
      for (const [r, v] of Object.entries(limits)) {
        if (c.resources?.limits?.[r] === undefined)
          (c.resources ??= {}).limits = { ...(c.resources?.limits ?? {}), [r]: v };
      }
      for (const [r, v] of Object.entries(requests)) {
        if (c.resources?.requests?.[r] === undefined)
          (c.resources ??= {}).requests = {
            ...(c.resources?.requests ?? {}),
            [r]:
              c.resources?.limits?.[r] !== undefined && item.defaultRequest?.[r] === undefined
                ? c.resources.limits[r]!
                : v,
          };
      }
    }
  }
  return pod;
}

/** LimitRanger's min, max and ratio checks, in its words ("maximum cpu usage per Container is 1, but limit is 2"). */
export function limitRangeViolations(pod: AnyObject, items: LimitRangeItem[]): string[] {
  if (pod.kind !== 'Pod') return [];
  const out: string[] = [];
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])] as Container[];
  const check = (
    scope: 'Container' | 'Pod',
    item: LimitRangeItem,
    requests: Record<string, bigint | undefined>,
    limits: Record<string, bigint | undefined>,
  ) => {
    const fmt = (r: string, n: bigint) => show(n, parseQuantity(item.max?.[r] ?? item.min?.[r] ?? 0).format);
    for (const [r, v] of Object.entries(item.min ?? {})) {
      const min = nanosOf(v);
      if (requests[r] === undefined)
        out.push(`minimum ${r} usage per ${scope} is ${String(v)}.  No request is specified`);
      else if (requests[r]! < min)
        out.push(`minimum ${r} usage per ${scope} is ${String(v)}, but request is ${fmt(r, requests[r]!)}`);
      else if (limits[r] !== undefined && limits[r]! < min)
        out.push(`minimum ${r} usage per ${scope} is ${String(v)}, but limit is ${fmt(r, limits[r]!)}`);
    }
    for (const [r, v] of Object.entries(item.max ?? {})) {
      const max = nanosOf(v);
      if (limits[r] === undefined) out.push(`maximum ${r} usage per ${scope} is ${String(v)}.  No limit is specified`);
      else if (limits[r]! > max)
        out.push(`maximum ${r} usage per ${scope} is ${String(v)}, but limit is ${fmt(r, limits[r]!)}`);
      else if (requests[r] !== undefined && requests[r]! > max)
        out.push(`maximum ${r} usage per ${scope} is ${String(v)}, but request is ${fmt(r, requests[r]!)}`);
    }
    for (const [r, v] of Object.entries(item.maxLimitRequestRatio ?? {})) {
      const request = requests[r];
      const limit = limits[r];
      if (!request || !limit) {
        out.push(`${r} max limit to request ratio per ${scope} is ${String(v)}, but no request or limit is specified`);
        continue;
      }
      // limit / request > ratio, exactly: limit × 10⁹ > ratio(nanos) × request.
      if (limit * NANO > nanosOf(v) * request)
        out.push(
          `${r} max limit to request ratio per ${scope} is ${String(v)}, but provided ratio is ${(Number(limit) / Number(request)).toFixed(6)}`,
        );
    }
  };
  const asNanos = (m: Record<string, string | number> | undefined) =>
    Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, nanosOf(v)]));
  for (const item of items) {
    if (item.type === 'Container')
      for (const c of containers)
        check('Container', item, asNanos(c.resources?.requests), asNanos(c.resources?.limits));
    if (item.type === 'Pod') {
      const requests = podCompute(pod.spec, 'requests');
      const limits = podCompute(pod.spec, 'limits');
      // A pod has a limit for a resource only when every container has one.
      const everyLimits = (r: string) =>
        (pod.spec?.containers ?? []).every((c: Container) => c.resources?.limits?.[r] !== undefined);
      check('Pod', item, requests, Object.fromEntries(Object.entries(limits).filter(([r]) => everyLimits(r))));
    }
  }
  return out;
}
