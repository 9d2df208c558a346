/**
 * The protobuf messages of the workload kinds kubectl's typed commands send (`kubectl run`: a
 * Pod; `kubectl create deployment`: a Deployment; `kubectl create job [--from=cronjob/x]`: a
 * Job), as tables of k8s.io/api's generated.proto field numbers, read by one decoder into the
 * JSON they stand for. A field the tables do not have is refused with 415 naming it — never
 * dropped: the object would be stored without it (an empty one, which Go's encoder writes for
 * every unset plain field, carries nothing and is skipped). Status is ignored (a create sets its own).
 */
import { timestamp } from '../api/lifecycle.js';
import { BerthError } from '../api/errors.js';

export type Fields = Map<number, (bigint | Buffer)[]>;

/** `int0`: a plain (non-pointer) Go int, which its encoder writes as 0 when unset: 0 is left out. */
type Scalar = 'string' | 'int' | 'int0' | 'bool' | 'quantity' | 'intOrString' | 'time' | 'ignore';
type FieldType = Scalar | Msg | { repeated: Scalar | Msg } | { map: 'string' | 'quantity' } | { inline: Msg };
interface Msg {
  name: string;
  fields: Record<number, [string, FieldType]>;
}

const msg = (name: string, fields: Msg['fields']): Msg => ({ name, fields });
const rep = (t: Scalar | Msg) => ({ repeated: t });

