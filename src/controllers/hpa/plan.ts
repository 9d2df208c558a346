/**
 * The HorizontalPodAutoscaler's arithmetic, as Kubernetes' replica_calculator.go and horizontal.go
 * do it (facts in ../shared/RESEARCH.md §1): the replica count each metric asks for, over the
 * pods that count (ready ones; missing and not-ready pods corrected for), the 10% tolerance, the
 * max over metrics, the stabilization windows and the scaling policies. Pure: the controller
 * (reconcile.ts) keeps the recommendations and scale events and passes them in.
 */

export const TOLERANCE = 0.1;
/** Kubernetes' --horizontal-pod-autoscaler-cpu-initialization-period and initial-readiness-delay. */
export const CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
export const INITIAL_READINESS_DELAY_MS = 30_000;

/** A pod the HPA's target selects, as the calculation needs it. */
export interface CandidatePod {
  name: string;
  phase?: string | undefined;
  deleting?: boolean;
  /** The Ready condition: its status and when it last changed (ms); none when the pod has none. */
  ready?: { status: boolean; since: number } | undefined;
  /** status.startTime (ms). */
  startedAt?: number | undefined;
  /** The pod's request for the metric's resource, summed over its containers (in the metric's unit); undefined when a container has none. */
  request?: number | undefined;
}

/** A pod's newest sample of a metric: its value (in the metric's unit), when it was taken and over what window. */
export interface Sample {
  value: number;
  timestamp: number;
  windowMs: number;
}

export type Calculation =
  | { ok: true; replicas: number; /** the uncorrected average (or the object's value), for status */ current: number }
  | { ok: false; reason: string; message: string };

interface Groups {
  readyCount: number;
  unready: CandidatePod[];
  missing: CandidatePod[];
  metrics: Map<string, number>;
}

/** Kubernetes' groupPods: which pods' samples count, which are missing, which are not ready yet. */
export function groupPods(pods: CandidatePod[], samples: Map<string, Sample>, cpu: boolean, now: number): Groups {
  const groups: Groups = { readyCount: 0, unready: [], missing: [], metrics: new Map() };
  for (const pod of pods) {
    if (pod.deleting || pod.phase === 'Failed') continue;
    if (pod.phase === 'Pending') {
      groups.unready.push(pod);
      continue;
    }
    const sample = samples.get(pod.name);
    if (!sample) {
      groups.missing.push(pod);
      continue;
    }
    if (cpu && cpuUnready(pod, sample, now)) {
      groups.unready.push(pod);
      continue;
    }
    groups.metrics.set(pod.name, sample.value);
    groups.readyCount++;
  }
  return groups;
}

/** CPU only: a pod still starting (or whose sample began before it was ready) says nothing yet. */
function cpuUnready(pod: CandidatePod, sample: Sample, now: number): boolean {
  if (!pod.ready || pod.startedAt === undefined) return true;
  if (pod.startedAt + CPU_INITIALIZATION_PERIOD_MS > now)
    return !pod.ready.status || sample.timestamp < pod.ready.since + sample.windowMs;
  return !pod.ready.status && pod.startedAt + INITIAL_READINESS_DELAY_MS > pod.ready.since;
}

const withinTolerance = (ratio: number) => Math.abs(1 - ratio) <= TOLERANCE;

/** A Resource metric's Utilization target: usage over requests, in whole percent (as Kubernetes rounds). */
export function utilizationReplicas(
  currentReplicas: number,
  targetPercent: number,
  pods: CandidatePod[],
  samples: Map<string, Sample>,
  cpu: boolean,
  now: number,
): Calculation {
  if (pods.length === 0) return noPods();
  const requests = new Map<string, number>();
  for (const pod of pods) {
    if (pod.request === undefined || pod.request <= 0)
      return {
        ok: false,
        reason: 'FailedGetResourceMetric',
        message: `missing request for ${cpu ? 'cpu' : 'memory'} in pod ${pod.name}`,
      };
    requests.set(pod.name, pod.request);
  }
  const g = groupPods(pods, samples, cpu, now);
  if (g.metrics.size === 0) return noMetrics();
  const utilization = (metrics: Map<string, number>) => {
    let used = 0;
    let requested = 0;
    for (const [name, value] of metrics) {
      used += value;
      requested += requests.get(name)!;
    }
    return Math.floor((used * 100) / requested);
  };
  const current = utilization(g.metrics);
  const ratio = current / targetPercent;
  const fallback = (pod: CandidatePod) => (requests.get(pod.name)! * Math.max(100, targetPercent)) / 100;
  const replicas = corrected(currentReplicas, g, ratio, fallback, (m) => utilization(m) / targetPercent);
  return { ok: true, replicas, current };
}

