/**
 * PodDisruptionBudgets as Kubernetes' disruption controller and eviction subresource compute
 * them (pkg/controller/disruption, pkg/registry/core/pod/storage/eviction.go): how many matching
 * pods must stay healthy, how many may go now, and whether one eviction may happen. Pure.
 */
import { CONDITION } from './conditions.js';
import { BerthError } from './errors.js';
import { selectorFromObject, type LabelSelectorObject } from './selector.js';

export const PDB = { group: 'policy', kind: 'PodDisruptionBudget' };

export interface BudgetSpec {
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow';
}

export interface BudgetStatus {
  observedGeneration?: number;
  disruptedPods?: Record<string, string>;
  disruptionsAllowed: number;
  currentHealthy: number;
  desiredHealthy: number;
  expectedPods: number;
  conditions?: unknown[];
}

export interface BudgetObject {
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
  };
  spec?: BudgetSpec & { selector?: LabelSelectorObject };
  status?: BudgetStatus;
}

/** Whether a budget's selector matches a pod's labels (null selects nothing, {} every pod in the namespace). */
export function budgetMatches(budget: BudgetObject, labels: Record<string, string | undefined> | undefined): boolean {
  try {
    return selectorFromObject(budget.spec?.selector).matches((labels ?? {}) as Record<string, string>);
  } catch {
    return false;
  }
}

/** A pod as a budget counts it, from its metadata and status. */
export function budgetPod(pod: {
  metadata: { name: string; deletionTimestamp?: string };
  status?: { conditions?: { type: string; status: string }[] };
}): BudgetPod {
  return {
    name: pod.metadata.name,
    ready: (pod.status?.conditions ?? []).some((c) => c.type === CONDITION.Ready && c.status === 'True'),
    deleting: Boolean(pod.metadata.deletionTimestamp),
  };
}

export interface BudgetPod {
  name: string;
  /** Ready (a pod Kubernetes counts as healthy). */
  ready: boolean;
  /** Being deleted already. */
  deleting: boolean;
}

/** How long an eviction counts against the budget while its pod has not yet gone (Kubernetes' DeletionTimeout). */
export const DISRUPTION_TIMEOUT_MS = 2 * 60 * 1000;

/** An int, or "N%" of total (rounded up as Kubernetes does for budgets). */
export function scaledValue(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9]+)%$/.exec(value);
  if (!m) throw new BerthError('Invalid', `${JSON.stringify(value)} is neither an integer nor a percentage ("50%")`);
  return Math.ceil((Number(m[1]) * total) / 100);
}

/**
 * The status a budget should have: `expectedScale` is what the pods' controllers want in all
 * (needed for maxUnavailable and percentages; Kubernetes reads their scale), disruptedPods the
 * evictions already granted whose pods are not yet gone.
 */
export function budgetStatus(
  spec: BudgetSpec,
  pods: BudgetPod[],
  expectedScale: number,
  disruptedPods: Record<string, string>,
  now: number,
): BudgetStatus {
  const alive = new Map(pods.map((p) => [p.name, p]));
  const stillDisrupted = Object.fromEntries(
    Object.entries(disruptedPods).filter(([name, at]) => {
      const pod = alive.get(name);
      return pod && !pod.deleting && Date.parse(at) + DISRUPTION_TIMEOUT_MS > now;
    }),
  );
  let expectedPods: number;
  let desiredHealthy: number;
  if (spec.maxUnavailable !== undefined) {
    expectedPods = expectedScale;
    desiredHealthy = Math.max(0, expectedPods - scaledValue(spec.maxUnavailable, expectedPods));
  } else if (typeof spec.minAvailable === 'string') {
    expectedPods = expectedScale;
    desiredHealthy = scaledValue(spec.minAvailable, expectedPods);
  } else {
    expectedPods = pods.length;
    desiredHealthy = spec.minAvailable ?? 0;
  }
  const currentHealthy = pods.filter((p) => p.ready && !p.deleting && !(p.name in stillDisrupted)).length;
  return {
    disruptedPods: stillDisrupted,
    disruptionsAllowed: expectedPods > 0 ? Math.max(0, currentHealthy - desiredHealthy) : 0,
    currentHealthy,
    desiredHealthy,
    expectedPods,
  };
}

export type EvictionVerdict =
  | { allowed: true; /** The budget this eviction counts against (a healthy pod's). */ charge?: string }
  | { allowed: false; error: BerthError; causes?: { reason: string; message: string }[] };

/** May this pod be evicted, given the budgets whose selectors match it? */
export function evictionVerdict(
  pod: BudgetPod,
  budgets: { name: string; generation?: number; spec: BudgetSpec; status?: Partial<BudgetStatus> }[],
): EvictionVerdict {
  if (pod.deleting || budgets.length === 0) return { allowed: true };
  if (budgets.length > 1) {
    return {
      allowed: false,
      error: new BerthError(
        'Internal',
        `this pod has more than one PodDisruptionBudget (${budgets.map((b) => b.name).join(', ')}), which the eviction subresource does not support`,
      ),
    };
  }
  const [budget] = budgets as [(typeof budgets)[number]];
  const status = budget.status ?? {};
  const tooMany = (message: string) => ({
    allowed: false as const,
    error: new BerthError('TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget."),
    causes: [{ reason: 'DisruptionBudget', message }],
  });
  if (!pod.ready) {
    // An unhealthy pod adds nothing to the budget: it may go when the budget is met, or always.
    if (budget.spec.unhealthyPodEvictionPolicy === 'AlwaysAllow') return { allowed: true };
    if ((status.currentHealthy ?? 0) >= (status.desiredHealthy ?? 0) && status.observedGeneration !== undefined)
      return { allowed: true };
    return tooMany(
      `The disruption budget ${budget.name} needs ${status.desiredHealthy ?? 0} healthy pods and has ${status.currentHealthy ?? 0} currently`,
    );
  }
  if (status.observedGeneration === undefined || status.observedGeneration < (budget.generation ?? 1)) {
    return tooMany(`The disruption budget ${budget.name} is still being processed by the server.`);
  }
  if ((status.disruptionsAllowed ?? 0) <= 0) {
    return tooMany(
      `The disruption budget ${budget.name} needs ${status.desiredHealthy ?? 0} healthy pods and has ${status.currentHealthy ?? 0} currently`,
    );
  }
  return { allowed: true, charge: budget.name };
}
