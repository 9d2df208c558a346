/**
 * The scheduler at size, over a SQLite store: 5,000 nodes registered in-process (ten zones, half
 * of them with SSDs), 10,000 pending pods with mixed requests, a third with a nodeSelector and a
 * quarter with a required zone affinity; the time from the scheduler's start (caches filled) until
 * every pod is bound, as pods/s. Target ≥ 1,500 pods/s (kube-scheduler's CI floor at this size is 680).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prepareCreate } from '../../src/api/lifecycle.js';
import {
  ControllerManager,
  EventBroadcaster,
  EventRecorder,
  InformerFactory,
  ObjectWriter,
  storeEventSink,
} from '../../src/runtime/index.js';
import { Scheduler } from '../../src/scheduler/index.js';
import { openStore, type KubeObject } from '../../src/store/index.js';

const NODES = 5000;
const PODS = 10_000;
const progress = (msg: string) => process.stderr.write(`scheduler: ${msg}\n`);

function node(i: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `node-${i}`,
      labels: {
        'kubernetes.io/hostname': `node-${i}`,
        'topology.kubernetes.io/zone': `zone-${i % 10}`,
        disk: i % 2 ? 'ssd' : 'hdd',
      },
    },
    spec: {},
    status: {
      capacity: { cpu: '8', memory: '32Gi', pods: '110' },
      allocatable: { cpu: '8', memory: '32Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

function pod(i: number): KubeObject {
  const cpu = ['100m', '250m', '500m', '1'][i % 4]!;
  const memory = ['128Mi', '256Mi', '1Gi', '2Gi'][(i >> 2) % 4]!;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, namespace: 'default', labels: { app: `app-${i % 50}` } },
    spec: {
      containers: [{ name: 'main', image: 'app', resources: { requests: { cpu, memory } } }],
      ...(i % 3 === 0 ? { nodeSelector: { disk: 'ssd' } } : {}),
      ...(i % 4 === 1
        ? {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    {
                      matchExpressions: [
                        {
                          key: 'topology.kubernetes.io/zone',
                          operator: 'In',
                          values: [`zone-${i % 10}`, `zone-${(i + 1) % 10}`],
                        },
                      ],
                    },
                  ],
                },
              },
            },
          }
        : {}),
    },
    status: { phase: 'Pending' },
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-scheduler-'));
  const store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
  const abort = new AbortController();
  try {
    progress(`registering ${NODES} nodes and ${PODS} pending pods`);
    for (let i = 0; i < NODES; i += 500)
      await store.txn(
        Array.from({ length: Math.min(500, NODES - i) }, (_, k) => ({
          op: 'create' as const,
          object: prepareCreate(node(i + k), new Date(), randomUUID()),
        })),
      );
    for (let i = 0; i < PODS; i += 500)
      await store.txn(
        Array.from({ length: Math.min(500, PODS - i) }, (_, k) => ({
          op: 'create' as const,
          object: prepareCreate(pod(i + k), new Date(), randomUUID()),
        })),
      );

    const informers = new InformerFactory(store);
    const events = new EventBroadcaster(new EventRecorder(storeEventSink(store), { component: 'bench' }));
    const scheduler = new Scheduler({ informers, writer: new ObjectWriter(store), events, now: Date.now });
    let bound = 0;
    informers.for({ group: '', kind: 'Pod' }).on((e) => {
      if ((e.object as any).spec?.nodeName && !(e.prevObject as any)?.spec?.nodeName) bound++;
    });
    const manager = new ControllerManager(informers, [scheduler]);
    const cacheStart = performance.now();
    const managing = manager.start(abort.signal);
    await Promise.all([
      informers.for({ group: '', kind: 'Pod' }).synced,
      informers.for({ group: '', kind: 'Node' }).synced,
    ]);
    const start = performance.now();
    progress(`caches filled in ${(start - cacheStart).toFixed(0)} ms; scheduling`);
    while (bound < PODS) {
      if (performance.now() - start > 300_000) throw new Error(`only ${bound} of ${PODS} pods bound after 300 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const ms = performance.now() - start;
    progress(`${PODS} pods bound in ${ms.toFixed(0)} ms`);
    // Every bound pod's node satisfies its selector, and no node is over its allocatable cpu.
    const nodes = new Map((await store.list({ group: '', kind: 'Node' })).items.map((n) => [n.metadata.name, n]));
    const cpuUsed = new Map<string, number>();
    for (const p of (await store.list({ group: '', kind: 'Pod', namespace: 'default' })).items as any[]) {
      const n = nodes.get(p.spec.nodeName)!;
      if (p.spec.nodeSelector && n.metadata.labels?.disk !== p.spec.nodeSelector.disk)
        throw new Error(`${p.metadata.name} on ${n.metadata.name} breaks its nodeSelector`);
      const cpu = p.spec.containers[0].resources.requests.cpu;
      cpuUsed.set(
        n.metadata.name,
        (cpuUsed.get(n.metadata.name) ?? 0) + (cpu.endsWith('m') ? Number(cpu.slice(0, -1)) : Number(cpu) * 1000),
      );
    }
    if ([...cpuUsed.values()].some((m) => m > 8000)) throw new Error('a node is over its allocatable cpu');
    abort.abort();
    await managing;
    await events.flush();
    return {
      nodes: NODES,
      pods: PODS,
      bind_ms: Math.round(ms),
      pods_per_s: Math.round((PODS * 1000) / ms),
      nodes_used: cpuUsed.size,
      events_dropped: events.dropped,
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      target_pods_per_s: 1500,
      kube_scheduler_ci_floor_pods_per_s: 680,
    };
  } finally {
    abort.abort();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
