/**
 * The per-file pipeline, pure: bytes → YAML documents → objects, each converted from legacy API
 * versions, defaulted and validated, every finding placed at its file, line and column.
 * It never throws for bad input; everything wrong with the input is a Diagnostic.
 */
import type { ErrorObject } from 'ajv';
import { kindInfo, kindInfoFor, apiVersionOf, supportedKindList, type KindInfo } from '../api/kinds.js';
import { renderPath, type Diagnostic, type FieldPath, type Finding } from './diagnostics.js';
import { convertLegacy, isLegacy } from './convert.js';
import { applyDefaults } from './defaults.js';
import { isObject, type PlainObject } from './object.js';
import { checkSemantics } from './semantic.js';
import { validateSchema } from './schema.js';
import { parseYamlDocuments, type ParsedDocument } from './yaml.js';

export const MAX_FILE_BYTES = 5 * 1024 * 1024;

export interface LoadOptions {
  /** Unknown fields are errors instead of warnings. */
  strict: boolean;
  /** Namespace for namespaced objects that name none. */
  defaultNamespace: string;
}

export const DEFAULT_LOAD_OPTIONS: LoadOptions = { strict: false, defaultNamespace: 'default' };

export interface ObjectSource {
  file: string;
  /** Index of the YAML document in its file, from 0. */
  document: number;
  line: number;
  column: number;
}

export interface LoadedObject {
  object: PlainObject & { apiVersion: string; kind: string; metadata: PlainObject & { name: string; namespace?: string } };
  source: ObjectSource;
}

export interface FileResult {
  file: string;
  objects: LoadedObject[];
  diagnostics: Diagnostic[];
}

export interface SourceFile {
  /** The path shown to the user (relative to where they pointed). */
  path: string;
  bytes: Uint8Array;
  /** The file's size when its bytes were deliberately not read (it is over the limit). */
  size?: number;
}

const KUSTOMIZATION_FILE = /(^|\/)(kustomization\.ya?ml|Kustomization)$/;

