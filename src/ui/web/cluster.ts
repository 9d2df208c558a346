/**
 * The cluster: nodes (readiness, what their pods request against what they can allocate, what
 * they use, conditions, taints), the servers and which one leads, HorizontalPodAutoscalers with
 * their current against target and a chart of their replicas while the page is open, and Events.
 */
import { html } from 'htm/preact';
import { useRef } from 'preact/hooks';
import { useLiveList, usePolled, usePolledList, type KubeObject } from './api.js';
import { age } from './format.js';
import { EventList, newestFirst } from './events.js';

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
};
/** A Kubernetes quantity as a number (cores, bytes); NaN when it is not one. */
export function quantity(q: unknown): number {
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(String(q ?? '').trim());
  const factor = m ? SUFFIX[m[2]!] : undefined;
  return m && factor !== undefined ? Number(m[1]) * factor : NaN;
}
const cores = (n: number) => (Number.isNaN(n) ? '?' : n < 1 ? `${Math.round(n * 1000)}m` : n.toFixed(n < 10 ? 1 : 0));
const bytes = (n: number) =>
  Number.isNaN(n) ? '?' : n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)}Gi` : `${Math.round(n / 2 ** 20)}Mi`;
const percent = (part: number, whole: number) =>
  whole > 0 && !Number.isNaN(part) ? ` (${Math.round((part / whole) * 100)}%)` : '';

function requestsByNode(pods: Iterable<KubeObject>): Map<string, { cpu: number; memory: number; pods: number }> {
  const out = new Map<string, { cpu: number; memory: number; pods: number }>();
  for (const p of pods) {
    const node = p.spec?.nodeName;
    if (!node || ['Succeeded', 'Failed'].includes(p.status?.phase)) continue;
    const sum = out.get(node) ?? { cpu: 0, memory: 0, pods: 0 };
    for (const c of p.spec?.containers ?? []) {
      sum.cpu += quantity(c.resources?.requests?.cpu ?? 0) || 0;
      sum.memory += quantity(c.resources?.requests?.memory ?? 0) || 0;
    }
    sum.pods++;
    out.set(node, sum);
  }
  return out;
}

function Nodes() {
  const nodes = useLiveList('/api/v1/nodes');
  const pods = usePolledList('/api/v1/pods', 10_000);
  const usage = usePolled<{ items: { metadata: { name: string }; usage: { cpu: string; memory: string } }[] }>(
    '/apis/metrics.k8s.io/v1beta1/nodes',
    10_000,
  );
  const requested = requestsByNode(pods.items.values());
  return html`<table data-testid="nodes">
    <thead>
      <tr>
        <th>Node</th>
        <th>Status</th>
        <th>CPU requested</th>
        <th>Memory requested</th>
        <th>Using</th>
        <th>Pods</th>
        <th>Conditions</th>
        <th>Taints</th>
      </tr>
    </thead>
    <tbody>
      ${[...nodes.items.values()].map((n) => {
        const ready = (n.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
        const alloc = n.status?.allocatable ?? {};
        const r = requested.get(n.metadata.name) ?? { cpu: 0, memory: 0, pods: 0 };
        const used = usage?.items.find((u) => u.metadata.name === n.metadata.name)?.usage;
        const cpuAlloc = quantity(alloc.cpu);
        const memAlloc = quantity(alloc.memory);
        const odd = (n.status?.conditions ?? []).filter((c: any) => (c.type === 'Ready') !== (c.status === 'True'));
        return html`<tr>
          <td>
            ${n.metadata.name}
            <div class="muted">${n.status?.addresses?.[0]?.address ?? ''}</div>
          </td>
          <td>
            <span class="badge s-${ready?.status === 'True' ? 'healthy' : 'degraded'}"
              >${ready?.status === 'True' ? 'Ready' : 'NotReady'}</span
            >${n.spec?.unschedulable ? ' cordoned' : ''}
          </td>
          <td>${cores(r.cpu)} / ${cores(cpuAlloc)}${percent(r.cpu, cpuAlloc)}</td>
          <td>${bytes(r.memory)} / ${bytes(memAlloc)}${percent(r.memory, memAlloc)}</td>
          <td>${used ? `${cores(quantity(used.cpu))} CPU, ${bytes(quantity(used.memory))}` : 'no metrics yet'}</td>
          <td>${r.pods} / ${alloc.pods ?? '?'}</td>
          <td>${odd.map((c: any) => html`<div class="warn" title=${c.message ?? ''}>${c.type}=${c.status}</div>`)}</td>
          <td>
            ${(n.spec?.taints ?? []).map((t: any) => html`<div><code>${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}</code></div>`)}
          </td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function Servers() {
  const leases = usePolled<{ items: KubeObject[] }>(
    '/apis/coordination.k8s.io/v1/namespaces/berth-system/leases',
    5000,
  );
  if (!leases) return html`<p class="loading">Loading…</p>`;
  const leader = leases.items.find((l) => l.metadata.name === 'berth-controller-manager')?.spec?.holderIdentity;
  const servers = leases.items.filter((l) => l.metadata.name !== 'berth-controller-manager');
  return html`<table data-testid="servers">
    <thead>
      <tr>
        <th>Server</th>
        <th>Role</th>
        <th>Last heartbeat</th>
      </tr>
    </thead>
    <tbody>
      ${servers.map((l) => {
        const holder = l.spec?.holderIdentity;
        return html`<tr>
          <td>${holder}</td>
          <td>${holder === leader ? html`<strong>leader</strong>` : 'follower'}</td>
          <td>${age(l.spec?.renewTime)} ago</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function metricText(spec: any, status: any): string {
  const target = spec?.resource?.target ?? spec?.pods?.target ?? spec?.object?.target ?? {};
  const name = spec?.resource?.name ?? spec?.pods?.metric?.name ?? spec?.object?.metric?.name ?? spec?.type;
  const current = status?.resource?.current ?? status?.pods?.current ?? status?.object?.current ?? {};
  if (target.averageUtilization !== undefined)
    return `${name}: ${current.averageUtilization ?? '<unknown>'}%/${target.averageUtilization}%`;
  const want = target.averageValue ?? target.value;
  const have = current.averageValue ?? current.value;
  return `${name}: ${have ?? '<unknown>'}/${want ?? '?'}`;
}

/** Replicas over the time the page has been open, as a small SVG line. */
function Sparkline({ points, max }: { points: { t: number; v: number }[]; max: number }) {
  if (points.length < 1) return null;
  const w = 160;
  const h = 32;
  const t0 = points[0]!.t;
  const span = Math.max(1, Date.now() - t0);
  const xy = points.map((p) => `${((p.t - t0) / span) * w},${h - (p.v / Math.max(1, max)) * (h - 2) - 1}`);
  xy.push(`${w},${h - (points[points.length - 1]!.v / Math.max(1, max)) * (h - 2) - 1}`);
  return html`<svg
    class="spark"
    width=${w}
    height=${h}
    viewBox="0 0 ${w} ${h}"
    role="img"
    aria-label="replicas over time"
  >
    <polyline points=${xy.join(' ')} fill="none" stroke="currentColor" stroke-width="1.5" />
  </svg>`;
}

function Autoscalers() {
  const hpas = useLiveList('/apis/autoscaling/v2/horizontalpodautoscalers');
  const history = useRef(new Map<string, { t: number; v: number }[]>());
  for (const h of hpas.items.values()) {
    const key = `${h.metadata.namespace}/${h.metadata.name}`;
    const points = history.current.get(key) ?? [];
    const v = h.status?.currentReplicas ?? 0;
    if (points[points.length - 1]?.v !== v) points.push({ t: Date.now(), v });
    history.current.set(key, points.slice(-200));
  }
  if (!hpas.items.size) return html`<p class="muted">No HorizontalPodAutoscalers.</p>`;
  return html`<table data-testid="hpas">
    <thead>
      <tr>
        <th>Autoscaler</th>
        <th>Target</th>
        <th>Metrics (current/target)</th>
        <th>Replicas</th>
        <th>History</th>
      </tr>
    </thead>
    <tbody>
      ${[...hpas.items.values()].map((h) => {
        const key = `${h.metadata.namespace}/${h.metadata.name}`;
        const metrics: any[] = h.spec?.metrics ?? [];
        const current: any[] = h.status?.currentMetrics ?? [];
        return html`<tr>
          <td>
            ${h.metadata.name}
            <div class="muted">${h.metadata.namespace}</div>
          </td>
          <td>${h.spec?.scaleTargetRef?.kind}/${h.spec?.scaleTargetRef?.name}</td>
          <td>${metrics.map((m, i) => html`<div>${metricText(m, current[i])}</div>`)}</td>
          <td>
            ${h.status?.currentReplicas ?? 0} → ${h.status?.desiredReplicas ?? 0}
            (${h.spec?.minReplicas ?? 1}–${h.spec?.maxReplicas})
          </td>
          <td><${Sparkline} points=${history.current.get(key) ?? []} max=${h.spec?.maxReplicas ?? 1} /></td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function Events() {
  const events = useLiveList('/api/v1/events');
  return html`<${EventList} events=${newestFirst(events.items.values()).slice(0, 50)} withObject=${true} />`;
}

export function ClusterPage() {
  return html`<section aria-labelledby="cluster-title">
    <h1 id="cluster-title">Cluster</h1>
    <h2>Nodes</h2>
    <${Nodes} />
    <h2>Servers</h2>
    <${Servers} />
    <h2>Autoscalers</h2>
    <${Autoscalers} />
    <h2>Events</h2>
    <${Events} />
  </section>`;
}
