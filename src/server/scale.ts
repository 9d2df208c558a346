/**
 * The scale subresource (autoscaling/v1 Scale) of Deployments, ReplicaSets, StatefulSets and
 * ReplicationControllers: what
 * `kubectl scale`, client libraries and autoscalers read and write. Reading answers the parent's
 * replicas and selector; writing (PUT, or any patch of the Scale) sets the parent's spec.replicas
 * through the ordinary update, with its validation and admission.
 */
import { BerthError } from '../api/errors.js';
import { selectorFromLabels, selectorFromObject } from '../api/selector.js';
import type { KubeObject } from '../store/types.js';

export const SCALABLE_KINDS: readonly string[] = ['Deployment', 'ReplicaSet', 'StatefulSet', 'ReplicationController'];

export interface Scale {
  kind: 'Scale';
  apiVersion: 'autoscaling/v1';
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string };
  spec: { replicas: number };
  status: { replicas: number; selector: string };
}

type Scalable = KubeObject & {
  spec?: { replicas?: number; selector?: Parameters<typeof selectorFromObject>[0] };
  status?: { replicas?: number };
};

export function scaleOf(parent: KubeObject): Scale {
  const o = parent as Scalable;
  const { name, namespace, uid, resourceVersion, creationTimestamp } = o.metadata as Scale['metadata'];
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      ...(uid ? { uid } : {}),
      ...(resourceVersion ? { resourceVersion } : {}),
      ...(creationTimestamp ? { creationTimestamp } : {}),
    },
    spec: { replicas: o.spec?.replicas ?? 1 },
    // A ReplicationController's selector is a map of labels; the others' a LabelSelector.
    status: {
      replicas: o.status?.replicas ?? 0,
      selector: (o.kind === 'ReplicationController'
        ? selectorFromLabels((o.spec?.selector ?? {}) as Record<string, string>)
        : selectorFromObject(o.spec?.selector)
      ).toString(),
    },
  };
}

/** The parent with the replicas a written Scale asks for (and its resourceVersion as the precondition). */
export function scaled(parent: KubeObject, scale: unknown): KubeObject {
  const replicas = (scale as { spec?: { replicas?: unknown } } | undefined)?.spec?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw new BerthError(
      'Invalid',
      `Scale.spec.replicas must be a non-negative integer, not ${JSON.stringify(replicas)}`,
    );
  }
  const rv = (scale as { metadata?: { resourceVersion?: unknown } }).metadata?.resourceVersion;
  const { resourceVersion: _, ...meta } = parent.metadata;
  return {
    ...parent,
    metadata: { ...meta, ...(typeof rv === 'string' && rv ? { resourceVersion: rv } : {}) },
    spec: { ...(parent.spec as object), replicas },
  };
}
