/**
 * schemas/ as OpenAPI v3 component schemas, for the API's /openapi/v3 documents (what `kubectl
 * explain` reads): each kind's schema under its file's name with Kubernetes'
 * `x-kubernetes-group-version-kind`, the shared definitions (meta.json, pod-spec.json) beside
 * them, and every `$ref` pointed into `#/components/schemas`.
 */
import { readFileSync } from 'node:fs';
import { SHARED_SCHEMAS, type KindInfo } from '../api/kinds.js';

const SCHEMAS_DIR = new URL('../../schemas/', import.meta.url);

type Json = Record<string, unknown>;

const componentOf = (file: string) => file.replace(/\.json$/, '');

/** A schema's $refs rewritten to component names (`meta.json#/definitions/X` → `meta.X`). */
function rewrite(node: unknown, file: string): unknown {
  if (Array.isArray(node)) return node.map((n) => rewrite(n, file));
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    if (key === '$schema' || key === '$id' || key === 'definitions') continue;
    // OpenAPI 3.0 (and kubectl explain's templates) take one type: a union becomes Kubernetes'
    // int-or-string, or its first member.
    if (key === 'type' && Array.isArray(value)) {
      if (value.includes('integer') && value.includes('string'))
        Object.assign(out, { type: 'string', format: 'int-or-string', 'x-kubernetes-int-or-string': true });
      else out.type = value.find((t) => t !== 'null') ?? 'string';
      continue;
    }
    if (key === '$ref' && typeof value === 'string') {
      const [target, pointer] = value.split('#');
      const name = /^\/definitions\/(.+)$/.exec(pointer ?? '')?.[1];
      out.$ref = `#/components/schemas/${componentOf(target || file)}${name ? `.${name}` : ''}`;
      continue;
    }
    out[key] = rewrite(value, file);
  }
  return out;
}

const cache = new Map<string, Json>();
function read(file: string): Json {
  let schema = cache.get(file);
  if (!schema) cache.set(file, (schema = JSON.parse(readFileSync(new URL(file, SCHEMAS_DIR), 'utf8')) as Json));
  return schema;
}

/** The components for some kinds: their schemas and every shared definition they may reference. */
export function openapiSchemas(kinds: readonly KindInfo[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const addDefinitions = (file: string) => {
    for (const [name, def] of Object.entries((read(file).definitions ?? {}) as Json))
      out[`${componentOf(file)}.${name}`] = rewrite(def, file);
  };
  for (const file of SHARED_SCHEMAS) addDefinitions(file);
  for (const k of kinds) {
    addDefinitions(k.schema);
    out[componentOf(k.schema)] = {
      ...(rewrite(read(k.schema), k.schema) as Json),
      'x-kubernetes-group-version-kind': [{ group: k.group, version: k.version, kind: k.kind }],
    };
  }
  return out;
}
