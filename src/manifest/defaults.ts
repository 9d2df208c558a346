/**
 * Kubernetes' defaulting for the fields Berth supports (the SetDefaults_* functions of core/v1,
 * apps/v1, batch/v1 and networking/v1), applied in place. Defaulting never overwrites a value the
 * user wrote and never assumes a shape: a field of the wrong type is left for validation to name.
 */
import { arrayAt, ensureObject, isObject, objectAt, setDefault, type PlainObject } from './object.js';

export interface DefaultingOptions {
  /** Namespace for namespaced objects that name none (the Application's destination). */
  namespace: string;
}

type Defaulter = (obj: PlainObject) => void;

const BY_KIND: Record<string, Defaulter> = {
  Pod: (o) => withObject(o, 'spec', podSpec),
  Deployment: (o) =>
    withObject(o, 'spec', (spec) => {
      setDefault(spec, 'replicas', 1);
      rollingStrategy(spec, 'strategy', { maxUnavailable: '25%', maxSurge: '25%' });
      setDefault(spec, 'revisionHistoryLimit', 10);
      setDefault(spec, 'progressDeadlineSeconds', 600);
      podTemplate(spec);
    }),
  ReplicaSet: (o) =>
    withObject(o, 'spec', (spec) => {
      setDefault(spec, 'replicas', 1);
      podTemplate(spec);
    }),
  ReplicationController: (o) =>
    withObject(o, 'spec', (spec) => {
      setDefault(spec, 'replicas', 1);
      podTemplate(spec);
      // As Kubernetes: no selector means the template's labels.
      const labels = (spec.template as { metadata?: { labels?: Record<string, string> } } | undefined)?.metadata
        ?.labels;
      if ((spec.selector == null || Object.keys(spec.selector as object).length === 0) && labels)
        spec.selector = { ...labels };
    }),
  DaemonSet: (o) =>
    withObject(o, 'spec', (spec) => {
      rollingStrategy(spec, 'updateStrategy', { maxUnavailable: 1, maxSurge: 0 });
      setDefault(spec, 'revisionHistoryLimit', 10);
      podTemplate(spec);
    }),
  StatefulSet: (o) =>
    withObject(o, 'spec', (spec) => {
      setDefault(spec, 'replicas', 1);
      setDefault(spec, 'podManagementPolicy', 'OrderedReady');
      rollingStrategy(spec, 'updateStrategy', { partition: 0 });
      setDefault(spec, 'revisionHistoryLimit', 10);
      setDefault(spec, 'persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' });
      for (const t of arrayAt(spec, 'volumeClaimTemplates')) withObject(t, 'spec', pvcSpec);
      podTemplate(spec);
    }),
  Job: (o) => withObject(o, 'spec', jobSpec),
  CronJob: (o) =>
    withObject(o, 'spec', (spec) => {
      setDefault(spec, 'concurrencyPolicy', 'Allow');
      setDefault(spec, 'suspend', false);
      setDefault(spec, 'successfulJobsHistoryLimit', 3);
      setDefault(spec, 'failedJobsHistoryLimit', 1);
      withObject(spec.jobTemplate, 'spec', jobSpec);
    }),
  Service: (o) => withObject(o, 'spec', serviceSpec),
  Secret: (o) => {
    setDefault(o, 'type', 'Opaque');
    // As the API server's decoding does: stringData is written into data (base64) and dropped.
    const stringData = objectAt(o, 'stringData');
    if (stringData) {
      const data = ensureObject(o, 'data');
      if (data) {
        for (const [k, v] of Object.entries(stringData))
          if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8').toString('base64');
        delete o.stringData;
      }
    }
  },
  PersistentVolumeClaim: (o) => withObject(o, 'spec', pvcSpec),
  Ingress: () => {},
};

export function applyDefaults(obj: PlainObject, namespaced: boolean, options: DefaultingOptions): void {
  const meta = objectAt(obj, 'metadata');
  if (meta && namespaced) setDefault(meta, 'namespace', options.namespace);
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  BY_KIND[kind]?.(obj);
}

