/**
 * One object through the pipeline, pure: legacy apiVersions converted, the schema checked, Kubernetes'
 * defaults applied, the semantic checks made. Used for manifests (placed in their files by load.ts)
 * and for API request bodies (reported as field errors by the server).
 */
import { hookPhases, hookProblem } from '../api/hooks.js';
import type { ErrorObject } from 'ajv';
import { apiVersionOf, kindInfo, kindInfoFor, supportedKindList, type KindInfo } from '../api/kinds.js';
import type { DiagnosticReason, FieldPath, Finding } from './diagnostics.js';
import { convertLegacy, isLegacy } from './convert.js';
import { applyDefaults } from './defaults.js';
import { isObject, type PlainObject } from './object.js';
import { checkSemantics } from './semantic.js';
import { unsafeKeyIn } from '../api/safe-keys.js';
import { validateSchema } from './schema.js';

export type NormalizedObject = PlainObject & {
  apiVersion: string;
  kind: string;
  metadata: PlainObject & { name: string; namespace?: string };
};

export interface NormalizeOptions {
  /** Unknown fields are errors instead of warnings. */
  strict: boolean;
  /** Namespace for namespaced objects that name none. */
  defaultNamespace: string;
  /** 'manifest' refuses kinds only Berth writes (Node, Event); 'api' accepts them. */
  context: 'manifest' | 'api';
  /** The source text of a scalar, for hints about YAML 1.1 readings. */
  scalarSource?: (path: FieldPath) => string | undefined;
}

export interface Normalized {
  /** Set when no finding is an error. */
  object?: NormalizedObject;
  info?: KindInfo;
  findings: Finding[];
}

export function normalizeObject(raw: unknown, options: NormalizeOptions): Normalized {
  const fail = (reason: DiagnosticReason, path: FieldPath, message: string): Normalized => ({
    findings: [{ severity: 'error', reason, path, message }],
  });
  if (!isObject(raw)) return fail('NotAnObject', [], `expected a Kubernetes object, got ${describeValue(raw)}`);
  const unsafe = unsafeKeyIn(raw);
  if (unsafe)
    return fail(
      'UnsafeKey',
      [...unsafe.path, unsafe.key],
      `the key ${JSON.stringify(unsafe.key)} is not allowed: keys __proto__, constructor and prototype could reach an object's prototype`,
    );
  const obj = raw;
  const { apiVersion, kind } = obj;
  const missing = [
    typeof apiVersion === 'string' && apiVersion ? '' : 'apiVersion',
    typeof kind === 'string' && kind ? '' : 'kind',
  ].filter(Boolean);
  if (missing.length)
    return fail('MissingField', [], `missing ${missing.join(' and ')}: every manifest needs apiVersion and kind`);
  const apiV = apiVersion as string;
  const k = kind as string;

  if (k === 'Kustomization' && apiV.startsWith('kustomize.config.k8s.io/')) {
    return fail(
      'Kustomization',
      ['kind'],
      'kustomization files are not supported: render them with `kubectl kustomize` and commit the output',
    );
  }

  if ('$patch' in obj) {
    return fail(
      'KustomizePatch',
      ['$patch'],
      'this is a kustomize patch ($patch), not a complete manifest: render the kustomization with `kubectl kustomize` and commit the output',
    );
  }

  const findings: Finding[] = [];
  let info: KindInfo | undefined = kindInfoFor(apiV, k);
  if (!info && isLegacy(apiV, k)) {
    findings.push(...convertLegacy(obj));
    info = kindInfoFor(String(obj.apiVersion), k);
  }
  if (!info) {
    const known = kindInfo(k);
    if (known && known.declarable)
      return fail('WrongAPIVersion', ['apiVersion'], `${k} is served as ${apiVersionOf(known)}, not ${apiV}`);
    return fail(
      'UnsupportedKind',
      ['kind'],
      `${k} (${apiV}) is not supported; supported kinds: ${supportedKindList()}`,
    );
  }
  if (!info.declarable && options.context === 'manifest')
    return fail(
      'NotDeclarable',
      ['kind'],
      `${k} objects are managed by Berth itself and cannot be declared in manifests`,
    );
  if (findings.some((f) => f.severity === 'error')) return { findings, info };

  const meta = obj.metadata;
  const name = isObject(meta) ? meta.name : undefined;
  const hook = hookPhases(obj as never);
  const problem = hookProblem(obj as never);
  if (problem)
    findings.push({ severity: 'error', reason: 'InvalidValue', path: ['metadata', 'annotations'], message: problem });
  // A hook may have only a generateName: each sync that runs it makes a new one (as Argo CD).
  const generated =
    hook !== undefined && isObject(meta) && typeof meta.generateName === 'string' && meta.generateName !== '';
  if ((typeof name !== 'string' || name === '') && !generated) {
    const hint =
      isObject(meta) && typeof meta.generateName === 'string'
        ? ' (generateName is only for hooks, annotated argocd.argoproj.io/hook: a declarative sync needs a stable name to track the object)'
        : '';
    findings.push({
      severity: 'error',
      reason: 'MissingField',
      path: ['metadata', 'name'],
      message: `missing metadata.name${hint}`,
    });
  }
  if (!info.namespaced && isObject(meta) && meta.namespace !== undefined) {
    findings.push({
      severity: 'warning',
      reason: 'ClusterScopedNamespace',
      path: ['metadata', 'namespace'],
      message: `${k} is cluster-scoped; metadata.namespace is ignored`,
    });
    delete meta.namespace;
  }

  for (const e of validateSchema(info.kind, obj)) {
    if (e.schemaPath.includes('/anyOf/')) continue; // the anyOf error itself says it once
    const f = schemaFinding(e, obj, options);
    if (f) findings.push(f);
  }
  applyDefaults(obj, info.namespaced, { namespace: options.defaultNamespace });
  findings.push(...checkSemantics(obj, info.namespaced));

  if (findings.some((f) => f.severity === 'error')) return { findings, info };
  return { object: obj as NormalizedObject, info, findings };
}

