/**
 * What a pod asks of a node and what a node offers, in integers: cpu in millicores, memory in
 * bytes, and one pod. A pod's request is, per resource, the larger of the sum over its containers
 * and the largest init container's (init containers run one at a time before the others), plus
 * its overhead, as the Kubernetes scheduler counts it.
 */
import { parseQuantity } from '../api/quantity.js';
import type { Node, Pod } from '../api/types.gen.js';

export interface Resources {
  cpu: number;
  memory: number;
  pods: number;
}

type QuantityMap = Record<string, string | number | undefined> | undefined;

const cpuOf = (q: QuantityMap): number => (q?.cpu !== undefined ? Number(parseQuantity(q.cpu).milliValue()) : 0);
const memoryOf = (q: QuantityMap): number => (q?.memory !== undefined ? Number(parseQuantity(q.memory).intValue()) : 0);

export function podRequests(pod: Pick<Pod, 'spec'>): Resources {
  let cpu = 0;
  let memory = 0;
  for (const c of pod.spec?.containers ?? []) {
    cpu += cpuOf(c.resources?.requests as QuantityMap);
    memory += memoryOf(c.resources?.requests as QuantityMap);
  }
  for (const c of pod.spec?.initContainers ?? []) {
    cpu = Math.max(cpu, cpuOf(c.resources?.requests as QuantityMap));
    memory = Math.max(memory, memoryOf(c.resources?.requests as QuantityMap));
  }
  const overhead = (pod.spec as { overhead?: QuantityMap } | undefined)?.overhead;
  return { cpu: cpu + cpuOf(overhead), memory: memory + memoryOf(overhead), pods: 1 };
}

export function nodeAllocatable(node: Pick<Node, 'status'>): Resources {
  const a = (node.status?.allocatable ?? node.status?.capacity) as QuantityMap;
  return {
    cpu: cpuOf(a),
    memory: memoryOf(a),
    pods: a?.pods !== undefined ? Number(parseQuantity(a.pods).intValue()) : 110,
  };
}

/** host ports a pod claims, as `protocol/hostIP/port`. */
export function hostPorts(pod: Pick<Pod, 'spec'>): string[] {
  const out: string[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? [])
      if (p.hostPort) out.push(`${p.protocol ?? 'TCP'}/${p.hostIP || '0.0.0.0'}/${p.hostPort}`);
  }
  return out;
}

/** Two host-port claims conflict on the same protocol and port when either binds every address. */
export function portsConflict(a: string, b: string): boolean {
  const [pa, ia, na] = a.split('/');
  const [pb, ib, nb] = b.split('/');
  return pa === pb && na === nb && (ia === ib || ia === '0.0.0.0' || ib === '0.0.0.0');
}
