/**
 * pods/NAME/eviction (policy/v1 Eviction): a delete that honours PodDisruptionBudgets, as
 * Kubernetes' eviction subresource. The pod's budget (api/disruption) grants it or refuses it
 * with 429 TooManyRequests; a grant is charged to the budget's status first (disruptionsAllowed
 * down by one, the pod in disruptedPods, with the budget's resourceVersion as precondition: two
 * evictions cannot both spend the last disruption), then the pod is deleted gracefully.
 * `kubectl drain` and `berth drain` evict through it.
 */
import { timestamp } from '../api/lifecycle.js';
import {
  PDB,
  budgetMatches,
  budgetPod,
  evictionVerdict,
  type BudgetObject,
  type BudgetStatus,
} from '../api/disruption.js';
import { BerthError, isBerthError } from '../api/errors.js';
import type { KubeObject, Store } from '../store/types.js';
import type { Registry } from './registry.js';
import { parentRequest, type ResourceRequest } from './routes.js';

const CONFLICT_RETRIES = 5;

export async function evict(
  store: Store,
  registry: Registry,
  r: ResourceRequest,
  body: unknown,
  dryRun: boolean,
): Promise<Record<string, unknown>> {
  const eviction = (body ?? {}) as {
    kind?: string;
    apiVersion?: string;
    metadata?: { name?: string };
    deleteOptions?: Record<string, unknown>;
  };
  if (eviction.kind !== undefined && eviction.kind !== 'Eviction')
    throw new BerthError(
      'BadRequest',
      `the eviction subresource takes an Eviction (policy/v1), not a ${eviction.kind}`,
    );
  if (eviction.metadata?.name && eviction.metadata.name !== r.name)
    throw new BerthError(
      'BadRequest',
      `name in URL does not match name in Eviction object (${r.name} ≠ ${eviction.metadata.name})`,
    );
  const podRequest: ResourceRequest = { ...parentRequest(r), verb: 'delete' };
  for (let attempt = 0; ; attempt++) {
    const pod = await registry.get(podRequest);
    const { items } = await store.list({ group: PDB.group, kind: PDB.kind, namespace: r.namespace! });
    const budgets = (items as (KubeObject & BudgetObject)[]).filter((b) => budgetMatches(b, pod.metadata.labels));
    const verdict = evictionVerdict(
      budgetPod(pod as Parameters<typeof budgetPod>[0]),
      budgets.map((b) => ({
        name: b.metadata.name,
        ...(b.metadata.generation !== undefined ? { generation: b.metadata.generation } : {}),
        spec: b.spec ?? {},
        ...(b.status ? { status: b.status } : {}),
      })),
    );
    if (!verdict.allowed)
      throw new BerthError(verdict.error.code, verdict.error.message, {
        ...(verdict.causes ? { causes: verdict.causes } : {}),
      });
    if (verdict.charge && !dryRun) {
      const budget = budgets.find((b) => b.metadata.name === verdict.charge)!;
      const status = budget.status as BudgetStatus;
      try {
        await store.update(
          {
            ...budget,
            status: {
              ...status,
              disruptionsAllowed: status.disruptionsAllowed - 1,
              disruptedPods: { ...status.disruptedPods, [pod.metadata.name]: timestamp(new Date()) },
            },
          },
          { expectedRevision: Number(budget.metadata.resourceVersion) },
        );
      } catch (e) {
        // Another eviction (or the controller) wrote the budget since it was read: decide again.
        if (isBerthError(e, 'Conflict') && attempt < CONFLICT_RETRIES) continue;
        throw e;
      }
    }
    await registry.delete(podRequest, eviction.deleteOptions ?? {}, new URLSearchParams(), dryRun);
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
  }
}