const LOCAL_REF = msg('LocalObjectReference', { 1: ['name', 'string'] });
const OWNER_REF = msg('OwnerReference', {
  5: ['apiVersion', 'string'],
  1: ['kind', 'string'],
  3: ['name', 'string'],
  4: ['uid', 'string'],
  6: ['controller', 'bool'],
  7: ['blockOwnerDeletion', 'bool'],
});
export const OBJECT_META = msg('ObjectMeta', {
  1: ['name', 'string'],
  2: ['generateName', 'string'],
  3: ['namespace', 'string'],
  6: ['resourceVersion', 'string'],
  8: ['creationTimestamp', 'time'],
  11: ['labels', { map: 'string' }],
  12: ['annotations', { map: 'string' }],
  13: ['ownerReferences', rep(OWNER_REF)],
  14: ['finalizers', rep('string')],
});
const SELECTOR = msg('LabelSelector', {
  1: ['matchLabels', { map: 'string' }],
  2: [
    'matchExpressions',
    rep(
      msg('LabelSelectorRequirement', {
        1: ['key', 'string'],
        2: ['operator', 'string'],
        3: ['values', rep('string')],
      }),
    ),
  ],
});
const KEY_SELECTOR = msg('KeySelector', {
  1: ['', { inline: LOCAL_REF }],
  2: ['key', 'string'],
  3: ['optional', 'bool'],
});
const ENV = msg('EnvVar', {
  1: ['name', 'string'],
  2: ['value', 'string'],
  3: [
    'valueFrom',
    msg('EnvVarSource', {
      1: ['fieldRef', msg('ObjectFieldSelector', { 1: ['apiVersion', 'string'], 2: ['fieldPath', 'string'] })],
      3: ['configMapKeyRef', KEY_SELECTOR],
      4: ['secretKeyRef', KEY_SELECTOR],
    }),
  ],
});
const ENV_SOURCE = msg('EnvFromSource', {
  1: ['prefix', 'string'],
  2: ['configMapRef', msg('ConfigMapEnvSource', { 1: ['', { inline: LOCAL_REF }], 2: ['optional', 'bool'] })],
  3: ['secretRef', msg('SecretEnvSource', { 1: ['', { inline: LOCAL_REF }], 2: ['optional', 'bool'] })],
});
const RESOURCES = msg('ResourceRequirements', {
  1: ['limits', { map: 'quantity' }],
  2: ['requests', { map: 'quantity' }],
});
const PROBE = msg('Probe', {
  1: [
    '',
    {
      inline: msg('ProbeHandler', {
        1: ['exec', msg('ExecAction', { 1: ['command', rep('string')] })],
        2: [
          'httpGet',
          msg('HTTPGetAction', {
            1: ['path', 'string'],
            2: ['port', 'intOrString'],
            3: ['host', 'string'],
            4: ['scheme', 'string'],
            5: ['httpHeaders', rep(msg('HTTPHeader', { 1: ['name', 'string'], 2: ['value', 'string'] }))],
          }),
        ],
        3: ['tcpSocket', msg('TCPSocketAction', { 1: ['port', 'intOrString'], 2: ['host', 'string'] })],
      }),
    },
  ],
  2: ['initialDelaySeconds', 'int0'],
  3: ['timeoutSeconds', 'int0'],
  4: ['periodSeconds', 'int0'],
  5: ['successThreshold', 'int0'],
  6: ['failureThreshold', 'int0'],
  7: ['terminationGracePeriodSeconds', 'int'],
});
const CONTAINER = msg('Container', {
  1: ['name', 'string'],
  2: ['image', 'string'],
  3: ['command', rep('string')],
  4: ['args', rep('string')],
  5: ['workingDir', 'string'],
  6: [
    'ports',
    rep(
      msg('ContainerPort', {
        1: ['name', 'string'],
        2: ['hostPort', 'int0'],
        3: ['containerPort', 'int0'],
        4: ['protocol', 'string'],
        5: ['hostIP', 'string'],
      }),
    ),
  ],
  7: ['env', rep(ENV)],
  8: ['resources', RESOURCES],
  19: ['envFrom', rep(ENV_SOURCE)],
  9: [
    'volumeMounts',
    rep(
      msg('VolumeMount', {
        1: ['name', 'string'],
        2: ['readOnly', 'bool'],
        3: ['mountPath', 'string'],
        4: ['subPath', 'string'],
      }),
    ),
  ],
  10: ['livenessProbe', PROBE],
  11: ['readinessProbe', PROBE],
  22: ['startupProbe', PROBE],
  13: ['terminationMessagePath', 'string'],
  20: ['terminationMessagePolicy', 'string'],
  14: ['imagePullPolicy', 'string'],
  15: [
    'securityContext',
    msg('SecurityContext', {
      1: ['capabilities', msg('Capabilities', { 1: ['add', rep('string')], 2: ['drop', rep('string')] })],
      2: ['privileged', 'bool'],
      4: ['runAsUser', 'int'],
      8: ['runAsGroup', 'int'],
      5: ['runAsNonRoot', 'bool'],
      6: ['readOnlyRootFilesystem', 'bool'],
      7: ['allowPrivilegeEscalation', 'bool'],
    }),
  ],
  16: ['stdin', 'bool'],
  17: ['stdinOnce', 'bool'],
  18: ['tty', 'bool'],
});
const KEY_TO_PATH = msg('KeyToPath', { 1: ['key', 'string'], 2: ['path', 'string'], 3: ['mode', 'int'] });
const VOLUME = msg('Volume', {
  1: ['name', 'string'],
  2: [
    '',
    {
      inline: msg('VolumeSource', {
        1: ['hostPath', msg('HostPathVolumeSource', { 1: ['path', 'string'], 2: ['type', 'string'] })],
        2: ['emptyDir', msg('EmptyDirVolumeSource', { 1: ['medium', 'string'], 2: ['sizeLimit', 'quantity'] })],
        6: [
          'secret',
          msg('SecretVolumeSource', {
            1: ['secretName', 'string'],
            2: ['items', rep(KEY_TO_PATH)],
            3: ['defaultMode', 'int'],
            4: ['optional', 'bool'],
          }),
        ],
        10: [
          'persistentVolumeClaim',
          msg('PersistentVolumeClaimVolumeSource', { 1: ['claimName', 'string'], 2: ['readOnly', 'bool'] }),
        ],
        19: [
          'configMap',
          msg('ConfigMapVolumeSource', {
            1: ['', { inline: LOCAL_REF }],
            2: ['items', rep(KEY_TO_PATH)],
            3: ['defaultMode', 'int'],
            4: ['optional', 'bool'],
          }),
        ],
      }),
    },
  ],
});
const POD_SPEC = msg('PodSpec', {
  1: ['volumes', rep(VOLUME)],
  20: ['initContainers', rep(CONTAINER)],
  2: ['containers', rep(CONTAINER)],
  3: ['restartPolicy', 'string'],
  4: ['terminationGracePeriodSeconds', 'int'],
  5: ['activeDeadlineSeconds', 'int'],
  6: ['dnsPolicy', 'string'],
  7: ['nodeSelector', { map: 'string' }],
  8: ['serviceAccountName', 'string'],
  9: ['serviceAccount', 'string'],
  21: ['automountServiceAccountToken', 'bool'],
  10: ['nodeName', 'string'],
  11: ['hostNetwork', 'bool'],
  14: [
    'securityContext',
    msg('PodSecurityContext', {
      2: ['runAsUser', 'int'],
      6: ['runAsGroup', 'int'],
      3: ['runAsNonRoot', 'bool'],
      5: ['fsGroup', 'int'],
    }),
  ],
  15: ['imagePullSecrets', rep(LOCAL_REF)],
  16: ['hostname', 'string'],
  17: ['subdomain', 'string'],
  19: ['schedulerName', 'string'],
  22: [
    'tolerations',
    rep(
      msg('Toleration', {
        1: ['key', 'string'],
        2: ['operator', 'string'],
        3: ['value', 'string'],
        4: ['effect', 'string'],
        5: ['tolerationSeconds', 'int'],
      }),
    ),
  ],
  24: ['priorityClassName', 'string'],
  30: ['enableServiceLinks', 'bool'],
});
const TEMPLATE = msg('PodTemplateSpec', { 1: ['metadata', OBJECT_META], 2: ['spec', POD_SPEC] });

