/**
 * Ingress throughput and added latency: wrk (Debian's; one thread: on 2 cores a second one only
 * takes CPU from what is measured), 50 connections for 10 s each, against
 * one small HTTP backend (node:http in its own process) — directly; through Berth's ingress
 * (`berth server --ingress-listen`, the built-in router, then `--ingress-mode nginx`); and
 * through hand-configured nginx (Debian's nginx-light, one worker, upstream keepalive, as the
 * built-in router has one thread) in front of the same backend. Prints rps and p99 of each and
 * Berth ÷ nginx. Targets: built-in ≥ 0.35 of nginx's rps and ≤ 2 ms added p99; nginx mode ≥ 0.9
 * and ≤ 0.5 ms.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { freePort } from '../helpers/ports.js';
import { api } from '../helpers/server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;
const HOST = 'bench.example.com';
const progress = (msg: string) => process.stderr.write(`ingress: ${msg}\n`);

interface Load {
  rps: number;
  p99_ms: number;
  errors: number;
}

interface Measured extends Load {
  /** p99 with one connection: the latency a request pays, without queueing behind 49 others. */
  p99_one_connection_ms: number;
}

/**
 * A short run first, discarded (JIT-compiled code and connection pools warm, as in service);
 * then the 50-connection run; then one connection for as long. With 50 connections kept busy, a
 * request waits behind the others (mean latency = 50 ÷ rps), so "added latency" is read from
 * the one-connection run; the 50-connection p99 is printed too.
 */
function measure(port: number): Measured {
  wrk(port, 2);
  const load = wrk(port);
  return { ...load, p99_one_connection_ms: wrk(port, SECONDS, 1).p99_ms };
}

/** wrk's summary: Requests/sec, the 99% latency line of --latency, and socket errors and non-2xx. */
function wrk(port: number, seconds = SECONDS, connections = CONNECTIONS): Load {
  const out = execFileSync(
    'wrk',
    [
      '-t',
      '1',
      '-c',
      String(connections),
      '-d',
      `${seconds}s`,
      '--latency',
      '-H',
      `Host: ${HOST}`,
      `http://127.0.0.1:${port}/`,
    ],
    { encoding: 'utf8' },
  );
  const rps = Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)?.[1]);
  const m = /\s99%\s+([0-9.]+)(us|ms|s)/.exec(out);
  const p99 = m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = non2xx + (socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  return { rps: Math.round(rps), p99_ms: Math.round(p99 * 100) / 100, errors };
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** 200 for GET / with the benchmark's Host (fetch may not set Host: node:http does). */
const answers = (port: number) => () =>
  new Promise<boolean>((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/', headers: { host: HOST } }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });

function startBackend(port: number): ChildProcess {
  const code = `require('node:http').createServer((q, s) => { s.writeHead(200, {'content-type': 'text/plain', 'content-length': 3}); s.end('ok\\n'); }).listen(${port}, '127.0.0.1')`;
  return spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
}

function startNginx(dir: string, listen: number, backend: number): ChildProcess {
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream backend { server 127.0.0.1:${backend}; keepalive 64; }
  server {
    listen 127.0.0.1:${listen};
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }
  }
}
`,
  );
  return spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
}

async function routeThroughBerth(server: BerthServerProcess, backend: number): Promise<void> {
  const request = (method: string, p: string, body: unknown) => api(server, method, p, { token: server.token, body });
  await request('POST', '/api/v1/namespaces/default/services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'backend' },
    spec: { ports: [{ port: 80 }] },
  });
  await request('POST', '/api/v1/namespaces/default/endpoints', {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'backend' },
    subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ port: backend }] }],
  });
  await request('POST', '/apis/networking.k8s.io/v1/namespaces/default/ingresses', {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'bench' },
    spec: {
      rules: [
        {
          host: HOST,
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'backend', port: { number: 80 } } } }],
          },
        },
      ],
    },
  });
}

async function throughBerth(mode: 'builtin' | 'nginx', backend: number): Promise<Measured> {
  const port = await freePort();
  const server = await startBerthServer({
    args: [
      '--log-level',
      'warn',
      '--ingress-listen',
      `127.0.0.1:${port}`,
      ...(mode === 'nginx' ? ['--ingress-mode', 'nginx'] : []),
    ],
  });
  try {
    await routeThroughBerth(server, backend);
    await waitFor(`Berth's ingress (${mode})`, answers(port));
    // The server's own start-up work (first lists, reconciles, status writes) is over before measuring.
    await new Promise((r) => setTimeout(r, 5000));
    progress(`through Berth (${mode}) on :${port}`);
    const load = measure(port);
    progress(`${mode}: ${JSON.stringify(load)}`);
    return load;
  } finally {
    await server.stop();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  buildOnce();
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-ingress-'));
  const backendPort = await freePort();
  const nginxPort = await freePort();
  const backend = startBackend(backendPort);
  let nginx: ChildProcess | undefined;
  try {
    await waitFor('the backend', answers(backendPort));
    progress(`direct to the backend on :${backendPort}`);
    const direct = measure(backendPort);
    progress(`direct: ${JSON.stringify(direct)}`);
    nginx = startNginx(dir, nginxPort, backendPort);
    await waitFor('nginx', answers(nginxPort));
    progress(`through hand-configured nginx on :${nginxPort}`);
    const peer = measure(nginxPort);
    progress(`nginx: ${JSON.stringify(peer)}`);
    nginx.kill('SIGQUIT');
    const builtin = await throughBerth('builtin', backendPort);
    const nginxMode = await throughBerth('nginx', backendPort);
    const round = (x: number) => Math.round(x * 100) / 100;
    const added = (l: Measured) => round(l.p99_one_connection_ms - direct.p99_one_connection_ms);
    const added50 = (l: Measured) => round(l.p99_ms - direct.p99_ms);
    return {
      connections: CONNECTIONS,
      seconds: SECONDS,
      direct_rps: direct.rps,
      direct_p99_ms: direct.p99_ms,
      direct_p99_one_connection_ms: direct.p99_one_connection_ms,
      nginx_rps: peer.rps,
      nginx_p99_ms: peer.p99_ms,
      nginx_added_p99_ms: added(peer),
      nginx_added_p99_50_connections_ms: added50(peer),
      berth_builtin_rps: builtin.rps,
      berth_builtin_p99_ms: builtin.p99_ms,
      berth_builtin_added_p99_ms: added(builtin),
      berth_builtin_added_p99_50_connections_ms: added50(builtin),
      berth_builtin_errors: builtin.errors,
      ratio_builtin_vs_nginx: Math.round((builtin.rps / peer.rps) * 100) / 100,
      berth_nginx_mode_rps: nginxMode.rps,
      berth_nginx_mode_p99_ms: nginxMode.p99_ms,
      berth_nginx_mode_added_p99_ms: added(nginxMode),
      berth_nginx_mode_added_p99_50_connections_ms: added50(nginxMode),
      berth_nginx_mode_errors: nginxMode.errors,
      ratio_nginx_mode_vs_nginx: Math.round((nginxMode.rps / peer.rps) * 100) / 100,
      target_builtin_ratio: 0.35,
      target_nginx_mode_ratio: 0.9,
      target_builtin_added_p99_ms: 2,
      target_nginx_mode_added_p99_ms: 0.5,
    };
  } finally {
    if (nginx && nginx.exitCode === null) nginx.kill('SIGQUIT');
    backend.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
