/**
 * Failover: two `berth server`s on one etcd; the leader is SIGKILLed and a Deployment is scaled
 * through the other at once; the time until its ReplicaSet says so is the time from the kill to
 * the first reconcile by the new leader (the election's lease, 10 s by default, is most of it).
 * Median of 5 (the killed server is started again as a follower each round). And what fencing
 * costs: sequential creates through the store with and without the leader's fence (one compare
 * more in each etcd Txn), as a ratio.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type KubeObject } from '../../src/store/index.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { testServiceCidr } from '../helpers/ports.js';
import { api } from '../helpers/server.js';

const ROUNDS = 5;
const CREATES = 1000;
const progress = (msg: string) => process.stderr.write(`failover: ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function until<T>(check: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function isLeader(s: BerthServerProcess): Promise<boolean> {
  const m = await api(s, 'GET', '/metrics', { token: s.token });
  return /^berth_leader\{server="[^"]+"\} 1$/m.test(m.text);
}

async function fencingCost(etcd: EtcdCluster): Promise<{ unfenced: number; fenced: number }> {
  const store = await openStore(etcd.url('fence-bench'));
  try {
    const term = await store.leaderElection('bench', 10)!.campaign(new AbortController().signal);
    const cm = (name: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: 'bench' },
      data: { payload: 'x'.repeat(200) },
    });
    // In alternating blocks, so that warming up (the JIT, etcd's own caches) favours neither.
    const fencedStore = store.withFence(term.fence);
    const elapsed = { unfenced: 0, fenced: 0 };
    const BLOCK = 100;
    progress(`${CREATES} creates each, unfenced and fenced, in alternating blocks of ${BLOCK}`);
    for (let b = 0; b < CREATES / BLOCK; b++)
      for (const [kind, target] of [
        ['unfenced', store],
        ['fenced', fencedStore],
      ] as const) {
        const t = performance.now();
        for (let i = 0; i < BLOCK; i++) await target.create(cm(`${kind}-${b}-${i}`));
        elapsed[kind] += performance.now() - t;
      }
    const rate = (ms: number) => Math.round((CREATES * 1000) / ms);
    return { unfenced: rate(elapsed.unfenced), fenced: rate(elapsed.fenced) };
  } finally {
    await store.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  buildOnce();
  const etcd = await startEtcd(1);
  const servers: BerthServerProcess[] = [];
  try {
    const cidr = testServiceCidr();
    const args = (name: string) => ['--store', etcd.url('failover'), '--server-name', name, '--service-cidr', cidr];
    const start = async (name: string, dir?: string) =>
      startBerthServer({ ...(dir ? { dir } : {}), args: [...args(name), '--log-level', 'warn'] });
    servers.push(await start('a'));
    const dirB = mkdtempSync(path.join(tmpdir(), 'berth-proc-'));
    mkdirSync(path.join(dirB, 'pki'));
    for (const f of ['ca.crt', 'ca.key']) copyFileSync(path.join(servers[0]!.dir, 'pki', f), path.join(dirB, 'pki', f));
    servers.push(await start('b', dirB));
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bench', namespace: 'default' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'bench' } },
        template: { metadata: { labels: { app: 'bench' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
      },
    };
    await api(servers[0]!, 'POST', '/apis/apps/v1/namespaces/default/deployments', {
      token: servers[0]!.token,
      body: deployment,
    });
    const takeovers: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const leader = await until(async () => {
        for (const s of servers) if (await isLeader(s)) return s;
        return undefined;
      }, 60_000);
      const other = servers.find((s) => s !== leader)!;
      const name = leader === servers[0] ? 'a' : 'b';
      const killedAt = performance.now();
      await leader.crash();
      // Scaled through the survivor at once: only a leader's ReplicaSet controller acts on it.
      const scalePath = '/apis/apps/v1/namespaces/default/deployments/bench/scale';
      const scale = (await api(other, 'GET', scalePath, { token: other.token })).body;
      const replicas = round % 2;
      await api(other, 'PUT', scalePath, { token: other.token, body: { ...scale, spec: { replicas } } });
      await until(async () => {
        const sets = (await api(other, 'GET', '/apis/apps/v1/namespaces/default/replicasets', { token: other.token }))
          .body.items as { spec: { replicas: number } }[];
        return sets.length > 0 && sets.every((s) => s.spec.replicas === replicas);
      }, 60_000);
      const ms = performance.now() - killedAt;
      takeovers.push(ms);
      progress(`round ${round}: the new leader reconciled ${(ms / 1000).toFixed(1)} s after the kill`);
      // The killed one comes back, as a follower.
      servers[servers.indexOf(leader)] = await start(name, leader.dir);
    }
    const fencing = await fencingCost(etcd);
    return {
      rounds: ROUNDS,
      leader_lease_s: 10,
      kill_to_first_reconcile_ms_median: Math.round(median(takeovers)),
      kill_to_first_reconcile_ms: takeovers.map((t) => Math.round(t)),
      creates_per_s_unfenced: fencing.unfenced,
      creates_per_s_fenced: fencing.fenced,
      fenced_vs_unfenced_ratio: Number((fencing.fenced / fencing.unfenced).toFixed(2)),
    };
  } finally {
    for (const s of servers) await s.stop();
    await etcd.stop();
  }
}
