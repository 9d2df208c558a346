/**
 * The checks a JSON Schema cannot express, as Kubernetes' validation makes them: names, label
 * syntax, selectors that select their own template, quantities, base64 data, port and volume
 * references. Every check tolerates any shape (schema errors are reported separately).
 */
import {
  configMapKey,
  dns1035Label,
  dns1123Label,
  dns1123Subdomain,
  ianaServiceName,
  labelValue,
  qualifiedName,
} from '../api/names.js';
import { METRIC_SOURCE_FIELD } from '../api/metrics.js';
import { parseQuantity } from '../api/quantity.js';
import { selectorFromObject, type LabelSelectorObject } from '../api/selector.js';
import { error, warning, type FieldPath, type Finding } from './diagnostics.js';
import { arrayAt, isObject, objectAt, stringAt, type PlainObject } from './object.js';
import { isTimeZone, scheduleProblem } from './schedule.js';

const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** Name rules per kind, as the Kubernetes API validates metadata.name. */
const NAME_RULE: Record<string, (v: string) => string[]> = {
  Namespace: dns1123Label,
  Service: dns1035Label,
  Application: dns1123Label,
};

const SUPPORTED_VOLUME_SOURCES = [
  'emptyDir',
  'hostPath',
  'configMap',
  'secret',
  'persistentVolumeClaim',
  'nfs',
  'downwardAPI',
  'projected',
];
const STANDARD_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage', 'storage']);

export function checkSemantics(obj: PlainObject, namespaced: boolean): Finding[] {
  const out: Finding[] = [];
  const kind = String(obj.kind);
  checkMetadata(obj.metadata, ['metadata'], kind, namespaced, out);
  const spec = objectAt(obj, 'spec');
  switch (kind) {
    case 'NetworkPolicy':
      out.push(
        warning(
          'NotEnforced',
          ['kind'],
          'NetworkPolicy is stored but not enforced: Berth has no network policy data plane yet, so pods stay reachable',
        ),
      );
      break;
    case 'Pod':
      if (spec) checkPodSpec(spec, ['spec'], out);
      break;
    case 'Deployment':
    case 'ReplicaSet':
    case 'DaemonSet':
    case 'StatefulSet':
      if (spec) checkWorkload(spec, ['spec'], kind, out);
      break;
    case 'ReplicationController':
      // Its selector is a map of labels: checked in its object form.
      if (spec)
        checkWorkload(
          { ...spec, selector: spec.selector == null ? undefined : { matchLabels: spec.selector } },
          ['spec'],
          kind,
          out,
        );
      break;
    case 'Job':
      if (spec) checkJob(spec, ['spec'], out);
      break;
    case 'CronJob':
      if (spec) {
        const jobTemplate = objectAt(spec, 'jobTemplate');
        checkTemplateLabels(objectAt(jobTemplate, 'metadata'), ['spec', 'jobTemplate', 'metadata'], out);
        const jobSpec = objectAt(jobTemplate, 'spec');
        if (jobSpec) checkJob(jobSpec, ['spec', 'jobTemplate', 'spec'], out);
        if (typeof spec.schedule === 'string') {
          const problem = scheduleProblem(spec.schedule);
          if (problem)
            out.push(
              error(
                'InvalidValue',
                ['spec', 'schedule'],
                `invalid schedule ${JSON.stringify(spec.schedule)}: ${problem}`,
              ),
            );
        }
        if (typeof spec.timeZone === 'string' && !isTimeZone(spec.timeZone)) {
          out.push(
            error(
              'InvalidValue',
              ['spec', 'timeZone'],
              `unknown time zone ${JSON.stringify(spec.timeZone)} (use an IANA name such as "Europe/Berlin" or "Etc/UTC")`,
            ),
          );
        }
        if (typeof obj.metadata === 'object' && String(stringAt(obj.metadata, 'name') ?? '').length > 52) {
          out.push(
            error(
              'InvalidName',
              ['metadata', 'name'],
              'must be no more than 52 characters (CronJob names leave room for the Job suffix)',
            ),
          );
        }
      }
      break;
    case 'Service':
      if (spec) checkService(spec, out);
      break;
    case 'Secret':
      for (const field of ['data'] as const) checkBase64Map(obj, field, out);
      checkKeys(obj, ['data', 'stringData'], out);
      break;
    case 'ConfigMap':
      checkBase64Map(obj, 'binaryData', out);
      checkKeys(obj, ['data', 'binaryData'], out);
      break;
    case 'Ingress':
      if (spec) checkIngress(spec, out);
      break;
    case 'PodDisruptionBudget':
      if (spec) checkBudget(spec, out);
      break;
    case 'HorizontalPodAutoscaler':
      if (spec) checkAutoscaler(spec, out);
      break;
    case 'PersistentVolumeClaim':
      if (spec) {
        checkQuantityMaps(objectAt(spec, 'resources'), ['spec', 'resources'], out);
        for (const field of ['dataSource', 'dataSourceRef'])
          if (spec[field] !== undefined)
            out.push(
              error(
                'UnsupportedField',
                ['spec', field],
                'Berth cannot fill a claim from a data source (a snapshot or another claim): the claim gets an empty volume only; remove it',
              ),
            );
      }
      break;
    case 'PersistentVolume':
      if (spec) checkPersistentVolume(spec, out);
      break;
    case 'StorageClass':
      if (typeof obj.provisioner === 'string' && !KNOWN_PROVISIONERS.has(obj.provisioner))
        out.push(
          warning(
            'NoProvisioner',
            ['provisioner'],
            `no provisioner ${JSON.stringify(obj.provisioner)} runs in Berth (it runs ${[...KNOWN_PROVISIONERS].join(', ')}): claims of this class bind only to PersistentVolumes that exist`,
          ),
        );
      break;
  }
  return out;
}

