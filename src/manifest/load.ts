/**
 * The per-file pipeline, pure: bytes → YAML documents → objects, each converted from legacy API
 * versions, defaulted and validated, every finding placed at its file, line and column.
 * It never throws for bad input; everything wrong with the input is a Diagnostic.
 */
import { renderPath, type Diagnostic, type FieldPath, type Finding } from './diagnostics.js';
import { describeValue, normalizeObject, type NormalizedObject } from './normalize.js';
import { isObject } from './object.js';
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
  object: NormalizedObject;
  source: ObjectSource;
  /** The manifest itself set spec.replicas (rather than the default): what an HPA then overrides. */
  declaresReplicas?: true;
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
    return fileError(
      'FileTooLarge',
      `file is ${size} bytes; manifests over ${MAX_FILE_BYTES} bytes (5 MiB) are refused`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(file.bytes);
  } catch {
    return fileError('NotUTF8', 'file is not valid UTF-8 text');
  }
  if (KUSTOMIZATION_FILE.test(file.path)) {
    return fileError(
      'Kustomization',
      'kustomization files are not supported: Berth applies plain manifests; render them with `kubectl kustomize` and commit the output, or list the directory in .berthignore',
    );
  }

  const docs = parseYamlDocuments(text, { json: file.path.endsWith('.json') });
  if (
    text.includes('{{') &&
    docs.some((d) => d.hasTemplateExpression() || (d.problems.length > 0 && problemNearTemplate(d, text)))
  ) {
    return fileError(
      'HelmTemplate',
      'this looks like a Helm/Go template ({{ … }}), which is not supported: render it with `helm template` and commit the output, or list it in .berthignore',
    );
  }

  for (const doc of docs) loadDocument(doc, file.path, options, result);
  return result;
}

function problemNearTemplate(doc: ParsedDocument, text: string): boolean {
  const lines = text.split('\n');
  return doc.problems.some(
    (p) => /\{\{.*\}\}/.test(lines[p.position.line - 1] ?? '') || /\{\{.*\}\}/.test(lines[p.position.line - 2] ?? ''),
  );
}

function loadDocument(doc: ParsedDocument, file: string, options: LoadOptions, result: FileResult): void {
  const place = (f: Finding): Diagnostic => {
    const at = doc.locate(f.path);
    return {
      severity: f.severity,
      reason: f.reason,
      file,
      line: at.line,
      column: at.column,
      path: renderPath(f.path),
      message: f.message,
    };
  };

  if (doc.problems.length > 0) {
    // Duplicate keys are a warning, as kube-apiserver's default field validation (Warn) and kubectl
    // take them (the later value wins); an error under --strict. Anything else stops the document.
    const severityOf = (kind: string) => (kind === 'duplicate-key' && !options.strict ? 'warning' : 'error');
    for (const p of doc.problems) {
      const reason =
        p.kind === 'duplicate-key' ? 'DuplicateKey' : p.kind === 'alias-limit' ? 'AliasLimit' : 'YAMLSyntax';
      result.diagnostics.push({
        severity: severityOf(p.kind),
        reason,
        file,
        line: p.position.line,
        column: p.position.column,
        path: '',
        message: p.message,
      });
    }
    if (doc.problems.some((p) => severityOf(p.kind) === 'error')) return;
  }
  if (doc.empty || doc.value === null || doc.value === undefined) return;
  const value = doc.value;
  if (!isObject(value)) {
    result.diagnostics.push(
      place({
        severity: 'error',
        reason: 'NotAnObject',
        path: [],
        message: `expected a Kubernetes object (a mapping with apiVersion and kind), got ${describeValue(value)}`,
      }),
    );
    return;
  }

  // A SOPS file reaches the loader encrypted only when nothing was asked to decrypt it.
  if (isObject(value.sops) && typeof value.sops.mac === 'string') {
    result.diagnostics.push(
      place({
        severity: 'error',
        reason: 'Encrypted',
        path: ['sops'],
        message:
          'this document is SOPS-encrypted: set spec.decryption (provider: sops, secretRef: a Secret with *.agekey entries) on the Application, or pass --decrypt --age-key FILE to berth validate',
      }),
    );
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
  const declaresReplicas = (raw as { spec?: { replicas?: unknown } } | null)?.spec?.replicas !== undefined;
  const { object, findings } = normalizeObject(raw, {
    ...options,
    context: 'manifest',
    scalarSource: (p) => doc.scalarSource([...base, ...p]),
  });
  for (const f of findings) result.diagnostics.push(place({ ...f, path: [...base, ...f.path] }));
  if (!object) return;
  const pos = base.length ? doc.locate(base) : doc.position;
  result.objects.push({
    object,
    source: { file, document: doc.index, line: pos.line, column: pos.column },
    ...(declaresReplicas ? { declaresReplicas: true as const } : {}),
  });
}
