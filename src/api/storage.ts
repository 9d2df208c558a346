/**
 * Storage names Kubernetes and Berth agree on (the default class's annotation, the local-path
 * provisioner and class, the chosen node, the binding marks), and where an agent keeps a claim's
 * data: the path a local-path volume on that node points at, so the two always agree.
 */
export const LOCAL_PATH_PROVISIONER = 'berth.dev/local-path';
/** The default StorageClass the server ships: a claim that names no class is of it. */
export const LOCAL_PATH_CLASS = 'local-path';
export const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
/** Set on a claim (by the scheduler, or a StatefulSet) once its first pod's node is chosen: local-path provisions there. */
export const SELECTED_NODE = 'volume.kubernetes.io/selected-node';
export const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
/** Set on a claim once the volume controller has bound it. */
export const BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
/**
 * On a local-path volume whose reclaim policy is Delete: deleted, it waits for its node's agent
 * to remove its directory (as external provisioners' finalizer holds a volume for its storage).
 */
export const LOCAL_PATH_CLEANUP = 'berth.dev/local-path-cleanup';

/** The folder in an agent's data directory that holds its claims' data. */
export const claimsFolder = (dataDir: string): string => `${dataDir.replace(/\/+$/, '')}/claims`;

/** Where a node's agent keeps a claim's data: the path of a local-path volume on that node. */
export const claimDirectory = (dataDir: string, namespace: string, name: string): string =>
  `${claimsFolder(dataDir)}/${namespace}/${name}`;

/** The claims a pod's volumes name. */
export function claimNamesOf(
  spec: { volumes?: { persistentVolumeClaim?: { claimName?: string } }[] } | undefined,
): string[] {
  const out: string[] = [];
  for (const v of spec?.volumes ?? [])
    if (v?.persistentVolumeClaim?.claimName) out.push(v.persistentVolumeClaim.claimName);
  return out;
}

interface NodeAffinity {
  required?: {
    nodeSelectorTerms?: { matchExpressions?: { key?: string; operator?: string; values?: string[] }[] }[];
  };
}

/** The node a volume's node affinity pins it to (a local or local-path volume), if exactly one. */
export function volumeNodeOf(volume: { spec?: { nodeAffinity?: NodeAffinity } }): string | undefined {
  const terms = volume.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? [];
  const hosts = terms.flatMap((t) =>
    (t.matchExpressions ?? [])
      .filter((e) => e.key === 'kubernetes.io/hostname' && e.operator === 'In')
      .flatMap((e) => e.values ?? []),
  );
  return hosts.length === 1 ? hosts[0] : undefined;
}