/**
 * `spec[field]` defaults to type RollingUpdate, and a RollingUpdate strategy's rollingUpdate to
 * the given values (Deployment strategy, DaemonSet and StatefulSet updateStrategy).
 */
export function rollingStrategy(spec: PlainObject, field: string, rolling: Record<string, unknown>): void {
  const strategy = ensureObject(spec, field);
  if (!strategy) return;
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy.type !== 'RollingUpdate') return;
  const ru = ensureObject(strategy, 'rollingUpdate');
  if (ru) for (const [k, v] of Object.entries(rolling)) setDefault(ru, k, v);
}

function withObject(parent: unknown, key: string, fn: (o: PlainObject) => void): void {
  const o = objectAt(parent, key);
  if (o) fn(o);
}

function podTemplate(spec: PlainObject): void {
  withObject(spec.template, 'spec', podSpec);
}

function jobSpec(spec: PlainObject): void {
  // Neither set: one pod to completion. parallelism alone: a work queue (completions stays unset).
  if (spec.completions == null && spec.parallelism == null) spec.completions = 1;
  setDefault(spec, 'parallelism', 1);
  setDefault(spec, 'backoffLimit', spec.backoffLimitPerIndex != null ? 2147483647 : 6);
  setDefault(spec, 'completionMode', 'NonIndexed');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'podReplacementPolicy', spec.podFailurePolicy != null ? 'Failed' : 'TerminatingOrFailed');
  podTemplate(spec);
}

function pvcSpec(spec: PlainObject): void {
  setDefault(spec, 'volumeMode', 'Filesystem');
}

function serviceSpec(spec: PlainObject): void {
  setDefault(spec, 'type', 'ClusterIP');
  setDefault(spec, 'sessionAffinity', 'None');
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') setDefault(spec, 'externalTrafficPolicy', 'Cluster');
  if (spec.type !== 'ExternalName') setDefault(spec, 'internalTrafficPolicy', 'Cluster');
  for (const p of arrayAt(spec, 'ports')) {
    if (!isObject(p)) continue;
    setDefault(p, 'protocol', 'TCP');
    setDefault(p, 'targetPort', p.port);
  }
}

function podSpec(spec: PlainObject): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'enableServiceLinks', true);
  for (const c of [...arrayAt(spec, 'initContainers'), ...arrayAt(spec, 'containers')]) if (isObject(c)) container(c);
  for (const v of arrayAt(spec, 'volumes')) if (isObject(v)) volume(v);
}

function container(c: PlainObject): void {
  if (typeof c.image === 'string') setDefault(c, 'imagePullPolicy', defaultPullPolicy(c.image));
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  for (const p of arrayAt(c, 'ports')) if (isObject(p)) setDefault(p, 'protocol', 'TCP');
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) withObject(c, probe, probeDefaults);
  const lifecycle = objectAt(c, 'lifecycle');
  for (const hook of ['postStart', 'preStop']) withObject(lifecycle, hook, (h) => withObject(h, 'httpGet', httpGet));
}

function probeDefaults(p: PlainObject): void {
  setDefault(p, 'timeoutSeconds', 1);
  setDefault(p, 'periodSeconds', 10);
  setDefault(p, 'successThreshold', 1);
  setDefault(p, 'failureThreshold', 3);
  withObject(p, 'httpGet', httpGet);
}

function httpGet(h: PlainObject): void {
  setDefault(h, 'path', '/');
  setDefault(h, 'scheme', 'HTTP');
}

function volume(v: PlainObject): void {
  withObject(v, 'configMap', (s) => setDefault(s, 'defaultMode', 0o644));
  withObject(v, 'secret', (s) => setDefault(s, 'defaultMode', 0o644));
  withObject(v, 'downwardAPI', (s) => setDefault(s, 'defaultMode', 0o644));
  withObject(v, 'projected', (s) => setDefault(s, 'defaultMode', 0o644));
  withObject(v, 'hostPath', (s) => setDefault(s, 'type', ''));
}

/** `:latest` or no tag pulls every time; a pinned tag or digest only when missing. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon === -1) return 'Always';
  return lastSegment.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}
