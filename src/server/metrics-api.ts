/**
 * The metrics APIs, computed on request as Kubernetes' aggregated APIs are:
 * - metrics.k8s.io/v1beta1 (metrics-server's): NodeMetrics and PodMetrics from every node's
 *   agent's newest usage report (GET /metrics/resource on its endpoint, as metrics-server scrapes
 *   kubelets);
 * - custom.metrics.k8s.io/v1beta2 (a Prometheus adapter's): `requests_per_second` and
 *   `requests_in_flight` of pods, Services and Ingresses, from the data planes' request counts
 *   (each agent's GET /metrics/load, and this server's own ingress router).
 * Nothing is stored; what the agents report is read at most once a second (the HPA, `kubectl top`
 * and the API share a reading).
 */
import type { ServerResponse } from 'node:http';
import { BerthError } from '../api/errors.js';
import {
  mergeLoad,
  nodeMetricsObject,
  podMetricsObject,
  type ClusterMetricsSource,
  type LoadEntry,
  type LoadKind,
  type LoadReport,
  type NodeUsage,
  type PodUsage,
  type ResourceUsageReport,
} from '../api/metrics.js';
import type { KubeObject, Store } from '../store/types.js';
import { agentOfNode } from './podproxy.js';

export const METRICS_PREFIX = '/apis/metrics.k8s.io/v1beta1/';
export const CUSTOM_METRICS_PREFIX = '/apis/custom.metrics.k8s.io/v1beta2/';
/** The custom metrics served, per pod, Service and Ingress. */
export const CUSTOM_METRICS = ['requests_per_second', 'requests_in_flight'] as const;
const AGENT_TIMEOUT_MS = 3000;
/** What GET /api/v1/nodes/NAME/proxy/… passes on to the node's agent. */
const NODE_PROXY_PATHS = ['metrics', 'metrics/resource', 'metrics/load'];
export const NODE_PROXY = /^\/api\/v1\/nodes\/([^/]+)\/proxy\/(.*)$/;

type Usage = { nodes: NodeUsage[]; pods: PodUsage[] };
type Load = { timestamp: number; windowMs: number; entries: LoadEntry[] };

/** A reading shared by whoever asks within `maxAgeMs`. */
class Cached<T> {
  private value: { at: number; promise: Promise<T> } | undefined;
  constructor(
    private readonly read: () => Promise<T>,
    private readonly maxAgeMs: number,
  ) {}
  get(): Promise<T> {
    if (this.value && Date.now() - this.value.at < this.maxAgeMs) return this.value.promise;
    const promise = this.read();
    this.value = { at: Date.now(), promise };
    promise.catch(() => (this.value = undefined));
    return promise;
  }
}