/** An AverageValue target over pods' samples (Resource AverageValue, or a Pods metric). */
export function averageValueReplicas(
  currentReplicas: number,
  target: number,
  pods: CandidatePod[],
  samples: Map<string, Sample>,
  cpu: boolean,
  now: number,
): Calculation {
  if (pods.length === 0) return noPods();
  const g = groupPods(pods, samples, cpu, now);
  if (g.metrics.size === 0) return noMetrics();
  const average = (metrics: Map<string, number>) => [...metrics.values()].reduce((a, b) => a + b, 0) / metrics.size;
  const current = average(g.metrics);
  const ratio = current / target;
  const replicas = corrected(
    currentReplicas,
    g,
    ratio,
    () => target,
    (m) => average(m) / target,
  );
  return { ok: true, replicas, current };
}

/**
 * The correction step: missing pods count as at their fallback on a scale-down and 0 on a
 * scale-up, not-ready ones as 0 on a scale-up; a correction that reverses the direction or lands
 * within tolerance keeps the current count.
 */
function corrected(
  currentReplicas: number,
  g: Groups,
  ratio: number,
  fallback: (pod: CandidatePod) => number,
  ratioOf: (metrics: Map<string, number>) => number,
): number {
  const scaleUpWithUnready = g.unready.length > 0 && ratio > 1;
  if (!scaleUpWithUnready && g.missing.length === 0) {
    return withinTolerance(ratio) ? currentReplicas : Math.ceil(ratio * g.readyCount);
  }
  const metrics = new Map(g.metrics);
  // At exactly 1 the missing pods are left out: they change nothing either way.
  if (ratio < 1) for (const pod of g.missing) metrics.set(pod.name, fallback(pod));
  else if (ratio > 1) for (const pod of g.missing) metrics.set(pod.name, 0);
  if (scaleUpWithUnready) for (const pod of g.unready) metrics.set(pod.name, 0);
  const newRatio = ratioOf(metrics);
  if (withinTolerance(newRatio) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) return currentReplicas;
  const replicas = Math.ceil(newRatio * metrics.size);
  if ((newRatio < 1 && replicas > currentReplicas) || (newRatio > 1 && replicas < currentReplicas))
    return currentReplicas;
  return replicas;
}

/** An Object metric: a Value target compares the object's value; an AverageValue target divides it by the replicas first. */
export function objectReplicas(
  currentReplicas: number,
  readyPods: number,
  value: number,
  target: { value?: number; averageValue?: number },
): Calculation {
  if (target.averageValue !== undefined) {
    const ratio = value / (target.averageValue * currentReplicas);
    const replicas = withinTolerance(ratio) ? currentReplicas : Math.ceil(value / target.averageValue);
    return { ok: true, replicas, current: value / Math.max(1, currentReplicas) };
  }
  const ratio = value / target.value!;
  if (currentReplicas === 0) return { ok: true, replicas: Math.ceil(ratio), current: value };
  return {
    ok: true,
    replicas: withinTolerance(ratio) ? currentReplicas : Math.ceil(ratio * readyPods),
    current: value,
  };
}

const noPods = (): Calculation => ({
  ok: false,
  reason: 'FailedGetResourceMetric',
  message: 'no pods returned by selector while calculating replica count',
});
const noMetrics = (): Calculation => ({
  ok: false,
  reason: 'FailedGetResourceMetric',
  message: 'did not receive metrics for targeted pods (pods might be unready)',
});

// ---- behavior: stabilization and scaling policies -------------------------------------------

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}
export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
}
export interface Behavior {
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

interface RulesSpec {
  stabilizationWindowSeconds?: number;
  selectPolicy?: string;
  policies?: { type: string; value: number; periodSeconds: number }[];
}

/** Kubernetes' defaults, field by field; the scale-down window defaults to the server's setting (300 s). */
export function behaviorWithDefaults(
  spec: { scaleUp?: RulesSpec; scaleDown?: RulesSpec } | undefined,
  downscaleStabilizationSeconds = 300,
): Behavior {
  const rules = (given: RulesSpec | undefined, defaults: ScalingRules): ScalingRules => ({
    stabilizationWindowSeconds: given?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: (given?.selectPolicy as ScalingRules['selectPolicy'] | undefined) ?? defaults.selectPolicy,
    policies: (given?.policies as ScalingPolicy[] | undefined) ?? defaults.policies,
  });
  return {
    scaleUp: rules(spec?.scaleUp, {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ],
    }),
    scaleDown: rules(spec?.scaleDown, {
      stabilizationWindowSeconds: downscaleStabilizationSeconds,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    }),
  };
}

export interface Recommendation {
  replicas: number;
  at: number;
}
export interface ScaleEvent {
  /** Replicas added (scale-up) or removed (scale-down), positive. */
  change: number;
  at: number;
}

/**
 * The stabilization windows: up to the lowest recommendation of the scale-up window, down to the
 * highest of the scale-down window. Returns the new recommendation list (this one recorded,
 * the oldest outside both windows replaced).
 */
