/**
 * Resource metrics: what an agent reports (usage per pod container and of its node, from two
 * samples `windowMs` apart) and how the server shows it — metrics.k8s.io/v1beta1 PodMetrics and
 * NodeMetrics, as metrics-server serves them (CPU in nanocores `n`, memory in `Ki`).
 */

export interface ContainerUsage {
  name: string;
  cpuCores: number;
  memoryBytes: number;
}

export interface PodUsage {
  namespace: string;
  name: string;
  uid: string;
  /** When the newer of the two samples was taken (ms). */
  timestamp: number;
  windowMs: number;
  containers: ContainerUsage[];
}

export interface NodeUsage {
  name: string;
  timestamp: number;
  windowMs: number;
  cpuCores: number;
  memoryBytes: number;
}

/** An agent's newest report, GET /metrics/resource on its endpoint. */
export interface ResourceUsageReport {
  node?: NodeUsage;
  pods: PodUsage[];
}

/** Where the HPA and `top` read metrics: every node's newest usage report, and the data planes' load. */
export interface ClusterMetricsSource {
  usage(): Promise<{ nodes: NodeUsage[]; pods: PodUsage[] }>;
  load(): Promise<{ timestamp: number; windowMs: number; entries: LoadEntry[] }>;
}

export const METRICS_GROUP_VERSION = 'metrics.k8s.io/v1beta1';

/** An HPA metric's type and the field of its source (`type: Resource` → `resource: {…}`). */
export const METRIC_SOURCE_FIELD: Record<string, string> = {
  Resource: 'resource',
  ContainerResource: 'containerResource',
  Pods: 'pods',
  Object: 'object',
  External: 'external',
};

export const cpuQuantity = (cores: number): string => `${Math.round(cores * 1e9)}n`;
export const memoryQuantity = (bytes: number): string => `${Math.round(bytes / 1024)}Ki`;
const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))}s`;

export function podMetricsObject(u: PodUsage, labels: Record<string, string | undefined> = {}) {
  return {
    kind: 'PodMetrics',
    apiVersion: METRICS_GROUP_VERSION,
    metadata: { name: u.name, namespace: u.namespace, creationTimestamp: iso(Date.now()), labels },
    timestamp: iso(u.timestamp),
    window: seconds(u.windowMs),
    containers: u.containers.map((c) => ({
      name: c.name,
      usage: { cpu: cpuQuantity(c.cpuCores), memory: memoryQuantity(c.memoryBytes) },
    })),
  };
}

export function nodeMetricsObject(u: NodeUsage, labels: Record<string, string | undefined> = {}) {
  return {
    kind: 'NodeMetrics',
    apiVersion: METRICS_GROUP_VERSION,
    metadata: { name: u.name, creationTimestamp: iso(Date.now()), labels },
    timestamp: iso(u.timestamp),
    window: seconds(u.windowMs),
    usage: { cpu: cpuQuantity(u.cpuCores), memory: memoryQuantity(u.memoryBytes) },
  };
}

/** Live request load (network/load.ts): requests per second over a window, and in flight. */
export type LoadKind = 'Ingress' | 'Service' | 'Pod';

export interface LoadEntry {
  kind: LoadKind;
  namespace: string;
  name: string;
  requestsPerSecond: number;
  inFlight: number;
}

/** A data plane's load, GET /metrics/load on an agent's endpoint. */
export interface LoadReport {
  /** When it was read (ms) and over how long the rates are. */
  timestamp: number;
  windowMs: number;
  entries: LoadEntry[];
}

/** Several routers' and proxies' reports as one: rates and in-flight counts add up. */
export function mergeLoad(reports: LoadReport[]): LoadEntry[] {
  const merged = new Map<string, LoadEntry>();
  for (const r of reports)
    for (const e of r.entries) {
      const key = `${e.kind}/${e.namespace}/${e.name}`;
      const m = merged.get(key);
      if (m) {
        m.requestsPerSecond += e.requestsPerSecond;
        m.inFlight += e.inFlight;
      } else merged.set(key, { ...e });
    }
  return [...merged.values()];
}
