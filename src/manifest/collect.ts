/**
 * Joins per-file results into one load: objects in file order, and the cross-file check that no
 * object (kind, namespace, name) is defined twice.
 */
import { kindInfo } from '../api/kinds.js';
import type { Diagnostic } from './diagnostics.js';
import type { FileResult, LoadedObject } from './load.js';

export interface LoadResult {
  objects: LoadedObject[];
  errors: Diagnostic[];
  warnings: Diagnostic[];
  files: number;
}

export function objectKey(o: LoadedObject['object']): string {
  const info = kindInfo(o.kind);
  const ns = info?.namespaced ? (o.metadata.namespace ?? '') : '';
  return `${info?.group ?? ''}/${o.kind}/${ns}/${o.metadata.name}`;
}

export function collect(results: FileResult[]): LoadResult {
  const objects: LoadedObject[] = [];
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const seen = new Map<string, LoadedObject>();
  for (const r of results) {
    for (const d of r.diagnostics) (d.severity === 'error' ? errors : warnings).push(d);
    for (const o of r.objects) {
      const key = objectKey(o.object);
      const first = seen.get(key);
      if (first) {
        const ns = o.object.metadata.namespace ? `${o.object.metadata.namespace}/` : '';
        errors.push({
          severity: 'error', reason: 'DuplicateObject', file: o.source.file, line: o.source.line, column: o.source.column, path: '',
          message: `${o.object.kind} ${ns}${o.object.metadata.name} is defined twice: first at ${first.source.file}:${first.source.line}`,
        });
        continue;
      }
      seen.set(key, o);
      objects.push(o);
    }
  }
  return { objects, errors, warnings, files: results.length };
}
