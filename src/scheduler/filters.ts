/**
 * The scheduler's filters and scores (Kubernetes' default plugins, pure). A filter answers why a
 * node cannot take a pod, in the scheduler's own words; the unschedulable message counts those
 * reasons over all nodes, sorted as kube-scheduler sorts them.
 */
import { CONDITION } from '../api/conditions.js';
import { nodeSelectionProblem, tolerates } from '../api/scheduling.js';
import type { Node, NodeSelectorTerm, Pod, Taint, Toleration } from '../api/types.gen.js';
import { termMatches } from '../api/scheduling.js';
import { portsConflict, type Resources } from './resources.js';

export type SchedNode = Omit<Node, 'metadata'> & {
  metadata: {
    name: string;
    labels?: Record<string, string | undefined>;
    annotations?: Record<string, string | undefined>;
  };
};
export type SchedPod = Pick<Pod, 'spec'> & { metadata: { name: string; namespace?: string } };

/** What the scheduler knows of a node: the node, and what the pods bound to it take. */
export interface NodeInfo {
  node: SchedNode;
  allocatable: Resources;
  requested: Resources;
  /** Host ports in use, `protocol/ip/port`. */
  ports: string[];
  /** Pods on the node per owner (controller uid), for spreading. */
  owners: Map<string, number>;
}

export interface PodFacts {
  pod: SchedPod;
  requests: Resources;
  ports: string[];
  /** The controller that owns it (uid), for spreading. */
  owner?: string;
  /** The node its claims are pinned to (a StatefulSet's volume), if any. */
  claimNode?: string;
}

const NOT_READY_TAINT: Taint = { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };

/** A node whose Ready condition is not True counts as tainted not-ready (as TaintNodesByCondition does). */
function effectiveTaints(node: SchedNode): Taint[] {
  const taints = node.spec?.taints ?? NO_TAINTS;
  const conditions = node.status?.conditions;
  let ready: string | undefined;
  if (conditions) for (const c of conditions) if (c.type === CONDITION.Ready) ready = c.status;
  if (ready !== undefined && ready !== 'True' && !taints.some((t) => t.key.startsWith('node.kubernetes.io/')))
    return [...taints, NOT_READY_TAINT];
  return taints;
}
const NO_TAINTS: Taint[] = [];

function tolerated(tolerations: Toleration[], taint: Taint): boolean {
  for (const t of tolerations) if (tolerates(t, taint)) return true;
  return false;
}

function portTaken(wanted: string[], used: string[]): boolean {
  for (const p of wanted) for (const u of used) if (portsConflict(p, u)) return true;
  return false;
}

/**
 * Why the node cannot run the pod; empty when it can. Stops at the first failing plugin, as the
 * scheduler does. (Plain loops: this runs for thousands of nodes per pod.)
 */
export function filterNode(f: PodFacts, info: NodeInfo): string[] {
  const { node } = info;
  const spec = f.pod.spec;
  const tolerations = spec?.tolerations ?? [];
  // NodeUnschedulable
  if (node.spec?.unschedulable && !tolerated(tolerations, UNSCHEDULABLE_TAINT)) return ['node(s) were unschedulable'];
  // NodeName
  if (spec?.nodeName && spec.nodeName !== node.metadata.name) return ["node(s) didn't match the requested node name"];
  // TaintToleration
  for (const taint of effectiveTaints(node)) {
    if (taint.effect !== 'PreferNoSchedule' && !tolerated(tolerations, taint))
      return [`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`];
  }
  // NodeAffinity
  if ((spec?.nodeSelector || spec?.affinity?.nodeAffinity) && spec) {
    const affinity = nodeSelectionProblem(spec, node);
    if (affinity) return [affinity];
  }
  // NodePorts
  if (f.ports.length && info.ports.length && portTaken(f.ports, info.ports))
    return ["node(s) didn't have free ports for the requested pod ports"];
  // NodeResourcesFit
  const tooMany = info.requested.pods + 1 > info.allocatable.pods;
  const cpu = f.requests.cpu > 0 && info.requested.cpu + f.requests.cpu > info.allocatable.cpu;
  const memory = f.requests.memory > 0 && info.requested.memory + f.requests.memory > info.allocatable.memory;
  if (tooMany || cpu || memory)
    return [
      ...(tooMany ? ['Too many pods'] : []),
      ...(cpu ? ['Insufficient cpu'] : []),
      ...(memory ? ['Insufficient memory'] : []),
    ];
  // VolumeBinding: a claim already bound to a node keeps its pods there.
  if (f.claimNode && f.claimNode !== node.metadata.name) return ['node(s) had volume node affinity conflict'];
  return NONE;
}

const NONE: string[] = [];
const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

/** kube-scheduler's FitError: `0/N nodes are available: <count reason>, ….` with reasons sorted as strings. */
export function unschedulableMessage(totalNodes: number, reasons: Map<string, number>): string {
  if (totalNodes === 0) return 'no nodes available to schedule pods';
  const parts = [...reasons].map(([reason, n]) => `${n} ${reason}`).sort();
  return `0/${totalNodes} nodes are available: ${parts.join(', ')}.`;
}

