/**
 * Names and helpers both the controllers and the CLI need about workload revisions: the
 * annotations and labels Kubernetes uses, a key-order-independent JSON form, and a pod template
 * without its pod-template-hash label (what `rollout undo` restores).
 */
import type { PodTemplateSpec } from './types.gen.js';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** JSON with object keys sorted and undefined dropped, so that equal values print alike. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function withoutTemplateHash(t: PodTemplateSpec | undefined): PodTemplateSpec {
  const labels = { ...(t?.metadata?.labels ?? {}) };
  delete labels[POD_TEMPLATE_HASH_LABEL];
  return { ...(t ?? {}), metadata: { ...(t?.metadata ?? {}), labels } };
}

/** EqualIgnoreHash: two templates that differ only in the pod-template-hash label. */
export function templatesEqual(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  return stableJson(withoutTemplateHash(a)) === stableJson(withoutTemplateHash(b));
}