export function loadFile(file: SourceFile, options: LoadOptions = DEFAULT_LOAD_OPTIONS): FileResult {
  const result: FileResult = { file: file.path, objects: [], diagnostics: [] };
  const fileError = (reason: Diagnostic['reason'], message: string, line = 1, column = 1): FileResult => {
    result.diagnostics.push({ severity: 'error', reason, file: file.path, line, column, path: '', message });
    return result;
  };

  const size = file.size ?? file.bytes.byteLength;
  if (size > MAX_FILE_BYTES) {
    return fileError('FileTooLarge', `file is ${size} bytes; manifests over ${MAX_FILE_BYTES} bytes (5 MiB) are refused`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(file.bytes);
  } catch {
    return fileError('NotUTF8', 'file is not valid UTF-8 text');
  }
  if (KUSTOMIZATION_FILE.test(file.path)) {
    return fileError('Kustomization', 'kustomization files are not supported: Berth applies plain manifests; render them with `kubectl kustomize` and commit the output, or list the directory in .berthignore');
  }

  const docs = parseYamlDocuments(text, { json: file.path.endsWith('.json') });
  if (text.includes('{{') && docs.some((d) => d.hasTemplateExpression() || (d.problems.length > 0 && problemNearTemplate(d, text)))) {
    return fileError('HelmTemplate', 'this looks like a Helm/Go template ({{ … }}), which is not supported: render it with `helm template` and commit the output, or list it in .berthignore');
  }

  for (const doc of docs) loadDocument(doc, file.path, options, result);
  return result;
}

function problemNearTemplate(doc: ParsedDocument, text: string): boolean {
  const lines = text.split('\n');
  return doc.problems.some((p) => /\{\{.*\}\}/.test(lines[p.position.line - 1] ?? '') || /\{\{.*\}\}/.test(lines[p.position.line - 2] ?? ''));
}

function loadDocument(doc: ParsedDocument, file: string, options: LoadOptions, result: FileResult): void {
  const place = (f: Finding): Diagnostic => {
    const at = doc.locate(f.path);
    return { severity: f.severity, reason: f.reason, file, line: at.line, column: at.column, path: renderPath(f.path), message: f.message };
  };

  if (doc.problems.length > 0) {
    for (const p of doc.problems) {
      const reason = p.kind === 'duplicate-key' ? 'DuplicateKey' : p.kind === 'alias-limit' ? 'AliasLimit' : 'YAMLSyntax';
      result.diagnostics.push({ severity: 'error', reason, file, line: p.position.line, column: p.position.column, path: '', message: p.message });
    }
    return;
  }
  if (doc.empty || doc.value === null || doc.value === undefined) return;
  const value = doc.value;
  if (!isObject(value)) {
    result.diagnostics.push(place({ severity: 'error', reason: 'NotAnObject', path: [], message: `expected a Kubernetes object (a mapping with apiVersion and kind), got ${describe(value)}` }));
    return;
  }

  // `kind: List` (v1) holds objects in items, as kubectl accepts.
  if (value.kind === 'List' && value.apiVersion === 'v1' && Array.isArray(value.items)) {
    value.items.forEach((item, i) => loadObject(item, ['items', i], doc, options, place, result, file));
    return;
  }
  loadObject(value, [], doc, options, place, result, file);
}

function loadObject(
  raw: unknown,
  base: FieldPath,
  doc: ParsedDocument,
  options: LoadOptions,
  place: (f: Finding) => Diagnostic,
  result: FileResult,
  file: string,
): void {
  const at = (path: FieldPath): FieldPath => [...base, ...path];
  const fail = (reason: Diagnostic['reason'], path: FieldPath, message: string): void => {
    result.diagnostics.push(place({ severity: 'error', reason, path: at(path), message }));
  };
  if (!isObject(raw)) return fail('NotAnObject', [], `expected a Kubernetes object, got ${describe(raw)}`);
  const obj = raw;
  const { apiVersion, kind } = obj;
  const missing = [typeof apiVersion === 'string' && apiVersion ? '' : 'apiVersion', typeof kind === 'string' && kind ? '' : 'kind'].filter(Boolean);
  if (missing.length) return fail('MissingField', [], `missing ${missing.join(' and ')}: every manifest needs apiVersion and kind`);
  const apiV = apiVersion as string;
  const k = kind as string;

  if (k === 'Kustomization' && apiV.startsWith('kustomize.config.k8s.io/')) {
    return fail('Kustomization', ['kind'], 'kustomization files are not supported: render them with `kubectl kustomize` and commit the output');
  }

  if ('$patch' in obj) {
    return fail('KustomizePatch', ['$patch'], 'this is a kustomize patch ($patch), not a complete manifest: render the kustomization with `kubectl kustomize` and commit the output');
  }

  const findings: Finding[] = [];
  let info: KindInfo | undefined = kindInfoFor(apiV, k);
  if (!info && isLegacy(apiV, k)) {
    findings.push(...convertLegacy(obj));
    info = kindInfoFor(String(obj.apiVersion), k);
  }
  if (!info) {
    const known = kindInfo(k);
    if (known && known.declarable) return fail('WrongAPIVersion', ['apiVersion'], `${k} is served as ${apiVersionOf(known)}, not ${apiV}`);
    return fail('UnsupportedKind', ['kind'], `${k} (${apiV}) is not supported; supported kinds: ${supportedKindList()}`);
  }
  if (!info.declarable) return fail('NotDeclarable', ['kind'], `${k} objects are managed by Berth itself and cannot be declared in manifests`);
  if (findings.some((f) => f.severity === 'error')) {
    for (const f of findings) result.diagnostics.push(place({ ...f, path: at(f.path) }));
    return;
  }

  const meta = obj.metadata;
  const name = isObject(meta) ? meta.name : undefined;
  if (typeof name !== 'string' || name === '') {
    const hint = isObject(meta) && typeof meta.generateName === 'string' ? ' (generateName is not supported: a declarative sync needs a stable name to track the object)' : '';
    findings.push({ severity: 'error', reason: 'MissingField', path: ['metadata', 'name'], message: `missing metadata.name${hint}` });
  }
  if (!info.namespaced && isObject(meta) && meta.namespace !== undefined) {
    findings.push({ severity: 'warning', reason: 'ClusterScopedNamespace', path: ['metadata', 'namespace'], message: `${k} is cluster-scoped; metadata.namespace is ignored` });
    delete meta.namespace;
  }

  for (const e of validateSchema(info.kind, obj)) {
    if (e.schemaPath.includes('/anyOf/')) continue; // the anyOf error itself says it once
    const f = schemaFinding(e, obj, doc, base, options);
    if (f) findings.push(f);
  }
  applyDefaults(obj, info.namespaced, { namespace: options.defaultNamespace });
  findings.push(...checkSemantics(obj, info.namespaced));

  for (const f of findings) result.diagnostics.push(place({ ...f, path: at(f.path) }));
  if (findings.some((f) => f.severity === 'error')) return;
  const pos = base.length ? doc.locate(base) : doc.position;
  result.objects.push({
    object: obj as LoadedObject['object'],
    source: { file, document: doc.index, line: pos.line, column: pos.column },
  });
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

function schemaFinding(e: ErrorObject, obj: PlainObject, doc: ParsedDocument, base: FieldPath, options: LoadOptions): Finding | undefined {
  const path = pathOf(e.instancePath, obj);
  const value = valueAt(obj, path);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(p.additionalProperty);
      return { severity: options.strict ? 'error' : 'warning', reason: 'UnknownField', path: [...path, field], message: `unknown field "${field}"` };
    }
    case 'required':
      return { severity: 'error', reason: 'MissingField', path, message: `missing required field "${String(p.missingProperty)}"` };
    case 'type': {
      const expected = String(p.type).replace(',', ' or ');
      let message = `expected ${expected}, got ${describe(value)}`;
      const source = doc.scalarSource([...base, ...path]);
      if (expected.includes('string') && typeof value === 'boolean' && source && YAML11_BOOLEAN.test(source)) {
        message += ` (YAML 1.1, as kubectl reads it, takes an unquoted ${source} as a boolean: write "${source}")`;
      } else if (expected.includes('string') && typeof value === 'number' && source) {
        message += ` (write "${source}" in quotes to keep it a string)`;
      }
      return { severity: 'error', reason: 'SchemaViolation', path, message };
    }
    case 'enum':
      return {
        severity: 'error', reason: 'SchemaViolation', path,
        message: `unsupported value ${JSON.stringify(value)}: supported values: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'format':
      if (p.format === 'quantity') return undefined; // semantic checks name the quantity error precisely
      return { severity: 'error', reason: 'SchemaViolation', path, message: `must be a valid ${String(p.format)}` };
    case 'anyOf':
    case 'oneOf':
      return { severity: 'error', reason: 'SchemaViolation', path, message: `expected ${e.message ?? 'a valid value'}, got ${describe(value)}` };
    case 'minimum':
    case 'maximum':
      return { severity: 'error', reason: 'SchemaViolation', path, message: `${value} ${e.message ?? ''}` };
    case 'minItems':
      return { severity: 'error', reason: 'SchemaViolation', path, message: `must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}` };
    case 'minLength':
      return { severity: 'error', reason: 'SchemaViolation', path, message: 'must not be empty' };
    default:
      return { severity: 'error', reason: 'SchemaViolation', path, message: `${e.message ?? 'is invalid'} (got ${describe(value)})` };
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}