/** The resources of custom.metrics.k8s.io and the kinds their objects are. */
const CUSTOM_RESOURCES: Record<string, { kind: LoadKind; apiVersion: string; group: string }> = {
  pods: { kind: 'Pod', apiVersion: '/v1', group: '' },
  services: { kind: 'Service', apiVersion: '/v1', group: '' },
  'ingresses.networking.k8s.io': { kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', group: 'networking.k8s.io' },
};

export class MetricsApi implements ClusterMetricsSource {
  private readonly usageReading: Cached<Usage>;
  private readonly loadReading: Cached<Load>;
  private readonly localLoad: (() => LoadReport)[] = [];

  constructor(
    private readonly store: Store,
    maxAgeMs = 1000,
  ) {
    this.usageReading = new Cached(() => this.scrapeUsage(), maxAgeMs);
    this.loadReading = new Cached(() => this.scrapeLoad(), maxAgeMs);
  }

  /** A data plane in this process (the server's ingress router): its counts join the agents'. */
  addLocalLoad(report: () => LoadReport): void {
    this.localLoad.push(report);
  }

  /** Every node's newest report; an agent that does not answer in time counts as having none. */
  usage(): Promise<Usage> {
    return this.usageReading.get();
  }

  /** Every data plane's request load, added up per pod, Service and Ingress. */
  load(): Promise<Load> {
    return this.loadReading.get();
  }

  private async fromAgents<T>(path: string): Promise<T[]> {
    const nodes = (await this.store.list({ group: '', kind: 'Node' })).items;
    const reports = await Promise.all(
      nodes.map(async (node) => {
        const agent = await agentOfNode(this.store, node).catch(() => undefined);
        if (!agent) return undefined;
        try {
          const res = await fetch(`${agent.base}${path}`, {
            headers: { authorization: `Bearer ${agent.token}` },
            signal: AbortSignal.timeout(AGENT_TIMEOUT_MS),
          });
          return res.ok ? ((await res.json()) as T) : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    return reports.filter((r): r is Awaited<T> => r !== undefined) as T[];
  }

  private async scrapeUsage(): Promise<Usage> {
    const reports = await this.fromAgents<ResourceUsageReport>('/metrics/resource');
    return { nodes: reports.flatMap((r) => (r.node ? [r.node] : [])), pods: reports.flatMap((r) => r.pods) };
  }

  private async scrapeLoad(): Promise<Load> {
    const reports = [...(await this.fromAgents<LoadReport>('/metrics/load')), ...this.localLoad.map((r) => r())];
    return {
      timestamp: Date.now(),
      windowMs: Math.max(0, ...reports.map((r) => r.windowMs)),
      entries: mergeLoad(reports),
    };
  }

  /** GET /apis/metrics.k8s.io/v1beta1/{nodes[/NAME] | pods | namespaces/NS/pods[/NAME]}. */
  async serve(pathname: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
    const { namespace, rest } = splitPath(pathname, METRICS_PREFIX);
    const [plural, name, ...extra] = rest;
    if (extra.length || (plural !== 'nodes' && plural !== 'pods') || (plural === 'nodes' && namespace !== undefined))
      throw notFound(pathname);
    const usage = await this.usage();
    if (plural === 'nodes') {
      const nodes = await this.objects('Node', undefined, name, query);
      const items = usage.nodes
        .filter((u) => nodes.has(u.name))
        .map((u) => nodeMetricsObject(u, nodes.get(u.name)!.metadata.labels ?? {}));
      if (name) {
        if (!items[0]) throw new BerthError('NotFound', `nodemetrics.metrics.k8s.io "${name}" not found`);
        return send(res, items[0]);
      }
      return send(res, { kind: 'NodeMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items });
    }
    const pods = await this.objects('Pod', namespace, name, query);
    const items = usage.pods
      .filter((u) => pods.get(`${u.namespace}/${u.name}`)?.metadata.uid === u.uid)
      .map((u) => podMetricsObject(u, pods.get(`${u.namespace}/${u.name}`)!.metadata.labels ?? {}));
    if (name) {
      if (!items[0]) throw new BerthError('NotFound', `podmetrics.metrics.k8s.io "${namespace}/${name}" not found`);
      return send(res, items[0]);
    }
    return send(res, { kind: 'PodMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items });
  }

  /**
   * GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/NS/{pods|services|ingresses.networking.k8s.io}/{NAME|*}/METRIC:
   * a MetricValueList, one item per object (`*`: every one the labelSelector selects). An object
   * the data planes saw no request for in the window has 0.
   */
  async serveCustom(pathname: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
    const { namespace, rest } = splitPath(pathname, CUSTOM_METRICS_PREFIX);
    const [resource, name, metric, ...extra] = rest;
    const described = CUSTOM_RESOURCES[resource ?? ''];
    if (!described || !name || !metric || extra.length || namespace === undefined) throw notFound(pathname);
    if (!(CUSTOM_METRICS as readonly string[]).includes(metric))
      throw new BerthError(
        'NotFound',
        `the server could not find the metric ${metric} for ${resource} (Berth serves ${CUSTOM_METRICS.join(', ')})`,
      );
    const objects = await this.objects(
      described.kind,
      namespace,
      name === '*' ? undefined : name,
      query,
      described.group,
    );
    if (name !== '*' && !objects.size)
      throw new BerthError('NotFound', `${resource} "${name}" not found in namespace "${namespace}"`);
    const load = await this.load();
    const byName = new Map(
      load.entries.filter((e) => e.kind === described.kind && e.namespace === namespace).map((e) => [e.name, e]),
    );
    const timestamp = new Date(load.timestamp).toISOString().replace(/\.\d+Z$/, 'Z');
    const items = [...objects.values()].map((o) => {
      const e = byName.get(o.metadata.name);
      const value = metric === 'requests_per_second' ? (e?.requestsPerSecond ?? 0) : (e?.inFlight ?? 0);
      return {
        describedObject: { kind: described.kind, namespace, name: o.metadata.name, apiVersion: described.apiVersion },
        metric: { name: metric },
        timestamp,
        windowSeconds: Math.round(load.windowMs / 1000),
        value: `${Math.round(value * 1000)}m`,
      };
    });
    return send(res, { kind: 'MetricValueList', apiVersion: 'custom.metrics.k8s.io/v1beta2', metadata: {}, items });
  }

  /**
   * GET /api/v1/nodes/NAME/proxy/{metrics | metrics/resource | metrics/load}: what the node's agent
   * serves, as Kubernetes proxies a kubelet's (Prometheus scrapes agents through the API this way).
   */
  async serveNodeProxy(node: string, path: string, res: ServerResponse): Promise<void> {
    if (!NODE_PROXY_PATHS.includes(path))
      throw new BerthError(
        'NotFound',
        `the agent serves ${NODE_PROXY_PATHS.map((p) => `/${p}`).join(', ')} here, not /${path}`,
      );
    const object = await this.store.get({ group: '', kind: 'Node', namespace: '', name: node });
    const agent = await agentOfNode(this.store, object);
    if (!agent) throw new BerthError('BadRequest', `node "${node}" has no agent endpoint (a simulated node)`);
    let upstream: Response;
    try {
      upstream = await fetch(`${agent.base}/${path}`, {
        headers: { authorization: `Bearer ${agent.token}` },
        signal: AbortSignal.timeout(AGENT_TIMEOUT_MS),
      });
    } catch (e) {
      throw new BerthError('Unavailable', `cannot reach the agent of node "${node}": ${(e as Error).message}`);
    }
    const body = await upstream.text();
    if (!upstream.ok)
      throw new BerthError('Unavailable', `the agent of node "${node}" answered ${upstream.status}: ${body.trim()}`);
    res.writeHead(200, { 'Content-Type': upstream.headers.get('content-type') ?? 'text/plain' }).end(body);
  }

  /** The objects the metrics are about (their labels select; a deleted pod's leftover sample is dropped). */
  private async objects(
    kind: string,
    namespace: string | undefined,
    name: string | undefined,
    query: URLSearchParams,
    group = '',
  ): Promise<Map<string, KubeObject>> {
    const labelSelector = query.get('labelSelector');
    const fieldSelector = query.get('fieldSelector');
    const { items } = await this.store.list({
      group,
      kind,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(labelSelector ? { labelSelector } : {}),
      ...(fieldSelector ? { fieldSelector } : {}),
    });
    return new Map(
      items
        .filter((o) => !name || o.metadata.name === name)
        .map((o) => [kind === 'Node' ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`, o]),
    );
  }
}

function splitPath(pathname: string, prefix: string): { namespace?: string; rest: string[] } {
  const parts = pathname.slice(prefix.length).split('/').filter(Boolean).map(decodeURIComponent);
  return parts[0] === 'namespaces' && parts.length >= 3
    ? { namespace: parts[1]!, rest: parts.slice(2) }
    : { rest: parts };
}

const notFound = (pathname: string) =>
  new BerthError('NotFound', `the server could not find the requested resource (${pathname})`);

function send(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}
