/**
 * Cluster DNS and the ClusterIP proxy, on a real `berth server` and `berth agent` (as root: DNS on
 * port 53 of the agent's address; ClusterIPs from a loopback range):
 *  - DNS: 100 Services' A records, asked by dnsperf (Debian's) — throughput with 100 queries
 *    outstanding for 10 s, and latency (p50/p99) with one outstanding, read from dnsperf -v —
 *    against the agent's DNS and against Debian's dnsmasq answering the same names from a hosts
 *    file, in the same run. Target: ≥ 0.5 of dnsmasq's queries/s.
 *  - Proxy: wrk (one thread, 50 connections, 10 s; then one connection for the latency a request
 *    pays) against a small HTTP backend directly and through its Service's ClusterIP:80. Target:
 *    ≤ 2 ms added p99.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAgent } from '../helpers/agents.js';
import { buildOnce, startBerthServer } from '../helpers/berth.js';
import { freePort, testServiceCidr } from '../helpers/ports.js';
import { api } from '../helpers/server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SERVICES = 100;
const AGENT = '127.0.0.61';
const DNSMASQ = '127.0.0.62';
const progress = (msg: string) => process.stderr.write(`dns: ${msg}\n`);
const round = (x: number) => Math.round(x * 1000) / 1000;

interface DnsLoad {
  qps: number;
  lost: number;
}

/** dnsperf's summary at saturation (100 outstanding). */
function dnsperf(server: string, names: string, seconds = SECONDS): DnsLoad {
  const out = execFileSync('dnsperf', ['-s', server, '-d', names, '-l', String(seconds), '-c', '4', '-q', '100'], {
    encoding: 'utf8',
  });
  return {
    qps: Math.round(Number(/Queries per second:\s+([0-9.]+)/.exec(out)?.[1])),
    lost: Number(/Queries lost:\s+(\d+)/.exec(out)?.[1] ?? 0),
  };
}