/** What makes volumes for claims in Berth; other classes' claims bind to existing volumes only. */
const KNOWN_PROVISIONERS = new Set(['berth.dev/local-path', 'kubernetes.io/no-provisioner']);
const PV_SOURCES = ['hostPath', 'local', 'nfs'];

/** One source, a storage capacity, and node affinity for a local volume (as Kubernetes validates a PV). */
function checkPersistentVolume(spec: PlainObject, out: Finding[]): void {
  const sources = PV_SOURCES.filter((s) => spec[s] !== undefined);
  if (sources.length !== 1)
    out.push(
      error(
        sources.length ? 'InvalidValue' : 'MissingField',
        ['spec'],
        sources.length
          ? `may not specify more than 1 volume type (has ${sources.join(', ')})`
          : `must specify a volume type (${PV_SOURCES.join(', ')})`,
      ),
    );
  if (spec.local !== undefined && objectAt(objectAt(spec, 'nodeAffinity') ?? {}, 'required') === undefined)
    out.push(error('MissingField', ['spec', 'nodeAffinity'], 'Local volume requires node affinity'));
  const capacity = objectAt(spec, 'capacity');
  for (const [name, q] of Object.entries(capacity ?? {})) checkQuantity(q, ['spec', 'capacity', name], out);
  if (capacity && capacity.storage === undefined)
    out.push(error('MissingField', ['spec', 'capacity', 'storage'], 'a PersistentVolume gives its storage capacity'));
}

function checkMetadata(meta: unknown, at: FieldPath, kind: string, namespaced: boolean, out: Finding[]): void {
  if (!isObject(meta)) return;
  const name = meta.name;
  if (typeof name === 'string') {
    const errs = (NAME_RULE[kind] ?? dns1123Subdomain)(name);
    if (errs.length)
      out.push(error('InvalidName', [...at, 'name'], `invalid name ${JSON.stringify(name)}: ${errs.join('; ')}`));
  }
  if (namespaced && typeof meta.namespace === 'string') {
    const errs = dns1123Label(meta.namespace);
    if (errs.length)
      out.push(
        error(
          'InvalidName',
          [...at, 'namespace'],
          `invalid namespace ${JSON.stringify(meta.namespace)}: ${errs.join('; ')}`,
        ),
      );
  }
  checkLabels(meta, at, out);
}

