/**
 * `berth validate [PATH…] [--strict] [-o text|json|yaml]`
 * Exit codes: 0 valid (warnings allowed), 1 any error in the manifests, 2 usage or I/O error.
 */
import type { PodSecurityLevel } from '../api/pod-security.js';
import {
  formatDiagnostic,
  loadPaths,
  podSecurityDiagnostics,
  type Diagnostic,
  type LoadResult,
} from '../manifest/index.js';
import { renderStructured, type CommandIO, type OutputFormat } from './output.js';

export interface ValidateOptions {
  strict: boolean;
  output: OutputFormat;
  /** The level of declared namespaces without an enforce label (the server's default: baseline). */
  defaultPodSecurity?: PodSecurityLevel;
  /** SOPS files decrypted (see loadPaths' `decrypt`) and validated in plaintext. */
  decrypt?: (path: string, text: string) => Promise<string | undefined>;
}

export async function validateCommand(paths: string[], opts: ValidateOptions, io: CommandIO): Promise<number> {
  const loaded = await loadPaths(paths.length ? paths : ['.'], {
    strict: opts.strict,
    ...(opts.decrypt ? { decrypt: opts.decrypt } : {}),
  });
  // Pods in namespaces the tree declares are checked as the server would admit them.
  const result = {
    ...loaded,
    errors: [...loaded.errors, ...podSecurityDiagnostics(loaded.objects, opts.defaultPodSecurity ?? 'baseline')],
  };
  if (opts.output === 'text') io.stdout(renderText(result));
  else io.stdout(renderStructured(opts.output, toReport(result)));
  return result.errors.length > 0 ? 1 : 0;
}

function renderText(r: LoadResult): string {
  const lines = [...r.errors, ...r.warnings].sort(byPosition).map(formatDiagnostic);
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  lines.push(
    `${plural(r.objects.length, 'object')} in ${plural(r.files, 'file')}, ${plural(r.errors.length, 'error')}, ${plural(r.warnings.length, 'warning')}`,
  );
  return lines.join('\n') + '\n';
}

function byPosition(a: Diagnostic, b: Diagnostic): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column;
}

export function toReport(r: LoadResult) {
  const diag = (d: Diagnostic) => ({
    file: d.file,
    line: d.line,
    column: d.column,
    path: d.path,
    reason: d.reason,
    message: d.message,
  });
  return {
    objects: r.objects.map((o) => ({
      apiVersion: o.object.apiVersion,
      kind: o.object.kind,
      ...(o.object.metadata.namespace !== undefined ? { namespace: o.object.metadata.namespace } : {}),
      name: o.object.metadata.name,
      file: o.source.file,
      line: o.source.line,
    })),
    errors: r.errors.sort(byPosition).map(diag),
    warnings: r.warnings.sort(byPosition).map(diag),
  };
}
