/**
 * Quotas at sync time, so one team's commit cannot take a namespace past its ResourceQuota:
 *   - the pods a commit's workloads will run (replicas × their template, with the namespace's
 *     LimitRange defaults) are checked against each quota's hard limits and the LimitRange's
 *     bounds: a commit that alone asks for more than its namespace may have is refused whole;
 *   - the objects a sync creates directly (Pods, Services, ConfigMaps, claims, …) are charged to
 *     the quotas as the API charges them, before anything is written.
 * The controllers' pods are held to the same quotas when they are created (runtime/quota.ts):
 * what is checked here is what can be known from the commit.
 */
import { BerthError, isBerthError } from '../api/errors.js';
import { kindInfoFor } from '../api/kinds.js';
import { podTemplateOf } from '../api/pod-security.js';
import {
  applyLimitRangeDefaults,
  exceededQuota,
  limitRangeItems,
  limitRangeViolations,
  missingForQuota,
  sumUsage,
  usageOf,
  type LimitRangeItem,
  type QuotaObject,
  type Usage,
} from '../api/quota.js';
import type { LoadedObject } from '../manifest/index.js';
import { LIMIT_RANGE, QuotaAdmission, RESOURCE_QUOTA, groupByNamespace } from '../runtime/quota.js';
import type { KubeObject, Store, TxnOp } from '../store/types.js';
import type { Violation } from './project.js';

type Located = { object: KubeObject; source: { file: string; line: number } };

/** How many pods a workload runs at once (a DaemonSet: one per node). */
function podsOf(o: KubeObject, nodes: number): number {
  const spec = (o.spec ?? {}) as {
    replicas?: number;
    parallelism?: number;
    jobTemplate?: { spec?: { parallelism?: number } };
  };
  switch (o.kind) {
    case 'Pod':
      return 1;
    case 'DaemonSet':
      return Math.max(1, nodes);
    case 'Job':
      return spec.parallelism ?? 1;
    case 'CronJob':
      return spec.jobTemplate?.spec?.parallelism ?? 1;
    default:
      return spec.replicas ?? 1;
  }
}

/** The namespace's quotas and limit ranges: the commit's own where it declares them, else the live ones. */
async function policiesOf(
  store: Store,
  namespace: string,
  declared: Located[],
): Promise<{ quotas: QuotaObject[]; ranges: LimitRangeItem[] }> {
  const mine = (kind: string) =>
    declared
      .filter((d) => d.object.kind === kind && (d.object.metadata.namespace ?? 'default') === namespace)
      .map((d) => d.object);
  const quotas = mine('ResourceQuota').length
    ? mine('ResourceQuota')
    : (await store.list({ ...RESOURCE_QUOTA, namespace })).items;
  const ranges = mine('LimitRange').length
    ? mine('LimitRange')
    : (await store.list({ ...LIMIT_RANGE, namespace })).items;
  return { quotas: quotas as QuotaObject[], ranges: limitRangeItems(ranges) };
}

/** The commit's workloads against their namespaces' quotas and limit ranges, with file:line. */
export async function workloadQuotaViolations(store: Store, objects: LoadedObject[]): Promise<Violation[]> {
  const located = objects.map((o) => ({ object: o.object as KubeObject, source: o.source }));
  const workloads = located.filter((o) => podTemplateOf(o.object));
  if (!workloads.length) return [];
  const nodes = workloads.some((w) => w.object.kind === 'DaemonSet')
    ? (await store.list({ group: '', kind: 'Node' })).items.length
    : 0;
  const out: Violation[] = [];
  for (const [namespace, list] of groupByNamespace(workloads, (w) => w.object.metadata.namespace ?? 'default')) {
    const { quotas, ranges } = await policiesOf(store, namespace, located);
    if (!quotas.length && !ranges.length) continue;
    let running: Usage = {};
    for (const w of list) {
      const template = podTemplateOf(w.object)!;
      const pod = applyLimitRangeDefaults(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: w.object.metadata.name, namespace },
          spec: structuredClone(template.spec),
        },
        ranges,
      );
      const what = `${w.object.kind} ${namespace}/${w.object.metadata.name}`;
      const at = { file: w.source.file, line: w.source.line };
      const bounds = limitRangeViolations(pod, ranges);
      if (bounds.length) out.push({ ...at, message: `${what}: its pods are forbidden: ${bounds.join(', ')}` });
      const one = usageOf(pod, 'pods');
      const count = podsOf(w.object, nodes);
      const requested: Usage = Object.fromEntries(Object.entries(one).map(([k, v]) => [k, v * BigInt(count)]));
      for (const q of quotas) {
        const missing = missingForQuota(q, pod);
        if (missing) out.push({ ...at, message: `${what}: its pods are forbidden: ${missing}` });
        // "used" is what the commit's earlier workloads in this namespace ask for.
        const exceeded = exceededQuota(q, running, requested);
        if (exceeded)
          out.push({
            ...at,
            message: `${what}: ${count} pod${count === 1 ? '' : 's'} would be forbidden: ${exceeded}`,
          });
      }
      running = sumUsage([running, requested]);
    }
  }
  return out;
}

/**
 * The quota charges for the objects a sync is about to create, namespace by namespace, as store
 * operations to commit with them; or the first create that does not fit, as a violation at its
 * file:line (and no charge).
 */
export async function chargeCreates(
  store: Store,
  creates: KubeObject[],
  sourceOf: (o: KubeObject) => { file: string; line: number } | undefined,
): Promise<{ charges: TxnOp[]; violations: Violation[] }> {
  const admission = new QuotaAdmission(store);
  const namespaced = creates.filter((o) => o.metadata.namespace && kindInfoFor(o.apiVersion, o.kind)?.namespaced);
  const charges: TxnOp[] = [];
  for (const [namespace, list] of groupByNamespace(namespaced, (o) => o.metadata.namespace!)) {
    if (!(await admission.hasPolicies(namespace))) continue;
    try {
      // Copies: LimitRange defaults are the API's to add to a user's pod, not a change to what Git says.
      charges.push(...(await admission.admit(list.map((o) => structuredClone(o)))));
    } catch (e) {
      if (!isBerthError(e, 'Forbidden')) throw e;
      return { charges: [], violations: [{ ...(sourceOf(list[0]!) ?? {}), message: (e as BerthError).message }] };
    }
  }
  return { charges, violations: [] };
}
