/**
 * Pod Security for `berth validate`: the pods and pod templates of a tree against the level of
 * their namespace, where the tree declares that namespace (a validator cannot see a live one).
 * The same checks the API and syncs apply (api/pod-security.ts).
 */
import {
  checkPodSecurity,
  enforcedLevel,
  podSecurityMessage,
  podTemplateOf,
  type PodSecurityLevel,
} from '../api/pod-security.js';
import type { Diagnostic } from './diagnostics.js';
import type { LoadedObject } from './load.js';

export function podSecurityDiagnostics(objects: readonly LoadedObject[], defaultLevel: PodSecurityLevel): Diagnostic[] {
  const namespaces = new Map(
    objects
      .filter((o) => o.object.kind === 'Namespace')
      .map((o) => [o.object.metadata.name, o.object.metadata.labels as Record<string, string> | undefined]),
  );
  const out: Diagnostic[] = [];
  for (const o of objects) {
    const template = podTemplateOf(o.object);
    const ns = o.object.metadata.namespace ?? 'default';
    if (!template || !namespaces.has(ns)) continue;
    const level = enforcedLevel(namespaces.get(ns), defaultLevel);
    const failures = checkPodSecurity(level, template.meta, template.spec);
    if (failures.length)
      out.push({
        severity: 'error',
        reason: 'PodSecurity',
        file: o.source.file,
        line: o.source.line,
        column: o.source.column,
        path: template.path,
        message: podSecurityMessage(level, failures),
      });
  }
  return out;
}