/** The kinds read this way: their top-level message (metadata=1, spec=2, status=3 ignored). */
export const WORKLOAD_MESSAGES: Record<string, Msg> = {
  Pod: msg('Pod', { 1: ['metadata', OBJECT_META], 2: ['spec', POD_SPEC], 3: ['status', 'ignore'] }),
  Deployment: msg('Deployment', {
    1: ['metadata', OBJECT_META],
    2: [
      'spec',
      msg('DeploymentSpec', {
        1: ['replicas', 'int'],
        2: ['selector', SELECTOR],
        3: ['template', TEMPLATE],
        4: [
          'strategy',
          msg('DeploymentStrategy', {
            1: ['type', 'string'],
            2: [
              'rollingUpdate',
              msg('RollingUpdateDeployment', { 1: ['maxUnavailable', 'intOrString'], 2: ['maxSurge', 'intOrString'] }),
            ],
          }),
        ],
        5: ['minReadySeconds', 'int0'],
        6: ['revisionHistoryLimit', 'int'],
        7: ['paused', 'bool'],
        9: ['progressDeadlineSeconds', 'int'],
      }),
    ],
    3: ['status', 'ignore'],
  }),
  Job: msg('Job', {
    1: ['metadata', OBJECT_META],
    2: [
      'spec',
      msg('JobSpec', {
        1: ['parallelism', 'int'],
        2: ['completions', 'int'],
        3: ['activeDeadlineSeconds', 'int'],
        7: ['backoffLimit', 'int'],
        4: ['selector', SELECTOR],
        5: ['manualSelector', 'bool'],
        6: ['template', TEMPLATE],
        8: ['ttlSecondsAfterFinished', 'int'],
        9: ['completionMode', 'string'],
        10: ['suspend', 'bool'],
        14: ['podReplacementPolicy', 'string'],
      }),
    ],
    3: ['status', 'ignore'],
  }),
};

