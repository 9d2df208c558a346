/**
 * The workload path at scale, end to end: a real `berth server` (API, store, the Deployment and
 * ReplicaSet controllers, the scheduler) and 200 simulated nodes (`berth simulate nodes`: each
 * bound pod becomes Running and Ready as an agent would report it). One Deployment of 2,000
 * replicas is created through the API; a watch, from outside, notes when each pod is first seen
 * bound to a node and first seen Ready. Figures: pods bound per second (the measure, from
 * the Deployment's creation until the last pod is bound), pods Ready per second, and the time of
 * each step. The peer is the scheduler alone (`npm run bench -- scheduler`: 10,000 pods on 5,000
 * nodes over SQLite, in process), given as BENCH_SCHEDULER_PEER=pods/s or measured by the caller.
 * Target (issue 20, 2 cores): ≥ 1,000 pods/s bound end to end.
 */
import { readFileSync } from 'node:fs';
import { kindInfo } from '../../src/api/kinds.js';
import { BerthClient } from '../../src/client/index.js';
import { startSimulatedNodes, type SimulatedNodes } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { api } from '../helpers/server.js';

const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 2000);
const NODES = Number(process.env.BENCH_NODES ?? 200);
const progress = (m: string) => process.stderr.write(`workload: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** CPU seconds a process has used (user + system), from /proc. */
const cpuSeconds = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas: REPLICAS,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [{ name: 'main', image: 'web:1', resources: { requests: { cpu: '50m', memory: '64Mi' } } }],
      },
    },
  },
};

export async function run(): Promise<Record<string, unknown>> {
  buildOnce();
  let server: BerthServerProcess | undefined;
  let simulator: SimulatedNodes | undefined;
  let client: BerthClient | undefined;
  const watching = new AbortController();
  let watch: Promise<void> | undefined;
  try {
    // BENCH_PROFILE=DIR: the server writes a CPU profile there when it stops.
    const nodeArgs = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
    server = await startBerthServer({ nodeArgs, args: ['--log-level', process.env.BENCH_DEBUG ? 'debug' : 'warn'] });
    const s = server;
    progress(`${NODES} simulated nodes`);
    simulator = await startSimulatedNodes(s, { count: NODES, cpu: '16', memory: '64Gi', stderr: 'inherit' });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const nodes = (await api(s, 'GET', '/api/v1/nodes', { token: s.token })).body.items as any[];
      const ready = nodes.filter((n) =>
        n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
      );
      if (ready.length === NODES) break;
      if (Date.now() > deadline) throw new Error(`only ${ready.length} of ${NODES} nodes Ready after 60 s`);
      await sleep(200);
    }

    client = new BerthClient({ server: s.url, token: s.token, ca: s.ca, namespace: 'default' });
    const created = new Map<string, number>();
    const bound = new Map<string, number>();
    const ready = new Map<string, number>();
    const nodesUsed = new Set<string>();
    const c = client;
    watch = (async () => {
      try {
        for await (const e of c.watch(kindInfo('Pod')!, { namespace: 'default', signal: watching.signal })) {
          const p = e.object as any;
          const name = p.metadata.name as string;
          const now = performance.now();
          if (!created.has(name)) created.set(name, now);
          if (p.spec?.nodeName && !bound.has(name)) {
            bound.set(name, now);
            nodesUsed.add(p.spec.nodeName);
          }
          if (!ready.has(name) && p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'))
            ready.set(name, now);
        }
      } catch (e) {
        if (!watching.signal.aborted) throw e;
      }
    })();
    await sleep(200); // the watch is open before the Deployment exists

    progress(`a Deployment of ${REPLICAS} replicas`);
    const cpuBefore = { server: cpuSeconds(s.pid), nodes: cpuSeconds(simulator.child.pid!) };
    const revisionBefore = Number(
      /^berth_store_revision (\d+)/m.exec((await api(s, 'GET', '/metrics', { token: s.token })).text)?.[1] ?? 0,
    );
    const start = performance.now();
    const res = await api(s, 'POST', '/apis/apps/v1/namespaces/default/deployments', {
      token: s.token,
      body: deployment,
    });
    if (res.status !== 201) throw new Error(`creating the Deployment: HTTP ${res.status} ${res.text}`);
    const limit = performance.now() + 300_000;
    let shown = 0;
    while (ready.size < REPLICAS) {
      if (performance.now() > limit)
        throw new Error(
          `after 300 s: ${created.size} pods created, ${bound.size} bound, ${ready.size} Ready of ${REPLICAS}`,
        );
      if (performance.now() - start > shown + 2000) {
        shown += 2000;
        progress(`${created.size} created, ${bound.size} bound, ${ready.size} Ready`);
      }
      await sleep(20);
    }
    const available = async () =>
      (await api(s, 'GET', '/apis/apps/v1/namespaces/default/deployments/web', { token: s.token })).body.status
        ?.availableReplicas ?? 0;
    while ((await available()) < REPLICAS) {
      if (performance.now() > limit) throw new Error('the Deployment never reported every replica available');
      await sleep(20);
    }
    const availableMs = performance.now() - start;
    // What the server did for it (its own metrics): reconciles per controller, store revisions (commits).
    const metrics = (await api(s, 'GET', '/metrics', { token: s.token })).text;
    const reconciles: Record<string, number> = {};
    for (const m of metrics.matchAll(
      /^berth_controller_reconcile_total\{controller="([^"]+)",result="[^"]+"\} (\d+)/gm,
    ))
      reconciles[m[1]!] = (reconciles[m[1]!] ?? 0) + Number(m[2]);
    const revision = Number(/^berth_store_revision (\d+)/m.exec(metrics)?.[1] ?? 0);
    const cpu = {
      server: cpuSeconds(s.pid) - cpuBefore.server,
      nodes: cpuSeconds(simulator.child.pid!) - cpuBefore.nodes,
    };
    if (process.env.BENCH_DEBUG) process.stderr.write(s.logs());
    const last = (m: Map<string, number>) => Math.max(...m.values()) - start;
    const peakRssMb = Math.round(
      Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.pid}/status`, 'utf8'))![1]) / 1024,
    );
    const boundPerS = REPLICAS / (last(bound) / 1000);
    const peer = Number(process.env.BENCH_SCHEDULER_PEER ?? 0);
    const r = Math.round;
    return {
      replicas: REPLICAS,
      nodes: NODES,
      nodes_used: nodesUsed.size,
      last_pod_created_ms: r(last(created)),
      last_pod_bound_ms: r(last(bound)),
      last_pod_ready_ms: r(last(ready)),
      deployment_available_ms: r(availableMs),
      pods_bound_per_s: r(boundPerS),
      pods_ready_per_s: r(REPLICAS / (last(ready) / 1000)),
      server_peak_rss_mb: peakRssMb,
      server_cpu_s: Number(cpu.server.toFixed(2)),
      store_commits: revision - revisionBefore,
      reconciles: Object.fromEntries(Object.entries(reconciles).filter(([, n]) => n >= 10)),
      simulator_cpu_s: Number(cpu.nodes.toFixed(2)),
      ...(peer ? { scheduler_alone_peer_pods_per_s: peer, ratio_to_peer: Number((boundPerS / peer).toFixed(2)) } : {}),
      targets: { pods_bound_per_s: 1000 },
    };
  } finally {
    watching.abort();
    await watch?.catch(() => {});
    await client?.close();
    await simulator?.stop();
    await server?.stop();
  }
}
