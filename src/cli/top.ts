/**
 * `berth top pods|nodes`, as `kubectl top`: CPU in millicores and memory in Mi from
 * metrics.k8s.io (the agents' newest samples), nodes with their share of what they can allocate.
 * `--containers` shows each container, `-l` selects, `--sort-by cpu|memory`, `-o json|yaml`.
 */
import { BerthError } from '../api/errors.js';
import { kindInfo } from '../api/kinds.js';
import { parseQuantity } from '../api/quantity.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { renderStructured, type CommandIO } from './output.js';
import { formatTable } from './resources.js';

interface Usage {
  cpu: string;
  memory: string;
}
interface PodMetrics {
  metadata: { name: string; namespace: string };
  containers: { name: string; usage: Usage }[];
}
interface NodeMetrics {
  metadata: { name: string };
  usage: Usage;
}

export interface TopOptions {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  containers?: boolean;
  sortBy?: string;
  noHeaders?: boolean;
  output?: 'json' | 'yaml';
}

const BASE = '/apis/metrics.k8s.io/v1beta1';
const cores = (q: string) => Number(parseQuantity(q).value);
const bytes = (q: string) => Number(parseQuantity(q).value);
const millicores = (q: string) => `${Math.round(cores(q) * 1000)}m`;
const mebibytes = (q: string) => `${Math.round(bytes(q) / 1024 / 1024)}Mi`;

function query(o: TopOptions): string {
  return o.selector ? `?labelSelector=${encodeURIComponent(o.selector)}` : '';
}

function checkSort(sortBy: string | undefined): void {
  if (sortBy && sortBy !== 'cpu' && sortBy !== 'memory')
    throw new BerthError('Usage', `--sort-by must be cpu or memory, not ${JSON.stringify(sortBy)}`);
}

async function metricsAvailable<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw new BerthError('Unavailable', `Metrics API not available: ${(e as Error).message}`);
  }
}

/** Exit: 0 shown, 1 no metrics yet for what was asked (as kubectl), 2 error. */
export async function topPods(client: BerthClient, name: string | undefined, o: TopOptions, io: CommandIO) {
  checkSort(o.sortBy);
  const ns = o.allNamespaces ? '' : `/namespaces/${encodeURIComponent(o.namespace ?? 'default')}`;
  const items = name
    ? [await client.request<PodMetrics>('GET', `${BASE}${ns}/pods/${encodeURIComponent(name)}`)]
    : (await metricsAvailable(() => client.request<{ items: PodMetrics[] }>('GET', `${BASE}${ns}/pods${query(o)}`)))
        .items;
  if (o.output) {
    io.stdout(renderStructured(o.output, name ? items[0] : { kind: 'PodMetricsList', items }));
    return 0;
  }
  if (!items.length) {
    io.stderr(`No resources found in ${o.allNamespaces ? 'any' : (o.namespace ?? 'default')} namespace.\n`);
    return 1;
  }
  const total = (p: PodMetrics, f: (u: Usage) => number) => p.containers.reduce((s, c) => s + f(c.usage), 0);
  const key = o.sortBy === 'memory' ? (u: Usage) => bytes(u.memory) : (u: Usage) => cores(u.cpu);
  if (o.sortBy) items.sort((a, b) => total(b, key) - total(a, key));
  const nsColumn = o.allNamespaces ? ['NAMESPACE'] : [];
  const rows = o.containers
    ? items.flatMap((p) =>
        p.containers.map((c) => [
          ...(o.allNamespaces ? [p.metadata.namespace] : []),
          p.metadata.name,
          c.name,
          millicores(c.usage.cpu),
          mebibytes(c.usage.memory),
        ]),
      )
    : items.map((p) => [
        ...(o.allNamespaces ? [p.metadata.namespace] : []),
        p.metadata.name,
        `${Math.round(total(p, (u) => cores(u.cpu)) * 1000)}m`,
        `${Math.round(total(p, (u) => bytes(u.memory)) / 1024 / 1024)}Mi`,
      ]);
  const headers = [...nsColumn, 'NAME', ...(o.containers ? ['CONTAINER'] : []), 'CPU(cores)', 'MEMORY(bytes)'];
  if (o.containers) headers[nsColumn.length] = 'POD';
  io.stdout(formatTable(headers, rows, { noHeaders: o.noHeaders ?? false }));
  return 0;
}

export async function topNodes(client: BerthClient, name: string | undefined, o: TopOptions, io: CommandIO) {
  checkSort(o.sortBy);
  const items = name
    ? [await client.request<NodeMetrics>('GET', `${BASE}/nodes/${encodeURIComponent(name)}`)]
    : (await metricsAvailable(() => client.request<{ items: NodeMetrics[] }>('GET', `${BASE}/nodes${query(o)}`))).items;
  if (o.output) {
    io.stdout(renderStructured(o.output, name ? items[0] : { kind: 'NodeMetricsList', items }));
    return 0;
  }
  if (!items.length) {
    io.stderr('error: metrics not available yet\n');
    return 1;
  }
  const nodes = new Map(
    (
      await client.list<KubeObject & { status?: { allocatable?: Record<string, string> } }>(kindInfo('Node')!)
    ).items.map((n) => [n.metadata.name, n.status?.allocatable ?? {}]),
  );
  if (o.sortBy === 'memory') items.sort((a, b) => bytes(b.usage.memory) - bytes(a.usage.memory));
  else if (o.sortBy === 'cpu') items.sort((a, b) => cores(b.usage.cpu) - cores(a.usage.cpu));
  const percent = (used: number, of: string | undefined, parse: (q: string) => number) =>
    of && parse(of) > 0 ? `${Math.round((used / parse(of)) * 100)}%` : '<unknown>';
  const rows = items.map((n) => {
    const allocatable = nodes.get(n.metadata.name) ?? {};
    return [
      n.metadata.name,
      millicores(n.usage.cpu),
      percent(cores(n.usage.cpu), allocatable.cpu, cores),
      mebibytes(n.usage.memory),
      percent(bytes(n.usage.memory), allocatable.memory, bytes),
    ];
  });
  io.stdout(
    formatTable(['NAME', 'CPU(cores)', 'CPU(%)', 'MEMORY(bytes)', 'MEMORY(%)'], rows, {
      noHeaders: o.noHeaders ?? false,
    }),
  );
  return 0;
}
