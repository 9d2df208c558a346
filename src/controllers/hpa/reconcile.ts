/**
 * The HorizontalPodAutoscaler controller, as Kubernetes' (pkg/controller/podautoscaler): every
 * sync period (15 s; --horizontal-pod-autoscaler-sync-period) each HPA reads its target's pods
 * and their newest usage, asks each metric for a replica count (plan.ts), takes the highest,
 * stabilizes it and limits its rate by the behavior, and writes the target's spec.replicas when
 * it changes — with the conditions (AbleToScale, ScalingActive, ScalingLimited), status and
 * SuccessfulRescale Events Kubernetes gives. Recommendations and scale events are kept here, in
 * memory, as Kubernetes keeps them: a new leader starts with none.
 */
import { timestamp } from '../../api/lifecycle.js';
import { isBerthError } from '../../api/errors.js';
import type { ClusterMetricsSource, PodUsage } from '../../api/metrics.js';
import { parseQuantity } from '../../api/quantity.js';
import { selectorFromLabels, selectorFromObject } from '../../api/selector.js';
import type { Condition } from '../../api/types.gen.js';
import type { Controller, InformerFactory, KubeObject, ReconcileResult } from '../../runtime/index.js';
import { sameJson } from '../../runtime/writer.js';
import { emit, type ControllerContext } from '../context.js';
import { POD, keyOf, splitKey, type PodObject } from '../objects.js';
import {
  averageValueReplicas,
  behaviorWithDefaults,
  objectReplicas,
  limitRate,
  recentEvents,
  stabilize,
  utilizationReplicas,
  type Calculation,
  type CandidatePod,
  type Recommendation,
  type Sample,
  type ScaleEvent,
} from './plan.js';

export const HPA = { group: 'autoscaling', kind: 'HorizontalPodAutoscaler' };
const TARGET_KINDS: Record<string, { group: string; kind: string }> = {
  Deployment: { group: 'apps', kind: 'Deployment' },
  ReplicaSet: { group: 'apps', kind: 'ReplicaSet' },
  StatefulSet: { group: 'apps', kind: 'StatefulSet' },
  ReplicationController: { group: '', kind: 'ReplicationController' },
};