function checkLabels(meta: PlainObject, at: FieldPath, out: Finding[]): void {
  const labels = objectAt(meta, 'labels');
  for (const [k, v] of Object.entries(labels ?? {})) {
    const keyErrs = qualifiedName(k);
    if (keyErrs.length)
      out.push(
        error('InvalidLabel', [...at, 'labels', k], `invalid label key ${JSON.stringify(k)}: ${keyErrs.join('; ')}`),
      );
    if (typeof v === 'string') {
      const valErrs = labelValue(v);
      if (valErrs.length)
        out.push(
          error(
            'InvalidLabel',
            [...at, 'labels', k],
            `invalid label value ${JSON.stringify(v)}: ${valErrs.join('; ')}`,
          ),
        );
    }
  }
  const annotations = objectAt(meta, 'annotations');
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    const keyErrs = qualifiedName(k);
    if (keyErrs.length)
      out.push(
        error(
          'InvalidLabel',
          [...at, 'annotations', k],
          `invalid annotation key ${JSON.stringify(k)}: ${keyErrs.join('; ')}`,
        ),
      );
    size += k.length + (typeof v === 'string' ? v.length : 0);
  }
  if (size > MAX_ANNOTATIONS_BYTES)
    out.push(
      error(
        'InvalidValue',
        [...at, 'annotations'],
        `annotations may not exceed ${MAX_ANNOTATIONS_BYTES} bytes in total (they are ${size})`,
      ),
    );
}

function checkTemplateLabels(meta: PlainObject | undefined, at: FieldPath, out: Finding[]): void {
  if (meta) checkLabels(meta, at, out);
}

function checkSelector(
  spec: PlainObject,
  at: FieldPath,
  out: Finding[],
  opts: { requireNonEmpty: boolean; matchesTemplate?: boolean },
): void {
  const selector = objectAt(spec, 'selector');
  if (!selector) return;
  let sel;
  try {
    sel = selectorFromObject(selector as LabelSelectorObject);
  } catch (e) {
    out.push(error('InvalidLabel', [...at, 'selector'], (e as Error).message));
    return;
  }
  if (opts.requireNonEmpty && sel.isEmpty()) {
    out.push(
      error(
        'SelectorMismatch',
        [...at, 'selector'],
        'empty selector is invalid: it would select every pod in the namespace',
      ),
    );
    return;
  }
  if (opts.matchesTemplate === false) return;
  const labels = objectAt(objectAt(objectAt(spec, 'template'), 'metadata'), 'labels');
  if (!sel.matches(labels as Record<string, string> | undefined)) {
    out.push(
      error(
        'SelectorMismatch',
        [...at, 'selector'],
        `selector "${sel.toString()}" does not match template labels ${JSON.stringify(labels ?? {})}`,
      ),
    );
  }
}

function checkWorkload(spec: PlainObject, at: FieldPath, kind: string, out: Finding[]): void {
  checkSelector(spec, at, out, { requireNonEmpty: true });
  const template = objectAt(spec, 'template');
  checkTemplateLabels(objectAt(template, 'metadata'), [...at, 'template', 'metadata'], out);
  const podSpec = objectAt(template, 'spec');
  if (podSpec) {
    const claims = arrayAt(spec, 'volumeClaimTemplates')
      .map((t) => stringAt(objectAt(t, 'metadata'), 'name'))
      .filter((n): n is string => !!n);
    checkPodSpec(podSpec, [...at, 'template', 'spec'], out, claims);
    const rp = podSpec.restartPolicy;
    if (rp !== undefined && rp !== 'Always') {
      out.push(
        error(
          'InvalidValue',
          [...at, 'template', 'spec', 'restartPolicy'],
          `unsupported value ${JSON.stringify(rp)}: a ${kind} restarts its pods, only "Always" is allowed`,
        ),
      );
    }
  }
  if (kind === 'Deployment') {
    const strategy = objectAt(spec, 'strategy');
    if (strategy?.type === 'Recreate' && strategy.rollingUpdate != null) {
      out.push(
        error(
          'InvalidValue',
          [...at, 'strategy', 'rollingUpdate'],
          'may not be specified when strategy type is "Recreate"',
        ),
      );
    }
    const ru = objectAt(strategy, 'rollingUpdate');
    if (ru && isZero(ru.maxSurge) && isZero(ru.maxUnavailable)) {
      out.push(
        error(
          'InvalidValue',
          [...at, 'strategy', 'rollingUpdate', 'maxUnavailable'],
          'may not be 0 when maxSurge is 0: the rollout could never make progress',
        ),
      );
    }
    for (const f of ['maxSurge', 'maxUnavailable'])
      if (ru) checkIntOrPercent(ru[f], [...at, 'strategy', 'rollingUpdate', f], out);
  }
  if (kind === 'StatefulSet') {
    arrayAt(spec, 'volumeClaimTemplates').forEach((t, i) => {
      checkQuantityMaps(
        objectAt(objectAt(t, 'spec'), 'resources'),
        [...at, 'volumeClaimTemplates', i, 'spec', 'resources'],
        out,
      );
    });
  }
}

