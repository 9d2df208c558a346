/**
 * The API over HTTPS with keep-alive, against a real `berth server` process (SQLite store):
 * creates/s (10,000 pods, 32 in flight), single GET latency p50/p99, and the time to list all
 * 10,000 pods. Targets: GET p99 ≤ 10 ms, list 10k ≤ 500 ms, ≥ 2,000 creates/s.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PODS = 10_000;
const IN_FLIGHT = 32;
const GETS = 2000;

const pod = (i: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `pod-${i}`, namespace: 'default', labels: { app: `app-${i % 50}` } },
  spec: {
    nodeName: `node-${i % 10}`,
    containers: [
      {
        name: 'main',
        image: 'registry.example.com/app:1.0',
        ports: [{ containerPort: 8080 }],
        resources: { requests: { cpu: '100m', memory: '64Mi' } },
      },
    ],
  },
});

const progress = (m: string) => process.stderr.write(`api: ${m}\n`);

export async function run(): Promise<Record<string, unknown>> {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-api-'));
  const server = spawn(
    process.execPath,
    [`${ROOT}src/cli/berth.js`, 'server', '--data', dir, '--listen', '127.0.0.1:0', '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let pool: Pool | undefined;
  try {
    let err = '';
    server.stderr.on('data', (d) => (err += d));
    const deadline = Date.now() + 30_000;
    while (!/listening on (https:\/\/\S+)/.test(err) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const url = /listening on (https:\/\/\S+)/.exec(err)?.[1];
    if (!url) throw new Error(`server did not start: ${err}`);
    const token = readFileSync(path.join(dir, 'admin.token'), 'utf8').trim();
    pool = new Pool(url, {
      connect: { ca: readFileSync(path.join(dir, 'pki', 'ca.crt'), 'utf8') },
      connections: IN_FLIGHT,
      pipelining: 1,
    });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const call = async (method: 'GET' | 'POST', p: string, body?: unknown) => {
      const res = await pool!.request({ method, path: p, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
      const text = await res.body.text();
      if (res.statusCode >= 300) throw new Error(`${method} ${p}: ${res.statusCode} ${text.slice(0, 200)}`);
      return text;
    };

    progress(`creating ${PODS} pods, ${IN_FLIGHT} in flight`);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < PODS) await call('POST', '/api/v1/namespaces/default/pods', pod(next++));
      }),
    );
    const createsPerS = Math.round((PODS * 1000) / (performance.now() - t0));

    progress(`${GETS} single GETs`);
    const latencies: number[] = [];
    for (let i = 0; i < GETS; i++) {
      const t = performance.now();
      await call('GET', `/api/v1/namespaces/default/pods/pod-${(i * 7919) % PODS}`);
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) =>
      Number(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(2));

    progress('listing all pods');
    const lists: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const body = JSON.parse(await call('GET', '/api/v1/pods')) as { items: unknown[] };
      lists.push(performance.now() - t);
      if (body.items.length !== PODS) throw new Error(`listed ${body.items.length} pods`);
    }
    return {
      pods: PODS,
      creates_per_s: createsPerS,
      get_p50_ms: pct(50),
      get_p99_ms: pct(99),
      list_10k_ms: Math.round(Math.min(...lists)),
      targets: { get_p99_ms: 10, list_10k_ms: 500, creates_per_s: 2000 },
    };
  } finally {
    await pool?.close();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
