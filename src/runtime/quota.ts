/**
 * Namespace quotas at admission, for the API and for the controllers' own writes (a ReplicaSet's
 * pods are held to the same quota as a user's): LimitRange defaults and checks on pods, then
 * every ResourceQuota of the namespace charged for the new objects. The charge is an update of
 * the quota's status.used with its read revision as precondition, committed in the same
 * transaction as the objects: two creates racing for the last unit cannot both get it, and the
 * quota controller, which recounts used from the objects themselves, never sees one without the
 * other.
 */
import { BerthError, isBerthError } from '../api/errors.js';
import { kindInfoFor, KINDS } from '../api/kinds.js';
import {
  applyLimitRangeDefaults,
  exceededQuota,
  kindUsesResource,
  limitRangeItems,
  limitRangeViolations,
  missingForQuota,
  quotaStatus,
  recordedUsage,
  sumUsage,
  usageOf,
  type QuotaObject,
  type Usage,
} from '../api/quota.js';
import type { KubeObject, Store, TxnOp } from '../store/types.js';
import type { InformerFactory } from './informer.js';

export const RESOURCE_QUOTA = { group: '', kind: 'ResourceQuota' };
export const LIMIT_RANGE = { group: '', kind: 'LimitRange' };
const CHARGE_ATTEMPTS = 10;

const pluralOf = (o: KubeObject): string => kindInfoFor(o.apiVersion, o.kind)?.plural ?? `${o.kind.toLowerCase()}s`;

/** Items grouped by namespace, in the order first seen (quotas are charged one namespace at a time). */
export function groupByNamespace<T>(items: T[], namespaceOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const ns = namespaceOf(item);
    const group = groups.get(ns);
    if (group) group.push(item);
    else groups.set(ns, [item]);
  }
  return groups;
}

/** What every object of the namespace uses now, for the resources a quota limits. */
export async function namespaceUsage(store: Store, namespace: string, hard: Record<string, unknown>): Promise<Usage> {
  const names = Object.keys(hard);
  const wanted = KINDS.filter((k) => k.namespaced && names.some((n) => kindUsesResource(n, k)));
  const parts: Usage[] = [];
  for (const k of wanted) {
    const { items } = await store.list({ group: k.group, kind: k.kind, namespace });
    for (const o of items) parts.push(usageOf(o, k.plural));
  }
  return sumUsage(parts);
}

/** Whether a namespace may have ResourceQuotas or LimitRanges: false lets admission skip reading them. */
export interface PolicyHints {
  mayHave(namespace: string): boolean;
}

/** The hints from the controllers' own informers (true until both have their first list). */
export function policiesSeenBy(informers: InformerFactory): PolicyHints {
  const kinds = [informers.for(RESOURCE_QUOTA), informers.for(LIMIT_RANGE)];
  return { mayHave: (namespace) => kinds.some((i) => !i.isSynced || i.list(namespace).length > 0) };
}

/**
 * Which namespaces have a ResourceQuota or a LimitRange, kept by watching both kinds, so that an
 * admission in a namespace with neither (most writes) reads nothing more. Kubernetes' quota
 * admission reads a watch-fed lister the same way (and has the same window: a quota created a
 * moment before a write may miss it; the quota controller's recount then shows the usage).
 */
export class PolicyIndex implements PolicyHints {
  /** Per kind: the objects by namespace, or undefined until its first list is in. */
  private readonly kinds = new Map<string, Map<string, Set<string>> | undefined>([
    [RESOURCE_QUOTA.kind, undefined],
    [LIMIT_RANGE.kind, undefined],
  ]);

  constructor(private readonly store: Store) {}

  /** True when the namespace may have policies (always, until both lists are in). */
  mayHave(namespace: string): boolean {
    return [...this.kinds.values()].some((byNamespace) => !byNamespace || (byNamespace.get(namespace)?.size ?? 0) > 0);
  }

  /** Lists, then follows each kind until the signal aborts (listing again after any error). */
  run(signal: AbortSignal, onError: (e: unknown) => void = () => {}): Promise<void> {
    return Promise.all([RESOURCE_QUOTA, LIMIT_RANGE].map((kind) => this.follow(kind, signal, onError))).then(
      () => undefined,
    );
  }

