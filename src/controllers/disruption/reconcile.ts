/**
 * The disruption controller: keeps each PodDisruptionBudget's status current (expected and
 * healthy pods, how many may be disrupted now), as Kubernetes' does. The eviction subresource
 * (server/eviction) reads that status to grant or refuse an eviction and records what it
 * granted in disruptedPods; this controller forgets each grant once its pod is gone (or after
 * two minutes, when the eviction never deleted it).
 */
import { CONDITION } from '../../api/conditions.js';
import { timestamp } from '../../api/lifecycle.js';
import {
  DISRUPTION_TIMEOUT_MS,
  PDB,
  budgetMatches,
  budgetPod,
  budgetStatus,
  type BudgetObject,
  type BudgetStatus,
} from '../../api/disruption.js';
import { isBerthError } from '../../api/errors.js';
import type { Controller, InformerFactory, KubeObject, ReconcileResult } from '../../runtime/index.js';
import { sameJson } from '../../runtime/writer.js';
import type { ControllerContext } from '../context.js';
import {
  DEPLOYMENT,
  POD,
  REPLICA_SET,
  STATEFUL_SET,
  controllerOf,
  findCondition,
  keyOf,
  splitKey,
  type PodObject,
} from '../objects.js';

type Budget = KubeObject & BudgetObject;

export class DisruptionController implements Controller {
  readonly name = 'disruption';

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    const budgets = informers.for<Budget>(PDB);
    budgets.on((e) => enqueue(keyOf(e.object)));
    informers.for(POD).on((e) => {
      for (const b of budgets.list(e.object.metadata.namespace ?? 'default'))
        if (budgetMatches(b, e.object.metadata.labels)) enqueue(keyOf(b));
    });
    // A scale change moves expectedPods (maxUnavailable and percentages count the controllers' replicas).
    for (const kind of [REPLICA_SET, DEPLOYMENT, STATEFUL_SET]) {
      informers.for(kind).on((e) => {
        for (const b of budgets.list(e.object.metadata.namespace ?? 'default')) enqueue(keyOf(b));
      });
    }
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const budget = this.ctx.informers.for<Budget>(PDB).get(namespace, name);
    if (!budget || budget.metadata.deletionTimestamp) return {};
    const pods = this.ctx.informers
      .for<PodObject>(POD)
      .list(namespace)
      .filter((p) => budgetMatches(budget, p.metadata.labels));
    const now = Date.now();
    const computed = budgetStatus(
      budget.spec ?? {},
      pods.map(budgetPod),
      this.expectedScale(namespace, pods),
      budget.status?.disruptedPods ?? {},
      now,
    );
    const allowed = computed.disruptionsAllowed > 0;
    const previous = findCondition(budget.status?.conditions as never, CONDITION.DisruptionAllowed);
    const conditionStatus = allowed ? 'True' : 'False';
    const status: BudgetStatus = {
      observedGeneration: budget.metadata.generation ?? 1,
      ...computed,
      conditions: [
        {
          type: CONDITION.DisruptionAllowed,
          status: conditionStatus,
          reason: allowed ? 'SufficientPods' : 'InsufficientPods',
          message: '',
          lastTransitionTime:
            previous?.status === conditionStatus && previous.lastTransitionTime
              ? previous.lastTransitionTime
              : timestamp(new Date(now)),
          observedGeneration: budget.metadata.generation ?? 1,
        },
      ],
    };
    if (!sameJson(budget.status ?? {}, status)) {
      try {
        await this.ctx.writer.updateStatus(budget, status);
      } catch (e) {
        // An eviction charged the budget meanwhile: its write brings this key back.
        if (!isBerthError(e, 'Conflict')) throw e;
      }
    }
    const grants = Object.values(computed.disruptedPods ?? {}).map(
      (at) => Date.parse(at) + DISRUPTION_TIMEOUT_MS - now,
    );
    return grants.length ? { requeueAfterMs: Math.max(1000, Math.min(...grants)) } : {};
  }

  /** What the pods' controllers want in all: a Deployment's replicas for its ReplicaSets' pods; 1 for a pod of none. */
  private expectedScale(namespace: string, pods: PodObject[]): number {
    const seen = new Set<string>();
    let total = 0;
    for (const pod of pods) {
      const ref = controllerOf(pod);
      if (!ref) {
        total += 1;
        continue;
      }
      let owner: KubeObject | undefined =
        ref.kind === 'ReplicaSet'
          ? this.ctx.informers.for(REPLICA_SET).get(namespace, ref.name)
          : ref.kind === 'StatefulSet'
            ? this.ctx.informers.for(STATEFUL_SET).get(namespace, ref.name)
            : undefined;
      const grand = owner && controllerOf(owner);
      if (grand?.kind === 'Deployment') owner = this.ctx.informers.for(DEPLOYMENT).get(namespace, grand.name) ?? owner;
      const id = owner ? `${owner.kind}/${owner.metadata.name}` : `${ref.kind}/${ref.name}`;
      if (seen.has(id)) continue;
      seen.add(id);
      total += owner
        ? ((owner.spec as { replicas?: number } | undefined)?.replicas ?? 1)
        : pods.filter((p) => controllerOf(p)?.uid === ref.uid).length;
    }
    return total;
  }
}
