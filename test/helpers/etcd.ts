/**
 * Real etcd (Debian's etcd-server) for tests: 1 or 3 members on free 127.0.0.1 ports with a
 * temporary data dir, stopped by PID and removed afterwards, even when a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export const ETCD_BINARY = process.env.ETCD_BINARY ?? '/usr/bin/etcd';

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  process?: ChildProcess;
  kill(): void;
  start(): Promise<void>;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** host:port list for an etcd:// URL. */
  hosts: string;
  /** The store URL, telling Berth the server's --max-txn-ops when it is not etcd's default. */
  url(prefix: string): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** maxTxnOps: the tests' etcd takes large transactions unless a test wants etcd's default (128). */
export async function startEtcd(count: 1 | 3 = 1, options: { maxTxnOps?: number } = {}): Promise<EtcdCluster> {
  const maxTxnOps = options.maxTxnOps ?? 10_000;
  if (!existsSync(ETCD_BINARY))
    throw new Error(`etcd not found at ${ETCD_BINARY}: install Debian's etcd-server (.ci/run does)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-etcd-'));
  const specs: { name: string; clientPort: number; peerPort: number }[] = [];
  for (let i = 1; i <= count; i++)
    specs.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort() });
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');

  const members: EtcdMember[] = specs.map((s) => {
    const member: EtcdMember = {
      ...s,
      kill() {
        if (alive(member.process)) member.process!.kill('SIGKILL');
      },
      async start() {
        const log = openSync(path.join(dir, `${s.name}.log`), 'a');
        const child = spawn(
          ETCD_BINARY,
          [
            '--name',
            s.name,
            '--data-dir',
            path.join(dir, s.name),
            '--listen-client-urls',
            `http://127.0.0.1:${s.clientPort}`,
            '--advertise-client-urls',
            `http://127.0.0.1:${s.clientPort}`,
            '--listen-peer-urls',
            `http://127.0.0.1:${s.peerPort}`,
            '--initial-advertise-peer-urls',
            `http://127.0.0.1:${s.peerPort}`,
            '--initial-cluster',
            initialCluster,
            '--initial-cluster-state',
            'new',
            '--heartbeat-interval',
            '100',
            '--election-timeout',
            '1000',
            '--max-txn-ops',
            String(maxTxnOps),
            '--logger',
            'zap',
            '--log-level',
            'error',
          ],
          { stdio: ['ignore', log, log] },
        );
        running.add(child);
        child.on('exit', () => running.delete(child));
        member.process = child;
      },
    };
    return member;
  });
  await Promise.all(members.map((m) => m.start()));
  await Promise.all(members.map((m) => waitHealthy(m.clientPort, dir)));
  const hosts = members.map((m) => `127.0.0.1:${m.clientPort}`).join(',');
  return {
    members,
    hosts,
    url: (prefix) => `etcd://${hosts}/${prefix}${maxTxnOps === 128 ? '' : `?max-txn-ops=${maxTxnOps}`}`,
    async stop() {
      for (const m of members) m.kill();
      await Promise.all(
        members.map((m) => (alive(m.process) ? new Promise((r) => m.process!.once('exit', r)) : undefined)),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function alive(p: ChildProcess | undefined): boolean {
  return !!p && p.exitCode === null && p.signalCode === null;
}

/** Waits until the member answers /health (after start or restart). */
export async function waitMemberHealthy(m: EtcdMember): Promise<void> {
  await waitHealthy(m.clientPort, 'the member log');
}

async function waitHealthy(port: number, dir: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.ok && ((await res.json()) as { health: string }).health === 'true') return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd on port ${port} did not become healthy (logs in ${dir})`);
}
