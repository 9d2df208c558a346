/**
 * Converts removed beta API versions to the versions Berth serves, as `kubectl convert` would:
 * Ingress extensions/v1beta1 and networking.k8s.io/v1beta1 → networking.k8s.io/v1; apps/v1beta1,
 * apps/v1beta2 and extensions/v1beta1 workloads → apps/v1; batch/v1beta1 CronJob → batch/v1;
 * HorizontalPodAutoscaler autoscaling/v1 (still served: no warning), v2beta1 and v2beta2 → v2.
 * The old versions' own defaults (which differ from apps/v1's) are applied first, so the object
 * behaves as it did when it was written. Each conversion carries a deprecation warning.
 */
import { METRIC_SOURCE_FIELD } from '../api/metrics.js';
import { error, warning, type Finding } from './diagnostics.js';
import { rollingStrategy } from './defaults.js';
import { arrayAt, isObject, objectAt, setDefault, type PlainObject } from './object.js';

/** What Kubernetes stored for "unlimited" history and deadlines in the old APIs. */
const MAX_INT32 = 2147483647;

interface Legacy {
  to: string;
  /** Absent for a version Kubernetes still serves (autoscaling/v1): converted without a warning. */
  removedIn?: string;
  convert(obj: PlainObject, findings: Finding[]): void;
}

const LEGACY: Record<string, Legacy> = {
  'extensions/v1beta1/Ingress': { to: 'networking.k8s.io/v1', removedIn: '1.22', convert: convertIngress },
  'networking.k8s.io/v1beta1/Ingress': { to: 'networking.k8s.io/v1', removedIn: '1.22', convert: convertIngress },
  'extensions/v1beta1/Deployment': {
    to: 'apps/v1',
    removedIn: '1.16',
    convert: (o) =>
      workload(o, {
        selectorFromTemplate: true,
        rolling: { maxUnavailable: 1, maxSurge: 1 },
        revisionHistoryLimit: MAX_INT32,
        progressDeadlineSeconds: MAX_INT32,
      }),
  },
  'apps/v1beta1/Deployment': {
    to: 'apps/v1',
    removedIn: '1.16',
    convert: (o) =>
      workload(o, {
        selectorFromTemplate: true,
        rolling: { maxUnavailable: '25%', maxSurge: '25%' },
        revisionHistoryLimit: 2,
        progressDeadlineSeconds: 600,
      }),
  },
  'apps/v1beta2/Deployment': { to: 'apps/v1', removedIn: '1.16', convert: () => {} },
  'extensions/v1beta1/ReplicaSet': {
    to: 'apps/v1',
    removedIn: '1.16',
    convert: (o) => workload(o, { selectorFromTemplate: true }),
  },
  'apps/v1beta2/ReplicaSet': { to: 'apps/v1', removedIn: '1.16', convert: () => {} },
  'extensions/v1beta1/DaemonSet': {
    to: 'apps/v1',
    removedIn: '1.16',
    convert: (o) => workload(o, { selectorFromTemplate: true, updateStrategy: { type: 'OnDelete' } }),
  },
  'apps/v1beta2/DaemonSet': { to: 'apps/v1', removedIn: '1.16', convert: () => {} },
  'apps/v1beta1/StatefulSet': {
    to: 'apps/v1',
    removedIn: '1.16',
    convert: (o) => workload(o, { selectorFromTemplate: true, updateStrategy: { type: 'OnDelete' } }),
  },
  'apps/v1beta2/StatefulSet': { to: 'apps/v1', removedIn: '1.16', convert: () => {} },
  'batch/v1beta1/CronJob': { to: 'batch/v1', removedIn: '1.25', convert: () => {} },
  // Kubernetes serves HPAs as autoscaling/v1 and v2 and stores v2: so does Berth.
  'autoscaling/v1/HorizontalPodAutoscaler': { to: 'autoscaling/v2', convert: autoscalerV1 },
  'autoscaling/v2beta2/HorizontalPodAutoscaler': { to: 'autoscaling/v2', removedIn: '1.26', convert: () => {} },
  'autoscaling/v2beta1/HorizontalPodAutoscaler': {
    to: 'autoscaling/v2',
    removedIn: '1.25',
    convert: autoscalerV2beta1,
  },
};

export function isLegacy(apiVersion: string, kind: string): boolean {
  return `${apiVersion}/${kind}` in LEGACY;
}

/** Converts in place; returns the findings (a deprecation warning, and errors for mixed shapes). */
export function convertLegacy(obj: PlainObject): Finding[] {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const legacy = LEGACY[key];
  if (!legacy) return [];
  const findings: Finding[] = legacy.removedIn
    ? [
        warning(
          'Deprecated',
          ['apiVersion'],
          `${obj.apiVersion} ${obj.kind} is deprecated (removed in Kubernetes ${legacy.removedIn}); converted to ${legacy.to}`,
        ),
      ]
    : [];
  legacy.convert(obj, findings);
  obj.apiVersion = legacy.to;
  return findings;
}