function isZero(v: unknown): boolean {
  return v === 0 || v === '0%' || v === '0';
}

function checkIntOrPercent(v: unknown, at: FieldPath, out: Finding[]): void {
  if (typeof v === 'string' && !/^[0-9]+%$/.test(v))
    out.push(
      error('InvalidValue', at, `invalid value ${JSON.stringify(v)}: must be an integer or a percentage (e.g. '25%')`),
    );
  if (typeof v === 'number' && v < 0) out.push(error('InvalidValue', at, 'must be greater than or equal to 0'));
}

function checkBudget(spec: PlainObject, out: Finding[]): void {
  if (spec.minAvailable != null && spec.maxUnavailable != null) {
    out.push(error('InvalidValue', ['spec'], 'minAvailable and maxUnavailable cannot be both set'));
  }
  for (const f of ['minAvailable', 'maxUnavailable']) checkIntOrPercent(spec[f], ['spec', f], out);
  checkSelector(spec, ['spec'], out, { requireNonEmpty: false, matchesTemplate: false });
}

/** What Kubernetes' HPA validation refuses, and what Berth has no metrics for (External). */
function checkAutoscaler(spec: PlainObject, out: Finding[]): void {
  const min = typeof spec.minReplicas === 'number' ? spec.minReplicas : 1;
  if (typeof spec.maxReplicas === 'number' && spec.maxReplicas < min)
    out.push(error('InvalidValue', ['spec', 'maxReplicas'], `must be greater than or equal to minReplicas (${min})`));
  const target = objectAt(spec, 'scaleTargetRef');
  if (target && !['Deployment', 'ReplicaSet', 'StatefulSet', 'ReplicationController'].includes(String(target.kind)))
    out.push(
      error(
        'InvalidValue',
        ['spec', 'scaleTargetRef', 'kind'],
        `Berth scales a Deployment, ReplicaSet, StatefulSet or ReplicationController, not ${String(target.kind)}`,
      ),
    );
  const metrics = Array.isArray(spec.metrics) ? (spec.metrics as PlainObject[]) : [];
  metrics.forEach((m, i) => {
    const at = ['spec', 'metrics', i];
    const field = METRIC_SOURCE_FIELD[String(m.type)];
    if (!field) return;
    const source = objectAt(m, field);
    if (!source) {
      out.push(error('MissingField', [...at, field], `must be set for a metric of type ${String(m.type)}`));
      return;
    }
    if (m.type === 'External')
      out.push(
        error(
          'UnsupportedField',
          [...at, 'external'],
          'Berth serves no external metrics: use a Resource, Pods or Object metric (requests_per_second of an Ingress or Service)',
        ),
      );
    const t = objectAt(source, 'target');
    if (!t) return;
    const needs = { Utilization: 'averageUtilization', Value: 'value', AverageValue: 'averageValue' }[String(t.type)];
    if (needs && t[needs] === undefined)
      out.push(
        error('MissingField', [...at, field, 'target', needs], `must be set for a target of type ${String(t.type)}`),
      );
    if (t.type === 'Utilization' && m.type !== 'Resource' && m.type !== 'ContainerResource')
      out.push(error('InvalidValue', [...at, field, 'target', 'type'], 'Utilization is for Resource metrics only'));
    if (m.type === 'Pods' && t.type !== 'AverageValue')
      out.push(
        error('InvalidValue', [...at, field, 'target', 'type'], 'a Pods metric must have an AverageValue target'),
      );
    if ((m.type === 'Resource' || m.type === 'ContainerResource') && t.type === 'Value')
      out.push(
        error(
          'InvalidValue',
          [...at, field, 'target', 'type'],
          'a Resource metric must have a Utilization or AverageValue target',
        ),
      );
    if ((m.type === 'Resource' || m.type === 'ContainerResource') && !['cpu', 'memory'].includes(String(source.name)))
      out.push(
        error('InvalidValue', [...at, field, 'name'], `Berth measures cpu and memory, not ${String(source.name)}`),
      );
  });
}

