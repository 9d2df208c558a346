/**
 * metrics.k8s.io/v1beta1, as metrics-server serves it: the server asks every node's agent for
 * its newest usage report (GET /metrics/resource on the agent's endpoint, as metrics-server
 * scrapes kubelets) and answers NodeMetrics and PodMetrics from them. Nothing is stored: usage is
 * kept by the agents, in memory, and read at most once a second here (the HPA and `kubectl top`
 * share the reading).
 */
import type { ServerResponse } from 'node:http';
import { BerthError } from '../api/errors.js';
import {
  nodeMetricsObject,
  podMetricsObject,
  type NodeUsage,
  type PodUsage,
  type ResourceMetricsSource,
  type ResourceUsageReport,
} from '../api/metrics.js';
import type { KubeObject, Store } from '../store/types.js';
import { agentOfNode } from './podproxy.js';

export const METRICS_PREFIX = '/apis/metrics.k8s.io/v1beta1/';
const AGENT_TIMEOUT_MS = 3000;

type Usage = { nodes: NodeUsage[]; pods: PodUsage[] };

export class ResourceMetrics implements ResourceMetricsSource {
  private cached: { at: number; usage: Promise<Usage> } | undefined;

  constructor(
    private readonly store: Store,
    private readonly maxAgeMs = 1000,
  ) {}

  /** Every node's newest report; an agent that does not answer in time counts as having none. */
  usage(): Promise<Usage> {
    if (this.cached && Date.now() - this.cached.at < this.maxAgeMs) return this.cached.usage;
    const usage = this.scrape();
    this.cached = { at: Date.now(), usage };
    usage.catch(() => (this.cached = undefined));
    return usage;
  }

  private async scrape(): Promise<Usage> {
    const nodes = (await this.store.list({ group: '', kind: 'Node' })).items;
    const reports = await Promise.all(
      nodes.map(async (node) => {
        const agent = await agentOfNode(this.store, node).catch(() => undefined);
        if (!agent) return undefined;
        try {
          const res = await fetch(`${agent.base}/metrics/resource`, {
            headers: { authorization: `Bearer ${agent.token}` },
            signal: AbortSignal.timeout(AGENT_TIMEOUT_MS),
          });
          return res.ok ? ((await res.json()) as ResourceUsageReport) : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    return {
      nodes: reports.flatMap((r) => (r?.node ? [r.node] : [])),
      pods: reports.flatMap((r) => r?.pods ?? []),
    };
  }

  /** GET /apis/metrics.k8s.io/v1beta1/{nodes[/NAME] | pods | namespaces/NS/pods[/NAME]}. */
  async serve(pathname: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
    const parts = pathname.slice(METRICS_PREFIX.length).split('/').filter(Boolean).map(decodeURIComponent);
    let namespace: string | undefined;
    let rest = parts;
    if (parts[0] === 'namespaces' && parts.length >= 3) {
      namespace = parts[1];
      rest = parts.slice(2);
    }
    const [plural, name, ...extra] = rest;
    if (extra.length || (plural !== 'nodes' && plural !== 'pods') || (plural === 'nodes' && namespace !== undefined))
      throw new BerthError('NotFound', `the server could not find the requested resource (${pathname})`);
    const labelSelector = query.get('labelSelector') ?? undefined;
    const fieldSelector = query.get('fieldSelector') ?? undefined;
    const usage = await this.usage();
    const send = (body: unknown) =>
      void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (plural === 'nodes') {
      const nodes = await this.objects('Node', undefined, name, labelSelector, fieldSelector);
      const items = usage.nodes
        .filter((u) => nodes.has(u.name))
        .map((u) => nodeMetricsObject(u, nodes.get(u.name)!.metadata.labels ?? {}));
      if (name) {
        if (!items[0]) throw new BerthError('NotFound', `nodemetrics.metrics.k8s.io "${name}" not found`);
        return send(items[0]);
      }
      return send({ kind: 'NodeMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items });
    }
    const pods = await this.objects('Pod', namespace, name, labelSelector, fieldSelector);
    const items = usage.pods
      .filter((u) => pods.get(`${u.namespace}/${u.name}`)?.metadata.uid === u.uid)
      .map((u) => podMetricsObject(u, pods.get(`${u.namespace}/${u.name}`)!.metadata.labels ?? {}));
    if (name) {
      if (!items[0]) throw new BerthError('NotFound', `podmetrics.metrics.k8s.io "${namespace}/${name}" not found`);
      return send(items[0]);
    }
    return send({ kind: 'PodMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items });
  }

  /** The objects the metrics are about (their labels select; a deleted pod's leftover sample is dropped). */
  private async objects(
    kind: 'Node' | 'Pod',
    namespace: string | undefined,
    name: string | undefined,
    labelSelector: string | undefined,
    fieldSelector: string | undefined,
  ): Promise<Map<string, KubeObject>> {
    const { items } = await this.store.list({
      group: '',
      kind,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(labelSelector ? { labelSelector } : {}),
      ...(fieldSelector ? { fieldSelector } : {}),
    });
    return new Map(
      items
        .filter((o) => !name || o.metadata.name === name)
        .map((o) => [kind === 'Pod' ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name, o]),
    );
  }
}
