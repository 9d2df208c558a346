/**
 * What metrics cost. (1) The agent's usage sampling: 100 running process-runtime containers
 * (`sleep`), sampled as the agent does every 10 s (one pass over /proc for all of them, the node's
 * /proc/stat and /proc/meminfo): the CPU one sample takes, and that as a share of a core at the
 * default interval. Target ≤ 2%. (2) The ingress router with request counting and Prometheus
 * observation on, against the same router with both off: two IngressRouters in this process over
 * one ClusterView of a real `berth server` (a Service, its Endpoints and an Ingress to a node:http
 * backend in its own process), measured in turn with wrk (one thread, 50 connections, 3 s), nine
 * pairs in alternating order, the median of their ratios.
 * Target: on ÷ off ≥ 0.95. On 2 cores wrk, the backend and the server share the machine with the
 * router, so rps varies between runs by more than counting costs; the router's CPU per request
 * (this process's CPU over the requests wrk counted) is printed beside it, and the ratio of those.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { get as httpGet } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { ProcessRuntime } from '../../src/agent/process/runtime.js';
import { UsageSampler } from '../../src/agent/usage.js';
import { BerthClient } from '../../src/client/index.js';
import { ClusterView, IngressMetrics, IngressRouter, LoadCounter } from '../../src/network/index.js';
import { buildOnce, startBerthServer } from '../helpers/berth.js';
import { freePort } from '../helpers/ports.js';
import { api } from '../helpers/server.js';

const PODS = Number(process.env.BENCH_PODS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 9);
const HOST = 'metrics.bench';
const progress = (msg: string) => process.stderr.write(`metrics: ${msg}\n`);

async function sampling(): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-metrics-'));
  const runtime = new ProcessRuntime(dir);
  const ids: string[] = [];
  try {
    for (let i = 0; i < PODS; i++) {
      const c = await runtime.start({
        podUid: `bench-${i}-0000`,
        podName: `pod-${i}`,
        namespace: 'default',
        name: 'main',
        restartCount: 0,
        image: 'busybox',
        command: ['sleep', '600'],
        args: [],
        env: {},
        ports: [],
        podPorts: [],
        mounts: [],
        address: '127.0.0.1',
        sharedNetwork: false,
        imagePullPolicy: 'IfNotPresent',
      } as never);
      ids.push(c.id);
    }
    progress(`${PODS} containers running`);
    const containers = await runtime.list();
    const pods = containers.map((c) => ({ uid: c.podUid, namespace: 'default', name: c.podUid, containers: [c] }));
    const sampler = new UsageSampler(runtime, 'bench', () => pods, 10_000);
    await sampler.sample(); // the first: JIT warm-up, and the readings the next rates start from
    const samples = 20;
    const before = sampler.spentCpuMs;
    let reported = 0;
    for (let i = 0; i < samples; i++) reported = (await sampler.sample()).pods.length;
    const perSampleMs = (sampler.spentCpuMs - before) / samples;
    progress(`one sample of ${reported} pods: ${perSampleMs.toFixed(2)} ms CPU`);
    return {
      sampled_pods: reported,
      sample_cpu_ms: Math.round(perSampleMs * 100) / 100,
      sampling_share_of_core_at_10s: Math.round((perSampleMs / 10_000) * 100_000) / 1000,
      sampling_share_of_core_at_2s: Math.round((perSampleMs / 2_000) * 100_000) / 1000,
      target_share_at_10s: 2,
    };
  } finally {
    for (const id of ids) await runtime.remove(id).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Run {
  rps: number;
  /** This process's CPU (the router's) per request answered, µs. */
  cpuPerRequestUs: number;
}

/** wrk's Requests/sec and this process's CPU per request; asynchronous: the routers run on this event loop. */
async function wrk(port: number): Promise<Run> {
  const cpu = process.cpuUsage();
  const { stdout } = await promisify(execFile)('wrk', [
    '-t',
    '1',
    '-c',
    '50',
    '-d',
    `${SECONDS}s`,
    '-H',
    `Host: ${HOST}`,
    `http://127.0.0.1:${port}/`,
  ]);
  const spent = process.cpuUsage(cpu);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  return {
    rps: Number(/Requests\/sec:\s+([0-9.]+)/.exec(stdout)?.[1]),
    cpuPerRequestUs: (spent.user + spent.system) / requests,
  };
}

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/', headers: { host: HOST } }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });

