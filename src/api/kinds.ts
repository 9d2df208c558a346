/**
 * The kinds Berth serves, one row each: where its schema lives, its REST names, whether it is
 * namespaced, and whether a manifest in Git may declare it.
 */
export interface KindInfo {
  readonly group: string; // '' for the core group
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** File under schemas/. */
  readonly schema: string;
  /** False for kinds that only Berth itself writes (agents register Nodes, controllers Events). */
  readonly declarable: boolean;
  readonly shortNames?: readonly string[];
}

export const KINDS = [
  {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    namespaced: false,
    schema: 'v1.Namespace.json',
    declarable: true,
    shortNames: ['ns'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'ConfigMap',
    plural: 'configmaps',
    namespaced: true,
    schema: 'v1.ConfigMap.json',
    declarable: true,
    shortNames: ['cm'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Secret',
    plural: 'secrets',
    namespaced: true,
    schema: 'v1.Secret.json',
    declarable: true,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Pod',
    plural: 'pods',
    namespaced: true,
    schema: 'v1.Pod.json',
    declarable: true,
    shortNames: ['po'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Service',
    plural: 'services',
    namespaced: true,
    schema: 'v1.Service.json',
    declarable: true,
    shortNames: ['svc'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Endpoints',
    plural: 'endpoints',
    namespaced: true,
    schema: 'v1.Endpoints.json',
    declarable: true,
    shortNames: ['ep'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    namespaced: true,
    schema: 'v1.PersistentVolumeClaim.json',
    declarable: true,
    shortNames: ['pvc'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'PersistentVolume',
    plural: 'persistentvolumes',
    namespaced: false,
    schema: 'v1.PersistentVolume.json',
    declarable: true,
    shortNames: ['pv'],
  },
  {
    group: 'storage.k8s.io',
    version: 'v1',
    kind: 'StorageClass',
    plural: 'storageclasses',
    namespaced: false,
    schema: 'storage.k8s.io.v1.StorageClass.json',
    declarable: true,
    shortNames: ['sc'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'ResourceQuota',
    plural: 'resourcequotas',
    namespaced: true,
    schema: 'v1.ResourceQuota.json',
    declarable: true,
    shortNames: ['quota'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'LimitRange',
    plural: 'limitranges',
    namespaced: true,
    schema: 'v1.LimitRange.json',
    declarable: true,
    shortNames: ['limits'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    plural: 'serviceaccounts',
    namespaced: true,
    schema: 'v1.ServiceAccount.json',
    declarable: true,
    shortNames: ['sa'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'ReplicationController',
    plural: 'replicationcontrollers',
    namespaced: true,
    schema: 'v1.ReplicationController.json',
    declarable: true,
    shortNames: ['rc'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Node',
    plural: 'nodes',
    namespaced: false,
    schema: 'v1.Node.json',
    declarable: false,
    shortNames: ['no'],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Event',
    plural: 'events',
    namespaced: true,
    schema: 'v1.Event.json',
    declarable: false,
    shortNames: ['ev'],
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    plural: 'deployments',
    namespaced: true,
    schema: 'apps.v1.Deployment.json',
    declarable: true,
    shortNames: ['deploy'],
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'ReplicaSet',
    plural: 'replicasets',
    namespaced: true,
    schema: 'apps.v1.ReplicaSet.json',
    declarable: true,
    shortNames: ['rs'],
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'DaemonSet',
    plural: 'daemonsets',
    namespaced: true,
    schema: 'apps.v1.DaemonSet.json',
    declarable: true,
    shortNames: ['ds'],
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'StatefulSet',
    plural: 'statefulsets',
    namespaced: true,
    schema: 'apps.v1.StatefulSet.json',
    declarable: true,
    shortNames: ['sts'],
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'ControllerRevision',
    plural: 'controllerrevisions',
    namespaced: true,
    schema: 'apps.v1.ControllerRevision.json',
    declarable: false,
  },
  {
    group: 'batch',
    version: 'v1',
    kind: 'Job',
    plural: 'jobs',
    namespaced: true,
    schema: 'batch.v1.Job.json',
    declarable: true,
  },
  {
    group: 'batch',
    version: 'v1',
    kind: 'CronJob',
    plural: 'cronjobs',
    namespaced: true,
    schema: 'batch.v1.CronJob.json',
    declarable: true,
    shortNames: ['cj'],
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'Ingress',
    plural: 'ingresses',
    namespaced: true,
    schema: 'networking.k8s.io.v1.Ingress.json',
    declarable: true,
    shortNames: ['ing'],
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'NetworkPolicy',
    plural: 'networkpolicies',
    namespaced: true,
    schema: 'networking.k8s.io.v1.NetworkPolicy.json',
    declarable: true,
    shortNames: ['netpol'],
  },
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    kind: 'EndpointSlice',
    plural: 'endpointslices',
    namespaced: true,
    schema: 'discovery.k8s.io.v1.EndpointSlice.json',
    declarable: true,
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    plural: 'leases',
    namespaced: true,
    schema: 'coordination.k8s.io.v1.Lease.json',
    declarable: true,
  },
  {
    group: 'autoscaling',
    version: 'v2',
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    namespaced: true,
    schema: 'autoscaling.v2.HorizontalPodAutoscaler.json',
    declarable: true,
    shortNames: ['hpa'],
  },
  {
    group: 'policy',
    version: 'v1',
    kind: 'PodDisruptionBudget',
    plural: 'poddisruptionbudgets',
    namespaced: true,
    schema: 'policy.v1.PodDisruptionBudget.json',
    declarable: true,
    shortNames: ['pdb'],
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'Role',
    plural: 'roles',
    namespaced: true,
    schema: 'rbac.authorization.k8s.io.v1.Role.json',
    declarable: true,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'RoleBinding',
    plural: 'rolebindings',
    namespaced: true,
    schema: 'rbac.authorization.k8s.io.v1.RoleBinding.json',
    declarable: true,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'ClusterRole',
    plural: 'clusterroles',
    namespaced: false,
    schema: 'rbac.authorization.k8s.io.v1.ClusterRole.json',
    declarable: true,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'ClusterRoleBinding',
    plural: 'clusterrolebindings',
    namespaced: false,
    schema: 'rbac.authorization.k8s.io.v1.ClusterRoleBinding.json',
    declarable: true,
  },
  {
    group: 'berth.dev',
    version: 'v1',
    kind: 'AppProject',
    plural: 'appprojects',
    namespaced: false,
    schema: 'berth.dev.v1.AppProject.json',
    declarable: true,
    shortNames: ['appproj', 'proj'],
  },
  {
    group: 'berth.dev',
    version: 'v1',
    kind: 'Application',
    plural: 'applications',
    namespaced: true,
    schema: 'berth.dev.v1.Application.json',
    declarable: true,
    shortNames: ['app', 'apps'],
  },
] as const satisfies readonly KindInfo[];

export type KindName = (typeof KINDS)[number]['kind'];

/** Files under schemas/ that hold only shared definitions. */
export const SHARED_SCHEMAS = ['meta.json', 'pod-spec.json'] as const;

const BY_KIND = new Map<string, KindInfo>(KINDS.map((k) => [k.kind, k]));
const BY_API_VERSION_KIND = new Map<string, KindInfo>(KINDS.map((k) => [`${apiVersionOf(k)}/${k.kind}`, k]));

export function apiVersionOf(k: Pick<KindInfo, 'group' | 'version'>): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

/** The API group of an apiVersion: `apps` for `apps/v1`, '' for the core group's `v1`. */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

export function kindInfo(kind: string): KindInfo | undefined {
  return BY_KIND.get(kind);
}

export function kindInfoFor(apiVersion: string, kind: string): KindInfo | undefined {
  return BY_API_VERSION_KIND.get(`${apiVersion}/${kind}`);
}

export function supportedKindList(): string {
  return KINDS.filter((k) => k.declarable)
    .map((k) => `${k.kind} (${apiVersionOf(k)})`)
    .join(', ');
}

/** Resolves what a user types (`po`, `pods`, `pod`, `Pod`, `deployments.apps`) to a kind. */
export function resolveKind(name: string): KindInfo | undefined {
  const lower = name.toLowerCase();
  const [base, group] = lower.includes('.')
    ? [lower.slice(0, lower.indexOf('.')), lower.slice(lower.indexOf('.') + 1)]
    : [lower, undefined];
  return KINDS.find((k) => {
    if (group !== undefined && k.group !== group) return false;
    const names: readonly string[] = [
      k.plural,
      k.kind.toLowerCase(),
      ...('shortNames' in k ? (k.shortNames ?? []) : []),
    ];
    return names.includes(base);
  });
}
