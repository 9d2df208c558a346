/**
 * What kubectl reads before anything else: /version, legacy discovery (/api, /apis, group and
 * group/version resource lists with their subresources and short names), and /openapi/v3: a
 * patch operation per kind (so `kubectl apply` validates on the server, fieldValidation) and the
 * kinds' schemas from schemas/ (so `kubectl explain` works). Measured
 * against the real kubectl in ../shared/KUBECTL.md.
 */
import { SCALABLE_KINDS } from './scale.js';
import { REVIEW_GROUPS } from './review.js';
import { KINDS, apiVersionOf, type KindInfo } from '../api/kinds.js';
import { openapiSchemas } from '../manifest/openapi.js';

export const BERTH_VERSION = '0.1.0';
/** The Kubernetes minor Berth answers as: kubectl's dispatcher picks its bundled v1.32 for it. */
const KUBERNETES_MINOR = '32';

export function versionInfo() {
  return {
    major: '1',
    minor: KUBERNETES_MINOR,
    gitVersion: `v1.${KUBERNETES_MINOR}.0-berth.${BERTH_VERSION}`,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '',
    goVersion: '',
    compiler: 'node',
    platform: `${process.platform}/${process.arch}`,
  };
}

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const GROUPS: string[] = [...new Set(KINDS.filter((k) => k.group).map((k) => k.group as string))];
/**
 * Read-only groups computed on request rather than stored, as Kubernetes' aggregated APIs are
 * (metrics-server's metrics.k8s.io): served by resource-metrics.ts.
 */
export const COMPUTED_GROUPS = [
  {
    group: 'metrics.k8s.io',
    version: 'v1beta1',
    resources: [
      { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
      { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
    ],
  },
  {
    group: 'custom.metrics.k8s.io',
    version: 'v1beta2',
    resources: ['pods', 'services', 'ingresses.networking.k8s.io'].flatMap((r) =>
      ['requests_per_second', 'requests_in_flight'].map((m) => ({
        name: `${r}/${m}`,
        singularName: '',
        namespaced: true,
        kind: 'MetricValueList',
        verbs: ['get'],
      })),
    ),
  },
];

/** Each group's one served version (v1 but for autoscaling/v2 and the computed groups). */
function versionOf(group: string): string {
  return (
    KINDS.find((k) => k.group === group)?.version ?? COMPUTED_GROUPS.find((g) => g.group === group)?.version ?? 'v1'
  );
}
/** Groups that hold only the self-reviews (create-only, served by review.ts). */
const REVIEW_ONLY: string[] = REVIEW_GROUPS.map((r) => r.group);

function resources(kinds: readonly KindInfo[]) {
  return kinds.flatMap((k) => [
    {
      name: k.plural,
      singularName: k.kind.toLowerCase(),
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: VERBS,
      ...('shortNames' in k && k.shortNames ? { shortNames: k.shortNames } : {}),
      // kubectl get all: Kubernetes' "all" category (pods, services and the workload kinds).
      ...(k.kind === 'Pod' ||
      k.kind === 'Service' ||
      k.kind === 'ReplicationController' ||
      (k.group === 'apps' && k.kind !== 'ControllerRevision') ||
      k.group === 'batch'
        ? { categories: ['all'] }
        : {}),
    },
    {
      name: `${k.plural}/status`,
      singularName: '',
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: ['get', 'patch', 'update'],
    },
    ...(k.kind === 'Pod'
      ? [
          { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
          { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
          {
            name: 'pods/attach',
            singularName: '',
            namespaced: true,
            kind: 'PodAttachOptions',
            verbs: ['create', 'get'],
          },
          {
            name: 'pods/portforward',
            singularName: '',
            namespaced: true,
            kind: 'PodPortForwardOptions',
            verbs: ['create', 'get'],
          },
          // kubectl drain looks for this entry (and its group) before it evicts rather than deletes.
          {
            name: 'pods/eviction',
            singularName: '',
            namespaced: true,
            group: 'policy',
            version: 'v1',
            kind: 'Eviction',
            verbs: ['create'],
          },
        ]
      : []),
    ...(SCALABLE_KINDS.includes(k.kind)
      ? [
          {
            name: `${k.plural}/scale`,
            singularName: '',
            namespaced: true,
            group: 'autoscaling',
            version: 'v1',
            kind: 'Scale',
            verbs: ['get', 'patch', 'update'],
          },
        ]
      : []),
  ]);
}

export function discovery(path: string[], serverAddress: string): unknown | undefined {
  const [root, group, version] = path;
  if (root === 'api' && !group) {
    return {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    };
  }
  if (root === 'api' && group === 'v1') {
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: 'v1',
      resources: resources(KINDS.filter((k) => !k.group)),
    };
  }
  if (root !== 'apis') return undefined;
  const groupObject = (g: string) => ({
    name: g,
    versions: [{ groupVersion: `${g}/${versionOf(g)}`, version: versionOf(g) }],
    preferredVersion: { groupVersion: `${g}/${versionOf(g)}`, version: versionOf(g) },
  });
  const computedNames = COMPUTED_GROUPS.map((g) => g.group);
  if (!group)
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...GROUPS, ...REVIEW_ONLY, ...computedNames].map(groupObject),
    };
  if (!GROUPS.includes(group) && !REVIEW_ONLY.includes(group) && !computedNames.includes(group)) return undefined;
  if (!version) return { kind: 'APIGroup', apiVersion: 'v1', ...groupObject(group) };
  if (version !== versionOf(group)) return undefined;
  const computed = COMPUTED_GROUPS.find((g) => g.group === group);
  if (computed)
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: `${group}/${version}`,
      resources: computed.resources,
    };
  const review = REVIEW_GROUPS.find((r) => r.group === group);
  if (review)
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: `${group}/v1`,
      resources: [{ name: review.resource, singularName: '', namespaced: false, kind: review.kind, verbs: ['create'] }],
    };
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: `${group}/${version}`,
    resources: resources(KINDS.filter((k) => k.group === group)),
  };
}

const GROUP_VERSIONS = ['api/v1', ...GROUPS.map((g) => `apis/${g}/${versionOf(g)}`)];

export function openapiIndex() {
  return {
    paths: Object.fromEntries(
      GROUP_VERSIONS.map((gv) => [gv, { serverRelativeURL: `/openapi/v3/${gv}?hash=${BERTH_VERSION}` }]),
    ),
  };
}

/** One group-version's document: a patch operation per kind, with fieldValidation, and its GVK. */
export function openapiDocument(groupVersion: string): unknown | undefined {
  if (!GROUP_VERSIONS.includes(groupVersion)) return undefined;
  const kinds = KINDS.filter((k) => (k.group ? `apis/${apiVersionOf(k)}` : 'api/v1') === groupVersion);
  const paths = Object.fromEntries(
    kinds.map((k) => {
      const base = `/${groupVersion}${k.namespaced ? '/namespaces/{namespace}' : ''}/${k.plural}/{name}`;
      return [
        base,
        {
          patch: {
            operationId: `patch${k.kind}`,
            parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } }],
            'x-kubernetes-action': 'patch',
            'x-kubernetes-group-version-kind': { group: k.group, version: k.version, kind: k.kind },
            responses: { '200': { description: 'OK' } },
          },
        },
      ];
    }),
  );
  return {
    openapi: '3.0.0',
    info: { title: 'Berth', version: BERTH_VERSION },
    paths,
    components: { schemas: openapiSchemas(kinds) },
  };
}