/** ajv's instancePath (`/spec/replicas`) as a field path, with array indexes as numbers. */
function pathOf(instancePath: string, obj: unknown): (string | number)[] {
  if (!instancePath) return [];
  const out: (string | number)[] = [];
  let cur: unknown = obj;
  for (const raw of instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key = Array.isArray(cur) ? Number(seg) : seg;
    out.push(key);
    cur = cur == null ? undefined : (cur as Record<string | number, unknown>)[key];
  }
  return out;
}

function valueAt(obj: unknown, path: readonly (string | number)[]): unknown {
  let cur = obj;
  for (const seg of path) cur = cur == null ? undefined : (cur as Record<string | number, unknown>)[seg];
  return cur;
}

const YAML11_BOOLEAN = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|false|False|FALSE)$/;

function schemaFinding(e: ErrorObject, obj: PlainObject, options: NormalizeOptions): Finding | undefined {
  const path = pathOf(e.instancePath, obj);
  const value = valueAt(obj, path);
  const p = e.params as Record<string, unknown>;
  // A Secret's values never appear in a message (messages reach status, events and logs).
  const secret = obj.kind === 'Secret' && (path[0] === 'data' || path[0] === 'stringData');
  const show = (v: unknown): string =>
    secret
      ? `a ${v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v} (a Secret value, not shown)`
      : describeValue(v);
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(p.additionalProperty);
      return {
        severity: options.strict ? 'error' : 'warning',
        reason: 'UnknownField',
        path: [...path, field],
        message: `unknown field "${field}"`,
      };
    }
    case 'required':
      return {
        severity: 'error',
        reason: 'MissingField',
        path,
        message: `missing required field "${String(p.missingProperty)}"`,
      };
    case 'type': {
      const expected = String(p.type).replace(',', ' or ');
      let message = `expected ${expected}, got ${show(value)}`;
      const source = secret ? undefined : options.scalarSource?.(path);
      if (expected.includes('string') && typeof value === 'boolean' && source && YAML11_BOOLEAN.test(source)) {
        message += ` (YAML 1.1, as kubectl reads it, takes an unquoted ${source} as a boolean: write "${source}")`;
      } else if (expected.includes('string') && typeof value === 'number' && source) {
        message += ` (write "${source}" in quotes to keep it a string)`;
      }
      return { severity: 'error', reason: 'SchemaViolation', path, message };
    }
    case 'enum':
      return {
        severity: 'error',
        reason: 'SchemaViolation',
        path,
        message: `unsupported value ${secret ? show(value) : JSON.stringify(value)}: supported values: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'format':
      if (p.format === 'quantity') return undefined; // semantic checks name the quantity error precisely
      return { severity: 'error', reason: 'SchemaViolation', path, message: `must be a valid ${String(p.format)}` };
    case 'anyOf':
    case 'oneOf':
      return {
        severity: 'error',
        reason: 'SchemaViolation',
        path,
        message: `expected ${e.message ?? 'a valid value'}, got ${show(value)}`,
      };
    case 'minimum':
    case 'maximum':
      return {
        severity: 'error',
        reason: 'SchemaViolation',
        path,
        message: `${secret ? show(value) : String(value)} ${e.message ?? ''}`,
      };
    case 'minItems':
      return {
        severity: 'error',
        reason: 'SchemaViolation',
        path,
        message: `must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`,
      };
    case 'minLength':
      return { severity: 'error', reason: 'SchemaViolation', path, message: 'must not be empty' };
    default:
      return {
        severity: 'error',
        reason: 'SchemaViolation',
        path,
        message: `${e.message ?? 'is invalid'} (got ${show(value)})`,
      };
  }
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}
