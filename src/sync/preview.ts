/**
 * The PR plan beside the diff (`berth app diff`): what the sync would refuse the revision for,
 * whether the pods it adds fit on today's nodes (the scheduler's filters as a simulation), the
 * Ingress rules it shares with someone else's, and the images it changes. Reads the store; the
 * judgements are the pure cores' (scheduler/simulate, network/routes, diff/images).
 */
import { podTemplateOf } from '../api/pod-security.js';
import { selectorFromObject, type LabelSelectorObject } from '../api/selector.js';
import { stableJson } from '../api/workloads.js';
import { imageChanges, managerOf, type ObjectLike, type Plan, type PlanChecks } from '../diff/index.js';
import type { LoadedObject } from '../manifest/index.js';
import { routeConflicts, servesClass, type IngressObject } from '../network/routes.js';
import {
  hostPorts,
  nodeInfos,
  podRequests,
  simulatePlacement,
  type PlacedPod,
  type PlacementRequest,
} from '../scheduler/index.js';
import type { KubeObject } from '../store/types.js';
import { formatViolation } from './project.js';
import { missingNamespaces, policyViolations, type ApplicationObject, type SyncDeps } from './sync.js';

type WorkloadSpec = {
  replicas?: number;
  parallelism?: number;
  completions?: number;
  selector?: LabelSelectorObject;
};

const REPLICATED = new Set(['Deployment', 'ReplicaSet', 'ReplicationController', 'StatefulSet']);

/** How many pods a workload runs when it is settled; undefined for kinds that make none by themselves (a CronJob). */
function podCount(o: ObjectLike): number | undefined {
  const spec = (o as { spec?: WorkloadSpec }).spec ?? {};
  if (REPLICATED.has(o.kind)) return spec.replicas ?? 1;
  if (o.kind === 'Job') return Math.min(spec.parallelism ?? 1, spec.completions ?? Infinity);
  if (o.kind === 'Pod') return 1;
  return undefined;
}

/** What placing a pod depends on: its requests, host ports and node constraints. */
function placementKey(o: ObjectLike | undefined): string {
  const t = o && podTemplateOf(o);
  if (!t) return '';
  const pod = { spec: t.spec } as PlacedPod;
  const s = t.spec as Record<string, unknown>;
  return stableJson([podRequests(pod), hostPorts(pod), s.nodeSelector, s.affinity, s.tolerations, s.nodeName]);
}

/**
 * The pods the plan adds, as placement requests: a new workload's, a grown one's extra replicas,
 * and all of a workload whose placement changes (its current pods are replaced: `replaced`).
 */
function placementRequests(plan: Plan): { requests: PlacementRequest[]; replaced: ObjectLike[] } {
  const requests: PlacementRequest[] = [];
  const replaced: ObjectLike[] = [];
  for (const a of plan.waves.flatMap((w) => w.actions)) {
    if (a.type === 'prune') continue;
    const after = a.desired;
    const before = a.type === 'update' ? a.live : undefined;
    const t = podTemplateOf(after);
    if (!t) continue;
    const id = `${after.kind}/${after.metadata.namespace ?? ''}/${after.metadata.name}`;
    const template = {
      metadata: { name: after.metadata.name, namespace: after.metadata.namespace },
      spec: t.spec,
    } as PlacedPod;
    const moves = !before || placementKey(before) !== placementKey(after);
    if (moves && before) replaced.push(before);
    if (after.kind === 'DaemonSet') {
      if (moves) requests.push({ id, template, count: 0, perNode: true });
      continue;
    }
    const count = podCount(after);
    if (count === undefined || (before && after.kind === 'Pod')) continue;
    const added = moves ? count : count - (podCount(before!) ?? 0);
    if (added > 0) requests.push({ id, template, count: added });
  }
  return { requests, replaced };
}

/** Pods the replaced workloads run now (their selector, in their namespace): they make room. */
function replacedBy(replaced: ObjectLike[]): (pod: KubeObject) => boolean {
  const matchers = replaced.map((w) => {
    const selector = (w as { spec?: WorkloadSpec }).spec?.selector;
    const namespace = w.metadata.namespace ?? 'default';
    if (w.kind === 'Pod')
      return (p: KubeObject) => p.metadata.namespace === namespace && p.metadata.name === w.metadata.name;
    const s = selector ? selectorFromObject(selector) : undefined;
    return (p: KubeObject) => !!s && p.metadata.namespace === namespace && s.matches(p.metadata.labels ?? {});
  });
  return (pod) => matchers.some((m) => m(pod));
}

const splitId = (id: string) => {
  const [kind, namespace, name] = id.split('/') as [string, string, string];
  return { kind, ...(namespace ? { namespace } : {}), name };
};

/** The revision's Ingress rules that a live Ingress someone else manages claims too, with that Application's name. */
function ingressConflictsOf(app: ApplicationObject, objects: LoadedObject[], live: KubeObject[]) {
  const liveById = new Map(live.map((i) => [`${i.metadata.namespace}/${i.metadata.name}`, i]));
  // Ours as the revision has them, with the creation time of their live copies (a new one is the newest).
  const ours = objects
    .map((o) => o.object as unknown as KubeObject)
    .filter((o) => o.kind === 'Ingress' && servesClass(o as never))
    .map((o) => {
      const created = liveById.get(`${o.metadata.namespace ?? 'default'}/${o.metadata.name}`)?.metadata
        .creationTimestamp;
      return { ...o, metadata: { ...o.metadata, ...(created ? { creationTimestamp: created } : {}) } } as IngressObject;
    });
  const appOf = (i: KubeObject | undefined) => (i ? managerOf(i as ObjectLike) : undefined);
  const isOurs = (i: KubeObject) => {
    const m = appOf(i);
    return m?.name === app.metadata.name && m.namespace === (app.metadata.namespace ?? 'default');
  };
  return routeConflicts(ours, live.filter((i) => !isOurs(i)) as IngressObject[]).map((c) => {
    const theirApp = appOf(liveById.get(c.theirs))?.name;
    return { ...c, ...(theirApp ? { theirApp } : {}) };
  });
}

export async function planChecks(
  deps: SyncDeps,
  app: ApplicationObject,
  objects: LoadedObject[],
  plan: Plan,
): Promise<PlanChecks> {
  const policy = await policyViolations(deps, app, objects);
  const refusals = policy.length ? policy : (await missingNamespaces(deps.store, app, objects)).missing;

  const list = async (group: string, kind: string) => (await deps.store.list({ group, kind })).items;
  const [nodes, pods, ingresses] = await Promise.all([
    list('', 'Node'),
    list('', 'Pod'),
    list('networking.k8s.io', 'Ingress'),
  ]);
  const { requests, replaced } = placementRequests(plan);
  const isReplaced = replacedBy(replaced);
  const infos = nodeInfos(nodes as never, pods.filter((p) => !isReplaced(p)) as never);
  const scheduling = simulatePlacement(infos, requests).map(({ id, ...p }) => ({ ...splitId(id), ...p }));
  const ingressConflicts = ingressConflictsOf(app, objects, ingresses);
  const images = imageChanges(
    plan.waves
      .flatMap((w) => w.actions)
      .map((a) =>
        a.type === 'create'
          ? { after: a.desired }
          : a.type === 'update'
            ? { before: a.live, after: a.desired }
            : { before: a.live },
      ),
  );
  return {
    refusals: refusals.map(formatViolation),
    nodes: nodes.length,
    scheduling,
    ingressConflicts,
    images,
  };
}