  private async follow(
    kind: { group: string; kind: string },
    signal: AbortSignal,
    onError: (e: unknown) => void,
  ): Promise<void> {
    while (!signal.aborted) {
      try {
        this.kinds.set(kind.kind, undefined);
        const byNamespace = new Map<string, Set<string>>();
        const note = (type: string, o: KubeObject) => {
          const set = byNamespace.get(o.metadata.namespace ?? '') ?? new Set<string>();
          if (type === 'DELETED') set.delete(o.metadata.name);
          else set.add(o.metadata.name);
          byNamespace.set(o.metadata.namespace ?? '', set);
        };
        const list = await this.store.list(kind);
        for (const o of list.items) note('ADDED', o);
        this.kinds.set(kind.kind, byNamespace);
        for await (const e of this.store.watch({ ...kind, fromRevision: list.revision, signal }))
          note(e.type, e.object);
      } catch (e) {
        if (signal.aborted) return;
        onError(e);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}

export class QuotaAdmission {
  constructor(
    private readonly store: Store,
    private readonly index?: PolicyHints,
  ) {}

  /** Whether the namespace has a ResourceQuota or a LimitRange (the index's word where there is one, else the store's). */
  async hasPolicies(namespace: string): Promise<boolean> {
    if (this.index?.mayHave(namespace) === false) return false;
    const [ranges, quotas] = await Promise.all([
      this.store.list({ ...LIMIT_RANGE, namespace, limit: 1 }),
      this.store.list({ ...RESOURCE_QUOTA, namespace, limit: 1 }),
    ]);
    return ranges.items.length + quotas.items.length > 0;
  }

  /**
   * Admits objects about to be created in one namespace: pods get their LimitRange defaults (in
   * place) and are checked against its limits; then each ResourceQuota that limits what they use
   * is charged for all of them at once. Throws Forbidden with Kubernetes' message when any does
   * not fit. The charge is returned as store operations (each quota's new status, with its read
   * revision as precondition) for the caller to commit in the same transaction as the objects:
   * a charge never exists without its objects, nor objects without their charge.
   */
  async admit(
    objects: KubeObject[],
    describe: (o: KubeObject) => string = (o) => `${pluralOf(o)} "${o.metadata.name}"`,
  ): Promise<TxnOp[]> {
    const namespace = objects[0]?.metadata.namespace;
    if (!namespace || this.index?.mayHave(namespace) === false) return [];
    const [ranges, quotas] = await Promise.all([
      this.store.list({ ...LIMIT_RANGE, namespace }),
      this.store.list({ ...RESOURCE_QUOTA, namespace }),
    ]);
    const items = limitRangeItems(ranges.items);
    if (items.length) {
      for (const o of objects) {
        applyLimitRangeDefaults(o, items);
        const problems = limitRangeViolations(o, items);
        if (problems.length) throw new BerthError('Forbidden', `${describe(o)} is forbidden: ${problems.join(', ')}`);
      }
    }
    const requested = sumUsage(objects.map((o) => usageOf(o, pluralOf(o))));
    const ops: TxnOp[] = [];
    for (const q of quotas.items as (KubeObject & QuotaObject)[]) {
      const hard = q.spec?.hard ?? {};
      if (!Object.keys(requested).some((r) => r in hard)) continue;
      for (const o of objects) {
        const missing = missingForQuota(q, o);
        if (missing) throw new BerthError('Forbidden', `${describe(o)} is forbidden: ${missing}`);
      }
      // A quota the controller has not counted yet is counted here from the objects themselves.
      const used = q.status?.used ? recordedUsage(q) : await namespaceUsage(this.store, namespace, hard);
      const exceeded = exceededQuota(q, used, requested);
      if (exceeded) throw new BerthError('Forbidden', `${describe(objects[0]!)} is forbidden: ${exceeded}`);
      ops.push({
        op: 'update',
        object: { ...q, status: quotaStatus(q, sumUsage([used, requested])) },
        expectedRevision: Number(q.metadata.resourceVersion),
      });
    }
    return ops;
  }
}

/**
 * Creates objects with their quota charge in one transaction, admitting them again when a quota
 * moved in between (another create took its share first).
 */
export async function createAdmitted(
  store: Store,
  objects: KubeObject[],
  admit: (objects: KubeObject[]) => Promise<TxnOp[]>,
): Promise<KubeObject[]> {
  for (let attempt = 0; ; attempt++) {
    const charges = await admit(objects);
    if (!charges.length && objects.length === 1) return [await store.create(objects[0]!)];
    try {
      const { results } = await store.txn([
        ...charges,
        ...objects.map((object) => ({ op: 'create' as const, object })),
      ]);
      return results.slice(charges.length);
    } catch (e) {
      if (!isBerthError(e, 'Conflict') || attempt >= CHARGE_ATTEMPTS || !charges.length) throw e;
    }
  }
}