interface MetricTarget {
  type: 'Utilization' | 'Value' | 'AverageValue';
  averageUtilization?: number;
  averageValue?: string | number;
  value?: string | number;
}
interface MetricSpec {
  type: string;
  resource?: { name: string; target: MetricTarget };
  containerResource?: { name: string; container: string; target: MetricTarget };
  pods?: { metric: { name: string }; target: MetricTarget };
  object?: { describedObject: { kind: string; name: string }; metric: { name: string }; target: MetricTarget };
}
type Hpa = KubeObject & {
  spec: {
    scaleTargetRef: { apiVersion?: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics?: MetricSpec[];
    behavior?: Parameters<typeof behaviorWithDefaults>[0];
  };
  status?: { conditions?: Condition[]; lastScaleTime?: string; currentReplicas?: number };
};
type Scalable = KubeObject & { spec?: { replicas?: number; selector?: unknown }; kind: string };

export interface HpaOptions {
  /** --horizontal-pod-autoscaler-sync-period (default 15 s). */
  syncPeriodMs?: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization (default 300 s): the scale-down window when behavior sets none. */
  downscaleStabilizationSeconds?: number;
}

const number = (q: string | number | undefined): number => (q === undefined ? NaN : Number(parseQuantity(q).value));

export class HorizontalPodAutoscalerController implements Controller {
  readonly name = 'horizontal-pod-autoscaler';
  private readonly recommendations = new Map<string, Recommendation[]>();
  private readonly scaleUps = new Map<string, ScaleEvent[]>();
  private readonly scaleDowns = new Map<string, ScaleEvent[]>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly metrics: ClusterMetricsSource,
    private readonly options: HpaOptions = {},
  ) {}

  private get periodMs(): number {
    return this.options.syncPeriodMs ?? 15_000;
  }

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    // A new HPA or a changed spec is handled at once; its own status writes are not (as Kubernetes'
    // rate limiter: each HPA at most once a sync period, the requeue below).
    informers.for<Hpa>(HPA).on((e) => {
      if (e.type !== 'MODIFIED' || e.prevObject?.metadata.generation !== e.object.metadata.generation)
        enqueue(keyOf(e.object));
    });
    // Its pods (their readiness) and its target are read from informers: both must be kept.
    informers.for(POD);
    for (const kind of Object.values(TARGET_KINDS)) informers.for(kind);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const hpa = this.ctx.informers.for<Hpa>(HPA).get(namespace, name);
    if (!hpa || hpa.metadata.deletionTimestamp) {
      this.recommendations.delete(key);
      this.scaleUps.delete(key);
      this.scaleDowns.delete(key);
      return {};
    }
    await this.autoscale(key, hpa);
    return { requeueAfterMs: this.periodMs };
  }

  private async autoscale(key: string, hpa: Hpa): Promise<void> {
    const now = this.ctx.now();
    const conditions = new Conditions(hpa.status?.conditions ?? [], now);
    const ref = hpa.spec.scaleTargetRef;
    const kind = TARGET_KINDS[ref.kind];
    const target = kind && this.ctx.informers.for<Scalable>(kind).get(hpa.metadata.namespace, ref.name);
    const reference = `${ref.kind}/${ref.name}`;
    if (!target) {
      const message = `the HPA controller was unable to get the target's current scale: ${ref.kind.toLowerCase()}s "${ref.name}" not found`;
      conditions.set('AbleToScale', 'False', 'FailedGetScale', message);
      emit(this.ctx, hpa as never, 'Warning', 'FailedGetScale', message);
      return this.writeStatus(hpa, { conditions: conditions.list() });
    }
    const current = target.spec?.replicas ?? 1;
    const min = hpa.spec.minReplicas ?? 1;
    const max = hpa.spec.maxReplicas;
    let desired = current;
    let rescaleReason = '';
    let currentMetrics: unknown[] | undefined;
    // A metric or the rescale failed: the status says so, at the current count.
    const keepCurrent = () =>
      this.writeStatus(hpa, {
        currentReplicas: current,
        desiredReplicas: current,
        currentMetrics,
        conditions: conditions.list(),
      });
    if (current === 0 && min !== 0) {
      conditions.set(
        'ScalingActive',
        'False',
        'ScalingDisabled',
        'scaling is disabled since the replica count of the target is zero',
      );
    } else if (current > max) {
      desired = max;
      rescaleReason = 'Current number of replicas above Spec.MaxReplicas';
    } else if (current < min) {
      desired = min;
      rescaleReason = 'Current number of replicas below Spec.MinReplicas';
    } else {
      const computed = await this.computeReplicas(hpa, target, current, now);
      currentMetrics = computed.statuses;
      if (computed.failed && (computed.failedCount >= computed.total || computed.replicas < current)) {
        conditions.set('ScalingActive', 'False', computed.failed.reason, computed.failed.message);
        emit(this.ctx, hpa as never, 'Warning', computed.failed.reason, computed.failed.message);
        return keepCurrent();
      }
      conditions.set(
        'ScalingActive',
        'True',
        'ValidMetricFound',
        `the HPA was able to successfully calculate a replica count from ${computed.metric}`,
      );
      desired = Math.max(computed.replicas, 0);
      if (desired > current) rescaleReason = `${computed.metric} above target`;
      if (desired < current) rescaleReason = 'All metrics below target';
      desired = this.normalize(key, hpa, current, desired, min, max, conditions, now);
    }
    if (desired !== current) {
      try {
        await this.ctx.writer.update(target, { ...target, spec: { ...target.spec, replicas: desired } });
      } catch (e) {
        if (isBerthError(e, 'Conflict')) throw e; // the target changed meanwhile: read again
        const message = `the HPA controller was unable to update the target scale: ${(e as Error).message}`;
        conditions.set('AbleToScale', 'False', 'FailedUpdateScale', message);
        emit(
          this.ctx,
          hpa as never,
          'Warning',
          'FailedRescale',
          `New size: ${desired}; reason: ${rescaleReason}; error: ${(e as Error).message}`,
        );
        return keepCurrent();
      }
      conditions.set(
        'AbleToScale',
        'True',
        'SucceededRescale',
        `the HPA controller was able to update the target scale to ${desired}`,
      );
      emit(this.ctx, hpa as never, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${rescaleReason}`);
      const events = desired > current ? this.scaleUps : this.scaleDowns;
      events.set(key, [...(events.get(key) ?? []), { change: Math.abs(desired - current), at: now }]);
      this.ctx.log?.info({ hpa: key, target: reference, from: current, to: desired }, 'rescaled');
    }
    await this.writeStatus(hpa, {
      currentReplicas: current,
      desiredReplicas: desired,
      ...(currentMetrics ? { currentMetrics } : {}),
      conditions: conditions.list(),
      ...(desired !== current ? { lastScaleTime: timestamp(new Date(now)) } : {}),
    });
  }

  /** normalizeDesiredReplicasWithBehaviors: stabilization windows, then the policies' rates and [min, max]. */
  private normalize(
    key: string,
    hpa: Hpa,
    current: number,
    desired: number,
    min: number,
    max: number,
    conditions: Conditions,
    now: number,
  ): number {
    const behavior = behaviorWithDefaults(hpa.spec.behavior, this.options.downscaleStabilizationSeconds);
    const stable = stabilize(current, desired, behavior, this.recommendations.get(key) ?? [], now);
    this.recommendations.set(key, stable.recommendations);
    if (stable.replicas !== desired) conditions.set('AbleToScale', 'True', stable.reason, stable.message);
    else conditions.set('AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size');
    const ups = recentEvents(this.scaleUps.get(key) ?? [], behavior.scaleUp, now);
    const downs = recentEvents(this.scaleDowns.get(key) ?? [], behavior.scaleDown, now);
    this.scaleUps.set(key, ups);
    this.scaleDowns.set(key, downs);
    const limited = limitRate(current, stable.replicas, min, max, behavior, ups, downs, now);
    conditions.set('ScalingLimited', limited.limited ? 'True' : 'False', limited.reason, limited.message);
    return limited.replicas;
  }

  /** computeReplicasForMetrics: the highest count any metric asks for, and each metric's status. */
  private async computeReplicas(hpa: Hpa, target: Scalable, current: number, now: number) {
    const pods = this.podsOf(target);
    const specs = hpa.spec.metrics?.length
      ? hpa.spec.metrics
      : [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }];
    let usage: PodUsage[] | undefined;
    const usageOf = async () => (usage ??= (await this.metrics.usage()).pods);
    let replicas = 0;
    let metric = '';
    let failed: { reason: string; message: string } | undefined;
    let failedCount = 0;
    const statuses: unknown[] = [];
    for (const spec of specs as MetricSpec[]) {
      const result = await this.computeOne(
        spec,
        hpa.metadata.namespace ?? 'default',
        pods,
        current,
        now,
        usageOf,
      ).catch((e: Error): { calc: Calculation; status?: unknown } => ({
        calc: { ok: false, reason: 'FailedGetResourceMetric', message: e.message },
      }));
      if (!result.calc.ok) {
        failedCount++;
        failed ??= {
          reason: result.calc.reason,
          message: `the HPA was unable to compute the replica count: ${result.calc.message}`,
        };
        statuses.push({ type: spec.type });
        continue;
      }
      statuses.push(result.status);
      if (result.calc.replicas > replicas) {
        replicas = result.calc.replicas;
        metric = metricName(spec);
      }
    }
    return { replicas, metric, statuses, failed, failedCount, total: specs.length };
  }

  private async computeOne(
    spec: MetricSpec,
    namespace: string,
    pods: PodObject[],
    current: number,
    now: number,
    usage: () => Promise<PodUsage[]>,
  ): Promise<{ calc: Calculation; status?: unknown }> {
    if (spec.type === 'Pods' || spec.type === 'Object') return this.loadMetric(spec, namespace, pods, current, now);
    const source =
      spec.type === 'Resource' ? spec.resource : spec.type === 'ContainerResource' ? spec.containerResource : undefined;
    if (!source)
      return {
        calc: {
          ok: false,
          reason: 'FailedGetExternalMetric',
          message: `unable to get metric ${metricName(spec)}: Berth serves no external metrics`,
        },
      };
    const resource = source.name;
    const container = 'container' in source ? (source.container as string) : undefined;
    const cpu = resource === 'cpu';
    const samples = resourceSamples(await usage(), pods, resource, container);
    const candidates = pods.map((p) => candidateOf(p, resource, container));
    const t = source.target;
    const calc =
      t.type === 'Utilization'
        ? utilizationReplicas(current, t.averageUtilization ?? 80, candidates, samples, cpu, now)
        : averageValueReplicas(current, number(t.averageValue), candidates, samples, cpu, now);
    if (!calc.ok) return { calc };
    const field = spec.type === 'Resource' ? 'resource' : 'containerResource';
    const averageUsage = average([...samples.values()].map((s) => s.value));
    const currentValue =
      t.type === 'Utilization'
        ? { averageUtilization: calc.current, averageValue: quantityText(averageUsage, cpu) }
        : { averageValue: quantityText(calc.current, cpu) };
    return {
      calc,
      status: {
        type: spec.type,
        [field]: { name: resource, ...(container ? { container } : {}), current: currentValue },
      },
    };
  }

  /**
   * A Pods metric (each pod's average against an AverageValue) or an Object metric (an Ingress's
   * or Service's value against a Value, or per pod against an AverageValue), from the data planes'
   * request counts: requests_per_second or requests_in_flight.
   */
  private async loadMetric(
    spec: MetricSpec,
    namespace: string,
    pods: PodObject[],
    current: number,
    now: number,
  ): Promise<{ calc: Calculation; status?: unknown }> {
    const source = spec.type === 'Pods' ? spec.pods : spec.object;
    const metric = (source?.metric.name ?? '').replace(/-/g, '_');
    const reason = spec.type === 'Pods' ? 'FailedGetPodsMetric' : 'FailedGetObjectMetric';
    if (!source || !LOAD_METRICS.includes(metric))
      return {
        calc: {
          ok: false,
          reason,
          message: `unable to get metric ${source?.metric.name}: Berth serves ${LOAD_METRICS.join(' and ')}`,
        },
      };
    const load = await this.metrics.load();
    const valueOf = (kind: string, name: string) => {
      const e = load.entries.find((x) => x.kind === kind && x.namespace === namespace && x.name === name);
      return metric === 'requests_per_second' ? (e?.requestsPerSecond ?? 0) : (e?.inFlight ?? 0);
    };
    const t = source.target;
    if (spec.type === 'Pods') {
      // Every pod the data planes route to is counted; one no request reached in the window has 0.
      const samples = new Map<string, Sample>(
        pods.map((p) => [
          p.metadata.name,
          { value: valueOf('Pod', p.metadata.name), timestamp: load.timestamp, windowMs: load.windowMs },
        ]),
      );
      const candidates = pods.map((p) => candidateOf(p, '', undefined));
      const calc = averageValueReplicas(current, number(t.averageValue), candidates, samples, false, now);
      if (!calc.ok) return { calc: { ...calc, reason } };
      return {
        calc,
        status: {
          type: 'Pods',
          pods: { metric: { name: source.metric.name }, current: { averageValue: milli(calc.current) } },
        },
      };
    }
    const described = spec.object!.describedObject;
    const value = valueOf(described.kind, described.name);
    const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    const calc = objectReplicas(current, ready.length, value, {
      ...(t.averageValue !== undefined ? { averageValue: number(t.averageValue) } : { value: number(t.value) }),
    });
    if (!calc.ok) return { calc };
    return {
      calc,
      status: {
        type: 'Object',
        object: {
          describedObject: spec.object!.describedObject,
          metric: { name: source.metric.name },
          current: t.averageValue !== undefined ? { averageValue: milli(calc.current) } : { value: milli(value) },
        },
      },
    };
  }

  private podsOf(target: Scalable): PodObject[] {
    const selector =
      target.kind === 'ReplicationController'
        ? selectorFromLabels((target.spec?.selector ?? {}) as Record<string, string>)
        : selectorFromObject(target.spec?.selector as never);
    return this.ctx.informers
      .for<PodObject>(POD)
      .list(target.metadata.namespace ?? 'default')
      .filter((p) => selector.matches(p.metadata.labels ?? {}));
  }

  private async writeStatus(hpa: Hpa, status: Record<string, unknown>): Promise<void> {
    const next = {
      observedGeneration: hpa.metadata.generation ?? 1,
      ...(hpa.status?.lastScaleTime ? { lastScaleTime: hpa.status.lastScaleTime } : {}),
      ...status,
    };
    if (sameJson(hpa.status ?? {}, next)) return;
    try {
      await this.ctx.writer.updateStatus(hpa, next);
    } catch (e) {
      if (!isBerthError(e, 'Conflict')) throw e;
    }
  }
}

/** How Kubernetes names a metric in conditions and Events ("cpu resource utilization (percentage of request)"). */
function metricName(spec: MetricSpec): string {
  const utilization = ' resource utilization (percentage of request)';
  switch (spec.type) {
    case 'Resource':
      return `${spec.resource?.name}${spec.resource?.target.type === 'Utilization' ? utilization : ' resource'}`;
    case 'ContainerResource':
      return `${spec.containerResource?.name} container${spec.containerResource?.target.type === 'Utilization' ? utilization : ' resource'}`;
    case 'Pods':
      return `pods metric ${spec.pods?.metric.name}`;
    case 'Object':
      return `${spec.object?.describedObject.kind} metric ${spec.object?.metric.name}`;
    default:
      return 'external metric';
  }
}

/** The custom metrics the data planes count (network/load.ts). */
const LOAD_METRICS = ['requests_per_second', 'requests_in_flight'];
const milli = (value: number) => `${Math.round(value * 1000)}m`;

const average = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);

/** A CPU average as millicores (`250m`), memory as bytes. */
function quantityText(value: number, cpu: boolean): string {
  return cpu ? `${Math.round(value * 1000)}m` : String(Math.round(value));
}

/** Each pod's newest sample of a resource (its containers summed, or the one named). */
function resourceSamples(
  usage: PodUsage[],
  pods: PodObject[],
  resource: string,
  container: string | undefined,
): Map<string, Sample> {
  const uids = new Set(pods.map((p) => p.metadata.uid));
  const out = new Map<string, Sample>();
  for (const u of usage) {
    if (!uids.has(u.uid)) continue;
    const containers = u.containers.filter((c) => !container || c.name === container);
    if (!containers.length) continue;
    const value = containers.reduce((sum, c) => sum + (resource === 'cpu' ? c.cpuCores : c.memoryBytes), 0);
    out.set(u.name, { value, timestamp: u.timestamp, windowMs: u.windowMs });
  }
  return out;
}

/** What the calculation needs of a pod: phase, readiness, start, and its request of the resource. */
function candidateOf(pod: PodObject, resource: string, container: string | undefined): CandidatePod {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  let request: number | undefined = 0;
  for (const c of pod.spec?.containers ?? []) {
    if (container && c.name !== container) continue;
    const r = (c.resources?.requests as Record<string, string | number> | undefined)?.[resource];
    if (r === undefined) {
      request = undefined;
      break;
    }
    request += number(r);
  }
  return {
    name: pod.metadata.name,
    phase: pod.status?.phase,
    deleting: Boolean(pod.metadata.deletionTimestamp),
    ready: ready
      ? { status: ready.status === 'True', since: Date.parse(ready.lastTransitionTime ?? '') || 0 }
      : undefined,
    startedAt: pod.status?.startTime ? Date.parse(pod.status.startTime) : undefined,
    request,
  };
}

/** The HPA's conditions, each keeping its lastTransitionTime while its status holds. */
class Conditions {
  private readonly byType = new Map<string, Condition>();
  constructor(
    previous: Condition[],
    private readonly now: number,
  ) {
    for (const c of previous) this.byType.set(c.type, c);
  }
  set(type: string, status: 'True' | 'False', reason: string, message: string): void {
    const before = this.byType.get(type);
    this.byType.set(type, {
      type,
      status,
      reason,
      message,
      lastTransitionTime:
        before?.status === status && before.lastTransitionTime
          ? before.lastTransitionTime
          : timestamp(new Date(this.now)),
    });
  }
  list(): Condition[] {
    const order = ['AbleToScale', 'ScalingActive', 'ScalingLimited'];
    return [...this.byType.values()].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
  }
}
