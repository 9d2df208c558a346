/**
 * When a commit's Ingress routes first served from its new pods, for the ledger: every Ingress
 * of the commit is published by a router (status.loadBalancer) and each Service its rules name
 * has a ready endpoint on a pod of its workload's current revision — a Deployment's ReplicaSet
 * of the Deployment's revision, a StatefulSet's or DaemonSet's pod of its update revision (what
 * `kubectl rollout status` waits for); other pods count as current.
 */
import { getIfExists } from '../store/index.js';
import type { KubeObject, Store } from '../store/types.js';

type Owned = KubeObject & {
  metadata: {
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
};
type IngressLike = KubeObject & {
  spec?: { defaultBackend?: Backend; rules?: { http?: { paths?: { backend: Backend }[] } }[] };
  status?: { loadBalancer?: { ingress?: unknown[] } };
};
type Backend = { service?: { name: string } };
type EndpointsLike = KubeObject & { subsets?: { addresses?: { targetRef?: { kind?: string; name: string } }[] }[] };

const REVISION = 'deployment.kubernetes.io/revision';

const controllerOf = (o: Owned) => o.metadata.ownerReferences?.find((r) => r.controller);

/** Whether a pod belongs to its workload's current revision. */
async function isCurrent(store: Store, pod: Owned): Promise<boolean> {
  const ns = pod.metadata.namespace ?? 'default';
  const owner = controllerOf(pod);
  if (owner?.kind === 'ReplicaSet') {
    const rs = await getIfExists<Owned>(store, { group: 'apps', kind: 'ReplicaSet', namespace: ns, name: owner.name });
    const deployment = rs && controllerOf(rs);
    if (!rs || deployment?.kind !== 'Deployment') return true;
    const d = await getIfExists<Owned>(store, {
      group: 'apps',
      kind: 'Deployment',
      namespace: ns,
      name: deployment.name,
    });
    return !d || d.metadata.annotations?.[REVISION] === rs.metadata.annotations?.[REVISION];
  }
  if (owner?.kind === 'StatefulSet' || owner?.kind === 'DaemonSet') {
    const w = await getIfExists<Owned & { status?: { updateRevision?: string } }>(store, {
      group: 'apps',
      kind: owner.kind,
      namespace: ns,
      name: owner.name,
    });
    const want = owner.kind === 'StatefulSet' ? w?.status?.updateRevision : undefined;
    return !want || pod.metadata.labels?.['controller-revision-hash'] === want;
  }
  return true;
}

/** Whether the Ingresses among `objects` (as desired by the commit) serve from current pods. */
export async function servesCurrentPods(store: Store, objects: KubeObject[]): Promise<boolean> {
  const ingresses = objects.filter((o) => o.kind === 'Ingress');
  if (!ingresses.length) return false;
  for (const desired of ingresses) {
    const ns = desired.metadata.namespace ?? 'default';
    const live = await getIfExists<IngressLike>(store, {
      group: 'networking.k8s.io',
      kind: 'Ingress',
      namespace: ns,
      name: desired.metadata.name,
    });
    if (!live?.status?.loadBalancer?.ingress?.length) return false;
    const backends = [
      live.spec?.defaultBackend,
      ...(live.spec?.rules ?? []).flatMap((r) => (r.http?.paths ?? []).map((p) => p.backend)),
    ];
    for (const service of new Set(backends.map((b) => b?.service?.name).filter((n): n is string => Boolean(n)))) {
      const endpoints = await getIfExists<EndpointsLike>(store, {
        group: '',
        kind: 'Endpoints',
        namespace: ns,
        name: service,
      });
      const addresses = (endpoints?.subsets ?? []).flatMap((s) => s.addresses ?? []);
      const pods = addresses.map((a) => a.targetRef).filter((r) => r?.kind === 'Pod');
      // Hand-written endpoints (no pods behind them) serve as they are.
      let current = addresses.length > pods.length;
      for (const ref of pods) {
        const pod = await getIfExists<Owned>(store, { group: '', kind: 'Pod', namespace: ns, name: ref!.name });
        if (pod && (await isCurrent(store, pod))) {
          current = true;
          break;
        }
      }
      if (!current) return false;
    }
  }
  return true;
}
