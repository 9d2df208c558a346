/**
 * Joins per-file results into one load: objects in file order, and the cross-file checks that no
 * object (kind, namespace, name) is defined twice and no NodePort is asked for by two Services.
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
  const nodePorts = new Map<number, LoadedObject>();
  for (const r of results) {
    for (const d of r.diagnostics) (d.severity === 'error' ? errors : warnings).push(d);
    for (const o of r.objects) {
      // A hook named by generateName alone is a new object at every run: never a duplicate.
      if (!o.object.metadata.name) {
        objects.push(o);
        continue;
      }
      const key = objectKey(o.object);
      const first = seen.get(key);
      if (first) {
        const ns = o.object.metadata.namespace ? `${o.object.metadata.namespace}/` : '';
        errors.push({
          severity: 'error',
          reason: 'DuplicateObject',
          file: o.source.file,
          line: o.source.line,
          column: o.source.column,
          path: '',
          message: `${o.object.kind} ${ns}${o.object.metadata.name} is defined twice: first at ${first.source.file}:${first.source.line}`,
        });
        continue;
      }
      seen.set(key, o);
      objects.push(o);
      if (o.object.kind === 'Service') checkNodePorts(o, nodePorts, errors);
    }
  }
  return { objects, errors, warnings, files: results.length };
}

function checkNodePorts(o: LoadedObject, taken: Map<number, LoadedObject>, errors: Diagnostic[]): void {
  const ports = (o.object as { spec?: { ports?: { nodePort?: number }[] } }).spec?.ports ?? [];
  ports.forEach((p, i) => {
    if (!p.nodePort) return;
    const first = taken.get(p.nodePort);
    if (!first) {
      taken.set(p.nodePort, o);
      return;
    }
    if (first === o) return;
    errors.push({
      severity: 'error',
      reason: 'InvalidValue',
      file: o.source.file,
      line: o.source.line,
      column: o.source.column,
      path: `spec.ports[${i}].nodePort`,
      message: `nodePort ${p.nodePort} is also asked for by Service ${first.object.metadata.name} at ${first.source.file}:${first.source.line}`,
    });
  });
}