function checkJob(spec: PlainObject, at: FieldPath, out: Finding[]): void {
  if (spec.manualSelector === true) checkSelector(spec, at, out, { requireNonEmpty: true });
  else if (spec.selector != null) {
    out.push(
      error(
        'InvalidValue',
        [...at, 'selector'],
        '`selector` is generated by Berth for Jobs; set manualSelector: true to choose your own',
      ),
    );
  }
  const template = objectAt(spec, 'template');
  checkTemplateLabels(objectAt(template, 'metadata'), [...at, 'template', 'metadata'], out);
  const podSpec = objectAt(template, 'spec');
  if (podSpec) {
    checkPodSpec(podSpec, [...at, 'template', 'spec'], out);
    const rp = podSpec.restartPolicy;
    if (rp !== 'OnFailure' && rp !== 'Never') {
      out.push(
        error(
          'InvalidValue',
          [...at, 'template', 'spec', 'restartPolicy'],
          `unsupported value ${JSON.stringify(rp ?? 'Always')}: a Job's pods must set restartPolicy "OnFailure" or "Never"`,
        ),
      );
    }
  }
}

/**
 * claimVolumes: names a StatefulSet's volumeClaimTemplates add to each pod (replacing a template
 * volume of the same name, as the StatefulSet controller does).
 */
function checkPodSpec(spec: PlainObject, at: FieldPath, out: Finding[], claimVolumes: string[] = []): void {
  const volumes = new Set<string>();
  arrayAt(spec, 'volumes').forEach((v, i) => {
    if (!isObject(v)) return;
    const vat = [...at, 'volumes', i];
    if (typeof v.name === 'string') {
      if (volumes.has(v.name))
        out.push(error('InvalidValue', [...vat, 'name'], `duplicate volume name ${JSON.stringify(v.name)}`));
      volumes.add(v.name);
      const errs = dns1123Label(v.name);
      if (errs.length)
        out.push(
          error('InvalidName', [...vat, 'name'], `invalid volume name ${JSON.stringify(v.name)}: ${errs.join('; ')}`),
        );
    }
    const sources = Object.keys(v).filter((k) => k !== 'name');
    const supported = sources.filter((s) => SUPPORTED_VOLUME_SOURCES.includes(s));
    const unsupported = sources.filter((s) => !SUPPORTED_VOLUME_SOURCES.includes(s));
    for (const s of unsupported) {
      out.push(
        error(
          'UnsupportedVolume',
          [...vat, s],
          `volume source "${s}" is not supported by Berth (supported: ${SUPPORTED_VOLUME_SOURCES.join(', ')})`,
        ),
      );
    }
    if (supported.length > 1)
      out.push(error('InvalidValue', vat, `may not specify more than 1 volume type (found ${supported.join(', ')})`));
    if (sources.length === 0) out.push(error('InvalidValue', vat, 'must specify a volume type'));
    const sizeLimit = objectAt(v, 'emptyDir')?.sizeLimit;
    if (sizeLimit !== undefined) checkQuantity(sizeLimit, [...vat, 'emptyDir', 'sizeLimit'], out);
    // The agent writes these files as root on the node: a path must stay inside the volume.
    for (const source of ['configMap', 'secret'] as const)
      arrayAt(objectAt(v, source), 'items').forEach((item, j) => {
        const itemPath = stringAt(item, 'path');
        if (itemPath !== undefined) checkDescendingPath(itemPath, [...vat, source, 'items', j, 'path'], out, true);
      });
  });

  for (const claim of claimVolumes) volumes.add(claim);
  const containerNames = new Set<string>();
  for (const field of ['initContainers', 'containers'] as const) {
    arrayAt(spec, field).forEach((c, i) => {
      if (!isObject(c)) return;
      const cat = [...at, field, i];
      if (typeof c.name === 'string') {
        if (containerNames.has(c.name))
          out.push(error('InvalidValue', [...cat, 'name'], `duplicate container name ${JSON.stringify(c.name)}`));
        containerNames.add(c.name);
        const errs = dns1123Label(c.name);
        if (errs.length)
          out.push(
            error(
              'InvalidName',
              [...cat, 'name'],
              `invalid container name ${JSON.stringify(c.name)}: ${errs.join('; ')}`,
            ),
          );
      }
      checkContainer(c, cat, volumes, out);
    });
  }
  for (const [k, v] of Object.entries(objectAt(spec, 'nodeSelector') ?? {})) {
    const errs = [...qualifiedName(k), ...(typeof v === 'string' ? labelValue(v) : [])];
    if (errs.length) out.push(error('InvalidLabel', [...at, 'nodeSelector', k], errs.join('; ')));
  }
}