/** For pods that ask nothing, the scheduler scores as if they asked this much (non-zero requests). */
const DEFAULT_CPU = 100;
const DEFAULT_MEMORY = 200 * 1024 * 1024;

export interface Scores {
  leastAllocated: number;
  balanced: number;
  /** Raw inputs normalized across the candidates by `scoreCandidates`. */
  sameOwner: number;
  affinityWeight: number;
  preferNoSchedule: number;
}

export function rawScores(f: PodFacts, info: NodeInfo): Scores {
  const cpu = (info.requested.cpu + (f.requests.cpu || DEFAULT_CPU)) / Math.max(1, info.allocatable.cpu);
  const mem = (info.requested.memory + (f.requests.memory || DEFAULT_MEMORY)) / Math.max(1, info.allocatable.memory);
  const free = (x: number) => Math.max(0, 1 - x) * 100;
  const preferred = f.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  const tolerations = f.pod.spec?.tolerations ?? [];
  return {
    leastAllocated: (free(cpu) + free(mem)) / 2,
    balanced: (1 - Math.min(1, Math.abs(Math.min(cpu, 1) - Math.min(mem, 1)) / 2)) * 100,
    sameOwner: f.owner ? (info.owners.get(f.owner) ?? 0) : 0,
    affinityWeight: preferred.reduce(
      (n, p) => n + (termMatches(p.preference as NodeSelectorTerm, info.node) ? p.weight : 0),
      0,
    ),
    preferNoSchedule: (info.node.spec?.taints ?? []).filter(
      (t) => t.effect === 'PreferNoSchedule' && !tolerations.some((tol) => tolerates(tol, t)),
    ).length,
  };
}

/** Plugin weights of the default profile: resources 1 each, spreading and node affinity 2, taints 3. */
export const WEIGHTS = { leastAllocated: 1, balanced: 1, spread: 2, affinity: 2, taints: 3 } as const;

/** Final scores for the feasible nodes: raw scores with the relative ones normalized to 0–100. */
export function scoreCandidates(raw: Scores[]): number[] {
  const maxOwner = Math.max(0, ...raw.map((r) => r.sameOwner));
  const maxAffinity = Math.max(0, ...raw.map((r) => r.affinityWeight));
  const maxPrefer = Math.max(0, ...raw.map((r) => r.preferNoSchedule));
  return raw.map(
    (r) =>
      WEIGHTS.leastAllocated * r.leastAllocated +
      WEIGHTS.balanced * r.balanced +
      WEIGHTS.spread * (maxOwner === 0 ? 100 : (100 * (maxOwner - r.sameOwner)) / maxOwner) +
      WEIGHTS.affinity * (maxAffinity === 0 ? 0 : (100 * r.affinityWeight) / maxAffinity) +
      WEIGHTS.taints * (maxPrefer === 0 ? 100 : (100 * (maxPrefer - r.preferNoSchedule)) / maxPrefer),
  );
}

/** percentageOfNodesToScore, adaptive as kube-scheduler's: stop filtering once this many fit. */
export function feasibleNodesToFind(total: number): number {
  if (total < 100) return total;
  const percent = Math.max(5, 50 - Math.floor(total / 125));
  return Math.max(100, Math.floor((total * percent) / 100));
}

/**
 * Filters `nodes` from `start` (rotating, as kube-scheduler does) until enough fit, then scores
 * those: the best node, or kube-scheduler's message when none fits. `looked` is how many nodes
 * were filtered (where the next rotation starts). Synchronous: no other pod interleaves.
 */
export function pickNode(
  facts: PodFacts,
  nodes: readonly NodeInfo[],
  start = 0,
): { node?: string; message: string; looked: number } {
  const want = feasibleNodesToFind(nodes.length);
  const feasible: NodeInfo[] = [];
  let looked = 0;
  for (; looked < nodes.length && feasible.length < want; looked++) {
    const info = nodes[(start + looked) % nodes.length]!;
    if (filterNode(facts, info).length === 0) feasible.push(info);
  }
  if (feasible.length === 0) {
    // Every node was looked at and none fits: count why, for the message.
    const reasons = new Map<string, number>();
    for (const info of nodes) for (const r of filterNode(facts, info)) reasons.set(r, (reasons.get(r) ?? 0) + 1);
    return { message: unschedulableMessage(nodes.length, reasons), looked };
  }
  const scores = scoreCandidates(feasible.map((info) => rawScores(facts, info)));
  let best = 0;
  for (let i = 1; i < feasible.length; i++) if (scores[i]! > scores[best]!) best = i;
  return { node: feasible[best]!.node.metadata.name, message: '', looked };
}

/** Adds (sign 1) or takes back (-1) what a pod takes of a node. */
export function chargeNode(info: NodeInfo, f: PodFacts, sign: 1 | -1): void {
  info.requested.cpu += sign * f.requests.cpu;
  info.requested.memory += sign * f.requests.memory;
  info.requested.pods += sign;
  if (sign === 1) info.ports.push(...f.ports);
  else {
    for (const p of f.ports) {
      const i = info.ports.indexOf(p);
      if (i !== -1) info.ports.splice(i, 1);
    }
  }
  if (f.owner) info.owners.set(f.owner, (info.owners.get(f.owner) ?? 0) + sign);
}