const malformed = () => new BerthError('BadRequest', 'malformed protobuf body');

/** Reads one message by its table; `at` is where it sits, for the refusal of a field it does not know. */
export function decodeMessage(f: Fields, m: Msg, at: string, parse: (b: Buffer) => Fields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [n, values] of f) {
    const known = m.fields[n];
    // Go's encoder writes every plain field, set or not: an empty one says nothing and is skipped.
    if (!known && values.every((v) => (Buffer.isBuffer(v) ? v.length === 0 : v === 0n))) continue;
    if (!known) {
      throw new BerthError(
        'UnsupportedMediaType',
        `the protobuf body has field ${n} of ${m.name} at ${at || '.'}, which Berth does not read: send the object as JSON (kubectl create -f, or apply -f)`,
      );
    }
    const [name, type] = known;
    const path = name ? `${at}.${name}` : at;
    if (typeof type === 'object' && 'inline' in type) {
      for (const v of values) Object.assign(out, decodeMessage(parse(asBytes(v)), type.inline, path, parse));
    } else if (typeof type === 'object' && 'repeated' in type) {
      // In a list, an empty string is an element (an argument ""), not an unset field.
      out[name] = values.map((v, i) =>
        type.repeated === 'string'
          ? asBytes(v).toString('utf8')
          : decodeValue(v, type.repeated, `${path}[${i}]`, parse),
      );
    } else if (typeof type === 'object' && 'map' in type) {
      const map: Record<string, unknown> = {};
      for (const v of values) {
        const entry = parse(asBytes(v));
        const key = entry.get(1)?.[0];
        const value = entry.get(2)?.[0];
        map[key === undefined ? '' : asBytes(key).toString('utf8')] =
          type.map === 'string'
            ? value === undefined
              ? ''
              : asBytes(value).toString('utf8')
            : quantityOf(value, parse);
      }
      out[name] = map;
    } else {
      const value = decodeValue(values[values.length - 1]!, type, path, parse);
      if (value !== undefined) out[name] = value;
    }
  }
  return out;
}

function asBytes(v: bigint | Buffer): Buffer {
  if (!Buffer.isBuffer(v)) throw malformed();
  return v;
}

function asInt(v: bigint | Buffer): number {
  if (typeof v !== 'bigint') throw malformed();
  return Number(BigInt.asIntN(64, v));
}

function quantityOf(v: bigint | Buffer | undefined, parse: (b: Buffer) => Fields): string {
  const s = v === undefined ? undefined : parse(asBytes(v)).get(1)?.[0];
  return s === undefined ? '0' : asBytes(s).toString('utf8');
}

function decodeValue(v: bigint | Buffer, type: Scalar | Msg, at: string, parse: (b: Buffer) => Fields): unknown {
  switch (type) {
    case 'string':
      // Go strings are plain fields: empty is unset.
      return asBytes(v).length ? asBytes(v).toString('utf8') : undefined;
    case 'int':
      return asInt(v);
    case 'int0':
      return asInt(v) || undefined;
    case 'bool':
      return asInt(v) !== 0;
    case 'quantity':
      return quantityOf(v, parse);
    case 'intOrString': {
      const f = parse(asBytes(v));
      const isString = f.get(1)?.[0] !== undefined && asInt(f.get(1)![0]!) === 1;
      return isString ? asBytes(f.get(3)?.[0] ?? Buffer.alloc(0)).toString('utf8') : asInt(f.get(2)?.[0] ?? 0n);
    }
    case 'time': {
      // A create's zero time (kubectl sends an empty one) is no time at all.
      const seconds = parse(asBytes(v)).get(1)?.[0];
      return seconds === undefined || asInt(seconds) === 0 ? undefined : timestamp(new Date(asInt(seconds) * 1000));
    }
    case 'ignore':
      return undefined;
    default:
      return decodeMessage(parse(asBytes(v)), type, at, parse);
  }
}