/**
 * A path inside a volume (an item's file, a mount's subPath), as Kubernetes validates it
 * (validateLocalDescendingPath): relative, with no `..` element; an item's path may not start
 * with `..` either (the kubelet keeps its own `..data` there).
 */
function checkDescendingPath(value: string, at: FieldPath, out: Finding[], item: boolean): void {
  const backsteps = value.split(/[/\\]/).includes('..');
  const problems = [
    ...(value.startsWith('/') ? ['must be a relative path'] : []),
    ...(backsteps ? ["must not contain '..'"] : []),
    ...(item && !backsteps && value.startsWith('..') ? ["must not start with '..'"] : []),
  ];
  for (const problem of problems) out.push(error('InvalidValue', at, `${JSON.stringify(value)}: ${problem}`));
}

function checkContainer(c: PlainObject, at: FieldPath, volumes: Set<string>, out: Finding[]): void {
  const portNames = new Set<string>();
  arrayAt(c, 'ports').forEach((p, i) => {
    const name = stringAt(p, 'name');
    if (name === undefined) return;
    const errs = ianaServiceName(name);
    if (errs.length)
      out.push(
        error(
          'InvalidName',
          [...at, 'ports', i, 'name'],
          `invalid port name ${JSON.stringify(name)}: ${errs.join('; ')}`,
        ),
      );
    if (portNames.has(name))
      out.push(error('InvalidValue', [...at, 'ports', i, 'name'], `duplicate port name ${JSON.stringify(name)}`));
    portNames.add(name);
  });
  arrayAt(c, 'volumeMounts').forEach((m, i) => {
    const subPath = stringAt(m, 'subPath');
    if (subPath) checkDescendingPath(subPath, [...at, 'volumeMounts', i, 'subPath'], out, false);
    const name = stringAt(m, 'name');
    if (name !== undefined && !volumes.has(name))
      out.push(
        error(
          'InvalidValue',
          [...at, 'volumeMounts', i, 'name'],
          `volume ${JSON.stringify(name)} is not defined in the pod's volumes`,
        ),
      );
  });
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const p = objectAt(c, probe);
    if (!p) continue;
    const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((h) => p[h] != null);
    if (handlers.length !== 1) {
      out.push(
        error(
          'InvalidValue',
          [...at, probe],
          handlers.length === 0
            ? 'must specify a handler type (exec, httpGet, tcpSocket or grpc)'
            : `may not specify more than 1 handler type (found ${handlers.join(', ')})`,
        ),
      );
    }
    for (const h of ['httpGet', 'tcpSocket']) {
      const port = objectAt(p, h)?.port;
      if (typeof port === 'string' && !portNames.has(port)) {
        out.push(
          error(
            'InvalidValue',
            [...at, probe, h, 'port'],
            `named port ${JSON.stringify(port)} is not declared in the container's ports`,
          ),
        );
      }
    }
  }
  const resources = objectAt(c, 'resources');
  checkQuantityMaps(resources, [...at, 'resources'], out);
  const limits = objectAt(resources, 'limits');
  for (const [res, req] of Object.entries(objectAt(resources, 'requests') ?? {})) {
    const lim = limits?.[res];
    if (lim === undefined) continue;
    try {
      if (parseQuantity(req as string).cmp(parseQuantity(lim as string)) > 0) {
        out.push(
          error(
            'InvalidValue',
            [...at, 'resources', 'requests', res],
            `must be less than or equal to ${res} limit of ${String(lim)}`,
          ),
        );
      }
    } catch {
      // Invalid quantities are reported by checkQuantityMaps.
    }
  }
}

