/**
 * Pod start latency on one agent (process runtime), Kubernetes' pod startup SLO measured the same
 * way: from the moment a pod is bound to the node until it reports Ready, for 100 pods created
 * together, p50 and p99. A real `berth server` and `berth agent` process; each pod runs busybox
 * httpd with a readiness probe. Target p99 ≤ 2 s (process runtime); Kubernetes' SLO is 5 s.
 * (The Docker runtime's figure comes with the Docker runtime.)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BERTH, buildOnce, startBerthServer } from '../helpers/berth.js';
import { api } from '../helpers/server.js';
import { kindInfo } from '../../src/api/kinds.js';
import { BerthClient } from '../../src/client/index.js';

const PODS = 100;
const progress = (msg: string) => process.stderr.write(`agent: ${msg}\n`);

function percentile(sorted: number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
}

export async function run(): Promise<Record<string, unknown>> {
  buildOnce();
  const server = await startBerthServer({ args: ['--log-level', 'warn'] });
  const agentDir = mkdtempSync(path.join(tmpdir(), 'berth-bench-agent-'));
  const agent = spawn(process.execPath, [BERTH, 'agent', '--name', 'bench', '--runtime', 'process', '--data', agentDir, '--server', server.url, '--token', (await server.cli('token', 'create', '--role', 'node')).out.trim(), '--log-level', 'warn'], {
    stdio: 'ignore', env: { ...process.env, BERTH_DATA: '/nonexistent', KUBECONFIG: '' },
  });
  try {
    const request = (method: string, p: string, body?: unknown) => api(server, method, p, { token: server.token, ...(body !== undefined ? { body } : {}) });
    const deadline = Date.now() + 30_000;
    while (!(await request('GET', '/api/v1/nodes')).body.items?.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const file = path.join(server.dir, 'pods.yaml');
    writeFileSync(file, Array.from({ length: PODS }, (_, i) => `apiVersion: v1
kind: Pod
metadata: {name: web-${i}}
spec:
  containers:
    - name: web
      image: busybox
      command: [/bin/busybox, sh, -c, 'echo ok > index.html; exec /bin/busybox httpd -f -p 127.0.0.1:$PORT']
      ports: [{containerPort: 8080}]
      readinessProbe: {httpGet: {path: /index.html, port: 8080}, periodSeconds: 1}
`).join('---\n'));
    // Watched here, to the millisecond: when each pod is first seen bound, and first seen Ready.
    const client = new BerthClient({ server: server.url, token: server.token, ca: server.ca, namespace: 'default' });
    const bound = new Map<string, number>();
    const ready = new Map<string, number>();
    const watching = new AbortController();
    const watch = (async () => {
      try {
        for await (const e of client.watch(kindInfo('Pod')!, { namespace: 'default', signal: watching.signal })) {
          const p = e.object as any;
          if (p.spec?.nodeName && !bound.has(p.metadata.name)) bound.set(p.metadata.name, performance.now());
          if (p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') && !ready.has(p.metadata.name)) ready.set(p.metadata.name, performance.now());
        }
      } catch (e) {
        if (!watching.signal.aborted) throw e;
      }
    })();
    progress(`creating ${PODS} pods`);
    await server.cli('apply', '-f', file);
    const until = Date.now() + 120_000;
    while (ready.size < PODS) {
      if (Date.now() > until) throw new Error(`only ${ready.size} of ${PODS} pods Ready within 120 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    watching.abort();
    await watch;
    await client.close();
    const latencies = [...ready].map(([name, t]) => t - bound.get(name)!).sort((a, b) => a - b);
    progress(`all ${PODS} Ready; p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms`);
    return {
      runtime: 'process', pods: PODS,
      start_p50_ms: percentile(latencies, 50),
      start_p99_ms: percentile(latencies, 99),
      target_p99_ms: 2000,
      kubernetes_slo_p99_ms: 5000,
    };
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    await server.stop();
    for (const id of (() => { try { return readdirSync(path.join(agentDir, 'process')); } catch { return []; } })()) {
      try {
        process.kill(-JSON.parse(readFileSync(path.join(agentDir, 'process', id, 'meta.json'), 'utf8')).pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(agentDir, { recursive: true, force: true });
  }
}