interface WorkloadDefaults {
  selectorFromTemplate?: boolean;
  rolling?: { maxUnavailable: number | string; maxSurge: number | string };
  revisionHistoryLimit?: number;
  progressDeadlineSeconds?: number;
  updateStrategy?: { type: string };
}

function workload(obj: PlainObject, d: WorkloadDefaults): void {
  const spec = objectAt(obj, 'spec');
  if (!spec) return;
  const labels = objectAt(objectAt(spec.template, 'metadata'), 'labels');
  // The beta APIs defaulted a missing selector to the template's labels; apps/v1 requires it.
  if (d.selectorFromTemplate && spec.selector == null && labels) spec.selector = { matchLabels: { ...labels } };
  if (d.rolling) rollingStrategy(spec, 'strategy', d.rolling);
  if (d.revisionHistoryLimit !== undefined) setDefault(spec, 'revisionHistoryLimit', d.revisionHistoryLimit);
  if (d.progressDeadlineSeconds !== undefined) setDefault(spec, 'progressDeadlineSeconds', d.progressDeadlineSeconds);
  if (d.updateStrategy) setDefault(spec, 'updateStrategy', { ...d.updateStrategy });
}

/** autoscaling/v1: one CPU target (targetCPUUtilizationPercentage), as a v2 Resource metric. */
function autoscalerV1(obj: PlainObject): void {
  const spec = objectAt(obj, 'spec');
  if (!spec || spec.targetCPUUtilizationPercentage === undefined) return;
  spec.metrics = [
    {
      type: 'Resource',
      resource: {
        name: 'cpu',
        target: { type: 'Utilization', averageUtilization: spec.targetCPUUtilizationPercentage },
      },
    },
  ];
  delete spec.targetCPUUtilizationPercentage;
}

/** autoscaling/v2beta1's metric shapes (targetAverageUtilization, metricName, targetValue, …) as v2's targets. */
function autoscalerV2beta1(obj: PlainObject): void {
  const target = (m: PlainObject): PlainObject =>
    m.targetAverageUtilization !== undefined
      ? { type: 'Utilization', averageUtilization: m.targetAverageUtilization }
      : m.targetAverageValue !== undefined
        ? { type: 'AverageValue', averageValue: m.targetAverageValue }
        : { type: 'Value', value: m.targetValue };
  const metric = (m: PlainObject, selector: unknown): PlainObject => ({
    name: m.metricName,
    ...(selector !== undefined ? { selector } : {}),
  });
  arrayAt(objectAt(obj, 'spec'), 'metrics').forEach((m) => {
    if (!isObject(m)) return;
    const field = METRIC_SOURCE_FIELD[String(m.type)];
    const old = field ? objectAt(m, field) : undefined;
    if (!field || !old) return;
    m[field] =
      m.type === 'Resource' || m.type === 'ContainerResource'
        ? { name: old.name, ...(old.container !== undefined ? { container: old.container } : {}), target: target(old) }
        : m.type === 'Object'
          ? {
              describedObject: old.target,
              metric: metric(old, old.selector),
              target:
                old.averageValue !== undefined ? { type: 'AverageValue', averageValue: old.averageValue } : target(old),
            }
          : { metric: metric(old, m.type === 'External' ? old.metricSelector : old.selector), target: target(old) };
  });
}

function convertIngress(obj: PlainObject, findings: Finding[]): void {
  const spec = objectAt(obj, 'spec');
  if (!spec) return;
  if (spec.backend !== undefined) {
    if (spec.defaultBackend === undefined)
      spec.defaultBackend = convertBackend(spec.backend, ['spec', 'backend'], findings, obj);
    delete spec.backend;
  }
  arrayAt(spec, 'rules').forEach((rule, r) => {
    arrayAt(objectAt(rule, 'http'), 'paths').forEach((p, i) => {
      if (!isObject(p)) return;
      const at = ['spec', 'rules', r, 'http', 'paths', i];
      if (p.backend !== undefined) p.backend = convertBackend(p.backend, [...at, 'backend'], findings, obj);
      // v1beta1 defaulted pathType to ImplementationSpecific; v1 requires it.
      setDefault(p, 'pathType', 'ImplementationSpecific');
      if (p.path === null) delete p.path;
    });
  });
}

function convertBackend(backend: unknown, at: (string | number)[], findings: Finding[], obj: PlainObject): unknown {
  if (!isObject(backend)) return backend;
  if ('service' in backend && !('serviceName' in backend)) {
    findings.push(
      error(
        'LegacyFieldMismatch',
        [...at, 'service'],
        `${obj.apiVersion} Ingress backends use serviceName/servicePort; "service.name/port" is the networking.k8s.io/v1 shape: change apiVersion to networking.k8s.io/v1`,
      ),
    );
    return backend;
  }
  const { serviceName, servicePort, ...rest } = backend;
  if (serviceName === undefined && servicePort === undefined) return backend;
  // IntOrString: an int is a port number, a string a port name, exactly as Kubernetes converts.
  const port = typeof servicePort === 'number' ? { number: servicePort } : { name: servicePort };
  return { ...rest, service: { name: serviceName, port } };
}