function checkQuantityMaps(resources: PlainObject | undefined, at: FieldPath, out: Finding[]): void {
  for (const field of ['limits', 'requests']) {
    for (const [name, q] of Object.entries(objectAt(resources, field) ?? {})) {
      if (!STANDARD_RESOURCES.has(name) && !name.startsWith('hugepages-') && !name.includes('/')) {
        out.push(
          error(
            'InvalidValue',
            [...at, field, name],
            `unknown resource name ${JSON.stringify(name)} (cpu, memory, ephemeral-storage, hugepages-<size>, or a domain-qualified extended resource)`,
          ),
        );
      }
      checkQuantity(q, [...at, field, name], out);
    }
  }
}

function checkQuantity(q: unknown, at: FieldPath, out: Finding[]): void {
  if (typeof q !== 'string' && typeof q !== 'number') return;
  try {
    const parsed = parseQuantity(q);
    if (parsed.nanos < 0n)
      out.push(error('InvalidQuantity', at, `must be greater than or equal to 0 (got ${String(q)})`));
  } catch (e) {
    out.push(error('InvalidQuantity', at, (e as Error).message));
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkBase64Map(obj: PlainObject, field: string, out: Finding[]): void {
  for (const [k, v] of Object.entries(objectAt(obj, field) ?? {})) {
    if (typeof v === 'string' && !BASE64.test(v.replace(/\s+/g, ''))) {
      out.push(
        error(
          'InvalidBase64',
          [field, k],
          `value is not valid base64 (${field} values must be base64-encoded; use stringData for plain text)`,
        ),
      );
    }
  }
}

function checkKeys(obj: PlainObject, fields: string[], out: Finding[]): void {
  const seen = new Map<string, string>();
  for (const field of fields) {
    for (const k of Object.keys(objectAt(obj, field) ?? {})) {
      const errs = configMapKey(k);
      if (errs.length)
        out.push(error('InvalidName', [field, k], `invalid key ${JSON.stringify(k)}: ${errs.join('; ')}`));
      const other = seen.get(k);
      if (other !== undefined && other !== field && !fields.includes('stringData')) {
        out.push(error('InvalidValue', [field, k], `duplicate of key ${JSON.stringify(k)} in ${other}`));
      }
      seen.set(k, field);
    }
  }
}

function checkService(spec: PlainObject, out: Finding[]): void {
  const type = spec.type;
  const ports = arrayAt(spec, 'ports');
  const names = new Set<string>();
  ports.forEach((p, i) => {
    if (!isObject(p)) return;
    const at = ['spec', 'ports', i];
    if (typeof p.name === 'string') {
      if (names.has(p.name))
        out.push(error('InvalidValue', [...at, 'name'], `duplicate port name ${JSON.stringify(p.name)}`));
      names.add(p.name);
      if (p.name !== '') {
        const errs = dns1123Label(p.name);
        if (errs.length)
          out.push(
            error('InvalidName', [...at, 'name'], `invalid port name ${JSON.stringify(p.name)}: ${errs.join('; ')}`),
          );
      }
    } else if (ports.length > 1) {
      out.push(error('InvalidValue', [...at, 'name'], 'ports must be named when a Service has more than one'));
    }
    if (typeof p.targetPort === 'string') {
      const errs = ianaServiceName(p.targetPort);
      if (errs.length)
        out.push(
          error(
            'InvalidName',
            [...at, 'targetPort'],
            `invalid named targetPort ${JSON.stringify(p.targetPort)}: ${errs.join('; ')}`,
          ),
        );
    } else if (typeof p.targetPort === 'number' && (p.targetPort < 1 || p.targetPort > 65535)) {
      out.push(error('InvalidValue', [...at, 'targetPort'], 'must be between 1 and 65535, inclusive'));
    }
    if (typeof p.nodePort === 'number' && p.nodePort !== 0) {
      if (type !== 'NodePort' && type !== 'LoadBalancer')
        out.push(error('InvalidValue', [...at, 'nodePort'], `may not be used when type is ${JSON.stringify(type)}`));
      else if (p.nodePort < 30000 || p.nodePort > 32767)
        out.push(
          error(
            'InvalidValue',
            [...at, 'nodePort'],
            `provided port ${p.nodePort} is not in the valid range 30000-32767`,
          ),
        );
    }
  });
  if (type === 'ExternalName' && typeof spec.externalName !== 'string')
    out.push(error('InvalidValue', ['spec', 'externalName'], 'required when type is "ExternalName"'));
  if (type !== 'ExternalName' && ports.length === 0 && spec.clusterIP !== 'None')
    out.push(error('InvalidValue', ['spec', 'ports'], 'at least one port is required'));
  for (const [k, v] of Object.entries(objectAt(spec, 'selector') ?? {})) {
    const errs = [...qualifiedName(k), ...(typeof v === 'string' ? labelValue(v) : [])];
    if (errs.length) out.push(error('InvalidLabel', ['spec', 'selector', k], errs.join('; ')));
  }
}

function checkIngress(spec: PlainObject, out: Finding[]): void {
  const backend = (b: unknown, at: FieldPath): void => {
    if (!isObject(b)) return;
    const svc = objectAt(b, 'service');
    if (svc && b.resource != null) out.push(error('InvalidValue', at, 'cannot set both service and resource backends'));
    if (!svc && b.resource == null) out.push(error('InvalidValue', at, 'must specify a service or a resource backend'));
    const port = objectAt(svc, 'port');
    if (svc && (!port || (port.name == null) === (port.number == null))) {
      out.push(
        error('InvalidValue', [...at, 'service', 'port'], 'must specify exactly one of port name or port number'),
      );
    }
  };
  if (spec.defaultBackend != null) backend(spec.defaultBackend, ['spec', 'defaultBackend']);
  arrayAt(spec, 'rules').forEach((rule, r) => {
    const host = stringAt(rule, 'host');
    if (host !== undefined) {
      const bare = host.startsWith('*.') ? host.slice(2) : host;
      const errs = dns1123Subdomain(bare);
      if (errs.length)
        out.push(
          error(
            'InvalidValue',
            ['spec', 'rules', r, 'host'],
            `invalid host ${JSON.stringify(host)}: ${errs.join('; ')}`,
          ),
        );
    }
    arrayAt(objectAt(rule, 'http'), 'paths').forEach((p, i) => {
      const at = ['spec', 'rules', r, 'http', 'paths', i];
      const path = stringAt(p, 'path');
      const pathType = stringAt(p, 'pathType');
      if (path !== undefined && !path.startsWith('/'))
        out.push(error('InvalidValue', [...at, 'path'], `must be an absolute path (got ${JSON.stringify(path)})`));
      if (path === undefined && (pathType === 'Exact' || pathType === 'Prefix'))
        out.push(error('InvalidValue', [...at, 'path'], `required when pathType is ${pathType}`));
      backend(objectAt(p, 'backend'), [...at, 'backend']);
    });
  });
}