async function router(): Promise<Record<string, number>> {
  const backendPort = await freePort();
  const backend = spawn(
    process.execPath,
    [
      '-e',
      `require('node:http').createServer((q, s) => { s.writeHead(200, {'content-length': 3}); s.end('ok\\n'); }).listen(${backendPort}, '127.0.0.1')`,
    ],
    { stdio: 'ignore' },
  );
  const server = await startBerthServer({ args: ['--log-level', 'warn'] });
  const client = new BerthClient({ server: server.url, token: server.token, ca: server.ca, namespace: 'default' });
  const abort = new AbortController();
  const routers: IngressRouter[] = [];
  try {
    const post = (p: string, body: unknown) => api(server, 'POST', p, { token: server.token, body });
    await post('/api/v1/namespaces/default/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'backend' },
      spec: { ports: [{ port: 80 }] },
    });
    await post('/api/v1/namespaces/default/endpoints', {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'backend' },
      subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ port: backendPort }] }],
    });
    await post('/apis/networking.k8s.io/v1/namespaces/default/ingresses', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'bench' },
      spec: {
        rules: [
          {
            host: HOST,
            http: {
              paths: [
                { path: '/', pathType: 'Prefix', backend: { service: { name: 'backend', port: { number: 80 } } } },
              ],
            },
          },
        ],
      },
    });
    const view = new ClusterView(client, { ingresses: true });
    const watching = view.start(abort.signal);
    await view.ready;
    const off = new IngressRouter(view);
    const on = new IngressRouter(view, {
      load: new LoadCounter(),
      observe: new IngressMetrics(new Registry()).observe,
    });
    routers.push(off, on);
    const offPort = (await off.listen({ host: '127.0.0.1', port: 0 })).http!;
    const onPort = (await on.listen({ host: '127.0.0.1', port: 0 })).http!;
    const deadline = Date.now() + 30_000;
    while (!((await answers(offPort)) && (await answers(onPort)))) {
      if (Date.now() > deadline) throw new Error('the routers do not route');
      await new Promise((r) => setTimeout(r, 100));
    }
    await wrk(offPort); // warm-up, discarded
    await wrk(onPort);
    const offRuns: Run[] = [];
    const onRuns: Run[] = [];
    // Pairs, the order alternating, so that drift in the machine's speed weighs on both alike; the
    // median of the pairs' ratios, as one pair can be far off on 2 shared cores.
    for (let i = 0; i < PAIRS; i++) {
      if (i % 2 === 0) {
        offRuns.push(await wrk(offPort));
        onRuns.push(await wrk(onPort));
      } else {
        onRuns.push(await wrk(onPort));
        offRuns.push(await wrk(offPort));
      }
      const [off, on] = [offRuns.at(-1)!, onRuns.at(-1)!];
      progress(
        `off ${off.rps} rps (${off.cpuPerRequestUs.toFixed(1)} µs CPU a request), on ${on.rps} rps (${on.cpuPerRequestUs.toFixed(1)} µs)`,
      );
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const rps = (runs: Run[]) => median(runs.map((r) => r.rps));
    const cpu = (runs: Run[]) => median(runs.map((r) => r.cpuPerRequestUs));
    const ratios = (f: (i: number) => number) => median(offRuns.map((_, i) => f(i)));
    abort.abort();
    await watching.catch(() => undefined);
    return {
      router_rps_metrics_off: Math.round(rps(offRuns)),
      router_rps_metrics_on: Math.round(rps(onRuns)),
      ratio_on_vs_off: Math.round(ratios((i) => onRuns[i]!.rps / offRuns[i]!.rps) * 100) / 100,
      router_cpu_us_per_request_off: Math.round(cpu(offRuns) * 10) / 10,
      router_cpu_us_per_request_on: Math.round(cpu(onRuns) * 10) / 10,
      // The rps the router's own CPU allows: what the ratio is when nothing else shares the cores.
      ratio_on_vs_off_by_cpu:
        Math.round(ratios((i) => offRuns[i]!.cpuPerRequestUs / onRuns[i]!.cpuPerRequestUs) * 100) / 100,
      target_ratio: 0.95,
    };
  } finally {
    abort.abort();
    for (const r of routers) await r.close(0);
    await client.close();
    await server.stop();
    backend.kill();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  buildOnce();
  // The router first: measured after the 100 pods (in the same process), its two runs differed by
  // more than what is measured, whichever router ran second.
  const routing = await router();
  return { pods: PODS, seconds: SECONDS, pairs: PAIRS, ...(await sampling()), ...routing };
}
