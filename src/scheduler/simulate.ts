/**
 * The scheduler as a simulation, for the PR plan ("would these pods fit on today's nodes?"): the
 * same filters and scores, over copies of the nodes and of what their pods take, placing one pod
 * at a time as the scheduler would. Pure; nothing is written.
 */
import {
  chargeNode,
  filterNode,
  pickNode,
  type NodeInfo,
  type PodFacts,
  type SchedNode,
  type SchedPod,
} from './filters.js';
import { hostPorts, nodeAllocatable, podRequests } from './resources.js';

/** A pod holding a node: bound to it and not finished. */
export type PlacedPod = SchedPod & { status?: { phase?: string } };

/** What the nodes hold now: each bound pod that has not finished charged to its node. */
export function nodeInfos(nodes: readonly SchedNode[], pods: readonly PlacedPod[]): NodeInfo[] {
  const byName = new Map<string, NodeInfo>();
  for (const node of nodes)
    byName.set(node.metadata.name, {
      node,
      allocatable: nodeAllocatable(node),
      requested: { cpu: 0, memory: 0, pods: 0 },
      ports: [],
      owners: new Map(),
    });
  for (const pod of pods) {
    const info = pod.spec?.nodeName ? byName.get(pod.spec.nodeName) : undefined;
    const phase = pod.status?.phase;
    if (info && phase !== 'Succeeded' && phase !== 'Failed') chargeNode(info, factsOf(pod), 1);
  }
  return [...byName.values()];
}

export const factsOf = (pod: SchedPod, owner?: string): PodFacts => ({
  pod,
  requests: podRequests(pod),
  ports: hostPorts(pod),
  ...(owner ? { owner } : {}),
});

/** Pods a workload of the revision would add: `count` copies of its template, or one per node (a DaemonSet). */
export interface PlacementRequest {
  /** Kind/namespace/name of the workload. */
  id: string;
  template: SchedPod;
  count: number;
  /** A DaemonSet: one pod on each node whose taints and affinity it passes (count is ignored). */
  perNode?: boolean;
}

export interface Placement {
  id: string;
  /** Pods the workload would add. */
  wanted: number;
  /** Of those, how many found a node. */
  placed: number;
  /** Why the first pod that found none did not (kube-scheduler's words). */
  message?: string;
}

/** Why a DaemonSet's pod would not run on a node it targets: only these keep it off a node it otherwise takes. */
const RESOURCE_REASONS = /^(Too many pods|Insufficient |node\(s\) didn't have free ports)/;

/**
 * Places the requests' pods in order on copies of `infos` (the requests' own pods count against
 * the ones after them, as they would in the cluster).
 */
export function simulatePlacement(infos: readonly NodeInfo[], requests: readonly PlacementRequest[]): Placement[] {
  const nodes = infos.map((i) => ({
    ...i,
    requested: { ...i.requested },
    ports: [...i.ports],
    owners: new Map(i.owners),
  }));
  return requests.map((r) => {
    const out: Placement = { id: r.id, wanted: 0, placed: 0 };
    const failed = (message: string) => {
      out.message ??= message;
    };
    if (r.perNode) {
      for (const info of nodes) {
        const name = info.node.metadata.name;
        const facts = factsOf({ ...r.template, spec: { ...r.template.spec!, nodeName: name } }, r.id);
        const reasons = filterNode(facts, info);
        // Taints and affinity decide which nodes the DaemonSet targets at all; resources whether its pod fits there.
        if (reasons.length && !reasons.every((x) => RESOURCE_REASONS.test(x))) continue;
        out.wanted++;
        if (reasons.length) failed(`node ${name}: ${reasons.join(', ')}`);
        else {
          chargeNode(info, facts, 1);
          out.placed++;
        }
      }
      return out;
    }
    const facts = factsOf(r.template, r.id);
    for (let i = 0; i < r.count; i++) {
      out.wanted++;
      const choice = pickNode(facts, nodes);
      if (!choice.node) {
        failed(choice.message);
        continue;
      }
      chargeNode(
        nodes.find((n) => n.node.metadata.name === choice.node)!,
        facts,
        1,
      );
      out.placed++;
    }
    return out;
  });
}