/** Latency of one query at a time, from dnsperf -v's per-query lines (`> NOERROR name A 0.000123`). */
function latency(server: string, names: string, seconds = Math.min(5, SECONDS)): { p50_ms: number; p99_ms: number } {
  const out = execFileSync('dnsperf', ['-s', server, '-d', names, '-l', String(seconds), '-q', '1', '-v'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const seen = [...out.matchAll(/^> \S+ \S+ \S+ ([0-9.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  const at = (q: number) => round(seen[Math.min(seen.length - 1, Math.floor(q * seen.length))] ?? NaN);
  return { p50_ms: at(0.5), p99_ms: at(0.99) };
}

function wrk(url: string, connections: number, seconds = SECONDS): { rps: number; p99_ms: number } {
  const out = execFileSync('wrk', ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--latency', url], {
    encoding: 'utf8',
  });
  const m = /\s99%\s+([0-9.]+)(us|ms|s)/.exec(out);
  return {
    rps: Math.round(Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)?.[1])),
    p99_ms: m ? round(Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1)) : NaN,
  };
}

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function run(): Promise<Record<string, unknown>> {
  buildOnce();
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-dns-'));
  const server = await startBerthServer({ args: ['--log-level', 'warn', '--service-cidr', testServiceCidr()] });
  const agent = await startAgent(server, { name: 'bench-dns', address: AGENT });
  const backendPort = await freePort();
  const backend = spawn(
    process.execPath,
    [
      '-e',
      `require('node:http').createServer((q, s) => { s.writeHead(200, {'content-length': 3}); s.end('ok\\n'); }).listen(${backendPort}, '127.0.0.1')`,
    ],
    { stdio: 'ignore' },
  );
  let dnsmasq: ChildProcess | undefined;
  try {
    const request = (p: string, body: unknown) => api(server, 'POST', p, { token: server.token, body });
    for (let i = 0; i < SERVICES; i++)
      await request('/api/v1/namespaces/default/services', {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `svc-${i}` },
        spec: { ports: [{ port: 80 }] },
      });
    await request('/api/v1/namespaces/default/endpoints', {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'svc-0' },
      subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ port: backendPort }] }],
    });
    const services = JSON.parse((await server.cli('get', 'services', '-o', 'json')).out).items as {
      metadata: { name: string };
      spec: { clusterIP: string };
    }[];
    const names = path.join(dir, 'names');
    writeFileSync(names, services.map((s) => `${s.metadata.name}.default.svc.cluster.local A`).join('\n') + '\n');
    const hosts = path.join(dir, 'hosts');
    writeFileSync(
      hosts,
      services.map((s) => `${s.spec.clusterIP} ${s.metadata.name}.default.svc.cluster.local`).join('\n') + '\n',
    );
    const resolver = new Resolver();
    resolver.setServers([AGENT]);
    await until('the agent DNS answers every Service', async () =>
      (
        await Promise.all(
          services.map((s) =>
            resolver.resolve4(`${s.metadata.name}.default.svc.cluster.local`).then((a) => a[0] === s.spec.clusterIP),
          ),
        )
      ).every(Boolean),
    );

    dnsmasq = spawn(
      'dnsmasq',
      [
        '--no-daemon',
        '--no-resolv',
        '--no-hosts',
        `--addn-hosts=${hosts}`,
        `--listen-address=${DNSMASQ}`,
        '--bind-interfaces',
        '--port=53',
        '--cache-size=10000',
        '--user=root',
        `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
      ],
      { stdio: 'ignore' },
    );
    const peer = new Resolver();
    peer.setServers([DNSMASQ]);
    await until(
      'dnsmasq',
      async () =>
        (await peer.resolve4(`svc-1.default.svc.cluster.local`))[0] ===
        services.find((s) => s.metadata.name === 'svc-1')!.spec.clusterIP,
    );

    dnsperf(AGENT, names, 2);
    progress('berth DNS');
    const berth = { ...dnsperf(AGENT, names), ...latency(AGENT, names) };
    progress(JSON.stringify(berth));
    dnsperf(DNSMASQ, names, 2);
    progress('dnsmasq');
    const peerLoad = { ...dnsperf(DNSMASQ, names), ...latency(DNSMASQ, names) };
    progress(JSON.stringify(peerLoad));

    const clusterIP = services.find((s) => s.metadata.name === 'svc-0')!.spec.clusterIP;
    await until('the ClusterIP answers', async () => (await fetch(`http://${clusterIP}/`)).ok);
    wrk(`http://127.0.0.1:${backendPort}/`, 50, 2);
    const direct = { ...wrk(`http://127.0.0.1:${backendPort}/`, 50), one: wrk(`http://127.0.0.1:${backendPort}/`, 1) };
    progress(`direct ${JSON.stringify(direct)}`);
    wrk(`http://${clusterIP}/`, 50, 2);
    const proxied = { ...wrk(`http://${clusterIP}/`, 50), one: wrk(`http://${clusterIP}/`, 1) };
    progress(`ClusterIP ${JSON.stringify(proxied)}`);
    return {
      services: SERVICES,
      seconds: SECONDS,
      berth_dns_qps: berth.qps,
      berth_dns_lost: berth.lost,
      berth_dns_p50_ms: berth.p50_ms,
      berth_dns_p99_ms: berth.p99_ms,
      dnsmasq_qps: peerLoad.qps,
      dnsmasq_lost: peerLoad.lost,
      dnsmasq_p50_ms: peerLoad.p50_ms,
      dnsmasq_p99_ms: peerLoad.p99_ms,
      ratio_qps_vs_dnsmasq: Math.round((berth.qps / peerLoad.qps) * 100) / 100,
      target_ratio: 0.5,
      direct_rps: direct.rps,
      direct_p99_one_connection_ms: direct.one.p99_ms,
      clusterip_rps: proxied.rps,
      clusterip_p99_one_connection_ms: proxied.one.p99_ms,
      clusterip_added_p99_ms: round(proxied.one.p99_ms - direct.one.p99_ms),
      clusterip_added_p99_50_connections_ms: round(proxied.p99_ms - direct.p99_ms),
      ratio_clusterip_vs_direct_rps: Math.round((proxied.rps / direct.rps) * 100) / 100,
      target_added_p99_ms: 2,
    };
  } finally {
    dnsmasq?.kill();
    backend.kill();
    await agent.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
