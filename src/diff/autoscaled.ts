/**
 * GitOps and the HorizontalPodAutoscaler agree: a workload an HPA of the same commit scales keeps
 * the replica count the HPA chose. Its /spec/replicas is ignored in the diff and its live value
 * kept on apply (what Argo CD's docs ask users to do by hand with ignoreDifferences and
 * RespectIgnoreDifferences). A Git manifest that sets replicas anyway is reported, so the user can
 * remove it: the HPA's count wins either way.
 */
import type { IgnoreDifference } from './plan.js';
import type { ObjectLike } from './tracking.js';

export interface AutoscaledWorkloads {
  ignores: IgnoreDifference[];
  /** "Deployment shop/web (replicas: 2 in Git) is scaled by HorizontalPodAutoscaler shop/web". */
  overridden: string[];
}

const groupOf = (apiVersion: string | undefined) => (apiVersion?.includes('/') ? apiVersion.split('/')[0]! : '');

/** `declaresReplicas`: whether Git itself set an object's spec.replicas (not the loader's default). */
export function autoscaledWorkloads(
  desired: readonly ObjectLike[],
  declaresReplicas: (o: ObjectLike) => boolean = () => true,
): AutoscaledWorkloads {
  const out: AutoscaledWorkloads = { ignores: [], overridden: [] };
  for (const hpa of desired) {
    if (hpa.kind !== 'HorizontalPodAutoscaler') continue;
    const ref = (hpa.spec as { scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string } } | undefined)
      ?.scaleTargetRef;
    if (!ref?.kind || !ref.name) continue;
    const namespace = hpa.metadata.namespace;
    out.ignores.push({
      group: groupOf(ref.apiVersion),
      kind: ref.kind,
      name: ref.name,
      ...(namespace !== undefined ? { namespace } : {}),
      jsonPointers: ['/spec/replicas'],
    });
    const target = desired.find(
      (o) => o.kind === ref.kind && o.metadata.name === ref.name && o.metadata.namespace === namespace,
    );
    const replicas = (target?.spec as { replicas?: unknown } | undefined)?.replicas;
    if (target && replicas !== undefined && declaresReplicas(target))
      out.overridden.push(
        `${ref.kind} ${namespace ? `${namespace}/` : ''}${ref.name} (replicas: ${String(replicas)} in Git) is scaled by HorizontalPodAutoscaler ${namespace ? `${namespace}/` : ''}${hpa.metadata.name}`,
      );
  }
  return out;
}