export function stabilize(
  current: number,
  desired: number,
  behavior: Behavior,
  recommendations: Recommendation[],
  now: number,
): { replicas: number; recommendations: Recommendation[]; reason: string; message: string } {
  const upCutoff = now - behavior.scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoff = now - behavior.scaleDown.stabilizationWindowSeconds * 1000;
  let up = desired;
  let down = desired;
  let old = -1;
  recommendations.forEach((r, i) => {
    if (r.at > upCutoff) up = Math.min(up, r.replicas);
    if (r.at > downCutoff) down = Math.max(down, r.replicas);
    if (r.at < upCutoff && r.at < downCutoff) old = i;
  });
  const replicas = Math.min(Math.max(current, up), down);
  const next = [...recommendations];
  if (old >= 0) next[old] = { replicas: desired, at: now };
  else next.push({ replicas: desired, at: now });
  return desired >= current
    ? {
        replicas,
        recommendations: next,
        reason: 'ScaleUpStabilized',
        message: 'recent recommendations were lower than current one, applying the lowest recent recommendation',
      }
    : {
        replicas,
        recommendations: next,
        reason: 'ScaleDownStabilized',
        message: 'recent recommendations were higher than current one, applying the highest recent recommendation',
      };
}

const changeWithin = (periodSeconds: number, events: ScaleEvent[], now: number) =>
  events.filter((e) => e.at > now - periodSeconds * 1000).reduce((sum, e) => sum + e.change, 0);

/**
 * What the policies allow now (calculateScaleUpLimitWithScalingRules and
 * calculateScaleDownLimitWithBehaviors): each policy's bound from the count at the start of its
 * period; Max takes the biggest change, Min the smallest, Disabled none.
 */
function policyLimit(
  direction: 'up' | 'down',
  current: number,
  ups: ScaleEvent[],
  downs: ScaleEvent[],
  rules: ScalingRules,
  now: number,
): number {
  if (rules.selectPolicy === 'Disabled') return current;
  // Up, the biggest change is the highest count; down, the lowest.
  const biggest = (direction === 'up') === (rules.selectPolicy !== 'Min');
  let result = biggest ? -Infinity : Infinity;
  for (const p of rules.policies) {
    const start = current - changeWithin(p.periodSeconds, ups, now) + changeWithin(p.periodSeconds, downs, now);
    const proposed =
      direction === 'up'
        ? p.type === 'Pods'
          ? start + p.value
          : Math.ceil(start * (1 + p.value / 100))
        : p.type === 'Pods'
          ? start - p.value
          : Math.trunc(start * (1 - p.value / 100));
    result = biggest ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

export const scaleUpLimit = (
  current: number,
  ups: ScaleEvent[],
  downs: ScaleEvent[],
  rules: ScalingRules,
  now: number,
) => policyLimit('up', current, ups, downs, rules, now);
export const scaleDownLimit = (
  current: number,
  ups: ScaleEvent[],
  downs: ScaleEvent[],
  rules: ScalingRules,
  now: number,
) => policyLimit('down', current, ups, downs, rules, now);

/** convertDesiredReplicasWithBehaviorRate: the policies' rate limits and [min, max], with why it was limited. */
export function limitRate(
  current: number,
  desired: number,
  min: number,
  max: number,
  behavior: Behavior,
  ups: ScaleEvent[],
  downs: ScaleEvent[],
  now: number,
): { replicas: number; limited: boolean; reason: string; message: string } {
  if (desired > current) {
    const limit = Math.max(current, scaleUpLimit(current, ups, downs, behavior.scaleUp, now));
    const [allowed, reason, message] =
      max > limit
        ? [limit, 'ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate']
        : [max, 'TooManyReplicas', 'the desired replica count is more than the maximum replica count'];
    if (desired > allowed) return { replicas: allowed, limited: true, reason, message };
  } else if (desired < current) {
    const limit = Math.min(current, scaleDownLimit(current, ups, downs, behavior.scaleDown, now));
    const [allowed, reason, message] =
      min < limit
        ? [limit, 'ScaleDownLimit', 'the desired replica count is decreasing faster than the maximum scale rate']
        : [min, 'TooFewReplicas', 'the desired replica count is less than the minimum replica count'];
    if (desired < allowed) return { replicas: allowed, limited: true, reason, message };
  }
  return {
    replicas: desired,
    limited: false,
    reason: 'DesiredWithinRange',
    message: 'the desired count is within the acceptable range',
  };
}

/** Scale events older than the longest policy period are forgotten. */
export function recentEvents(events: ScaleEvent[], rules: ScalingRules, now: number): ScaleEvent[] {
  const longest = Math.max(0, ...rules.policies.map((p) => p.periodSeconds));
  return events.filter((e) => e.at > now - longest * 1000);
}
