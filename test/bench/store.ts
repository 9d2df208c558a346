/**
 * Store throughput and watch latency per driver: single creates, creates in 100-object txns,
 * updates, and watch delivery latency (write start → event received). For etcd, the raw etcd3
 * client does the same puts in the same run, and the ratio is reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { openStore, type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import { startEtcd } from '../helpers/etcd.js';

const SINGLE = 2000;
const TXNS = 100;
const TXN_SIZE = 100;
const UPDATES = 2000;
const LATENCY_SAMPLES = 500;

const cm = (name: string, n = 0): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'bench', labels: { app: 'bench' } },
  data: { n: String(n), payload: 'x'.repeat(200) },
});

const perSecond = (count: number, ms: number) => Math.round((count * 1000) / ms);

async function time(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function percentile(sorted: number[], p: number): number {
  return Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(2));
}

const progress = (msg: string) => process.stderr.write(`store: ${msg}\n`);

async function measure(store: RevisionedStore) {
  progress(`${store.driver}: single creates`);
  const single = await time(async () => {
    for (let i = 0; i < SINGLE; i++) await store.create(cm(`single-${i}`));
  });
  progress(`${store.driver}: 100-object transactions`);
  const txn = await time(async () => {
    for (let t = 0; t < TXNS; t++)
      await store.txn(
        Array.from({ length: TXN_SIZE }, (_, i) => ({ op: 'create' as const, object: cm(`txn-${t}-${i}`) })),
      );
  });
  let obj = await store.get<KubeObject>({ group: '', kind: 'ConfigMap', namespace: 'bench', name: 'single-0' });
  progress(`${store.driver}: updates`);
  const updates = await time(async () => {
    for (let i = 0; i < UPDATES; i++)
      obj = await store.update({ ...obj, data: { n: String(i), payload: 'y'.repeat(200) } });
  });

  // Watch latency: one subscriber; each write waits for its own event.
  progress(`${store.driver}: watch latency`);
  const ac = new AbortController();
  const arrivals = new Map<string, () => void>();
  const from = await store.revision();
  const watching = (async () => {
    for await (const e of store.watch({ fromRevision: from, kind: 'ConfigMap', group: '', signal: ac.signal }))
      arrivals.get(e.object.metadata.name)?.();
  })().catch((e) => progress(`watch failed: ${(e as Error).message}`));
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const name = `lat-${i}`;
    const seen = new Promise<void>((r) => arrivals.set(name, r));
    const t = performance.now();
    await store.create(cm(name));
    await seen;
    latencies.push(performance.now() - t);
  }
  ac.abort();
  await watching;
  latencies.sort((a, b) => a - b);
  return {
    creates_per_s: perSecond(SINGLE, single),
    txn_objects_per_s: perSecond(TXNS * TXN_SIZE, txn),
    updates_per_s: perSecond(UPDATES, updates),
    watch_p50_ms: percentile(latencies, 50),
    watch_p99_ms: percentile(latencies, 99),
  };
}

/** The same puts through the raw etcd3 client: single puts, and 100-put transactions. */
async function rawEtcd(hosts: string, round: number) {
  const client = new Etcd3({ hosts: hosts.split(',').map((h) => `http://${h}`) });
  try {
    const value = JSON.stringify(cm('raw'));
    const plain = await time(async () => {
      for (let i = 0; i < SINGLE; i++) await client.put(`/raw-${round}/plain-${i}`).value(value);
    });
    // A create is a put-if-absent: one Txn whose compare is "version == 0", as kube-apiserver writes.
    const single = await time(async () => {
      for (let i = 0; i < SINGLE; i++) {
        const key = Buffer.from(`/raw-${round}/single-${i}`);
        await client.kv.txn({
          compare: [{ key, target: 'Version', result: 'Equal', version: 0 }],
          success: [{ request_put: { key, value: Buffer.from(value) } }],
        });
      }
    });
    const txn = await time(async () => {
      for (let t = 0; t < TXNS; t++) {
        const keys = Array.from({ length: TXN_SIZE }, (_, i) => Buffer.from(`/raw-${round}/txn-${t}-${i}`));
        await client.kv.txn({
          compare: keys.map((key) => ({ key, target: 'Version' as const, result: 'Equal' as const, version: 0 })),
          success: keys.map((key) => ({ request_put: { key, value: Buffer.from(value) } })),
        });
      }
    });
    return {
      creates_per_s: perSecond(SINGLE, single),
      plain_puts_per_s: perSecond(SINGLE, plain),
      txn_objects_per_s: perSecond(TXNS * TXN_SIZE, txn),
    };
  } finally {
    client.close();
  }
}

const ETCD_ROUNDS = 3;

/** Compacts the whole log while a writer keeps writing; the writer's longest wait is the stall. */
async function compactionStall(store: RevisionedStore) {
  let writing = true;
  let maxStall = 0;
  let writes = 0;
  const writer = (async () => {
    while (writing) {
      const t = performance.now();
      await store.create(cm(`during-compaction-${writes++}`));
      maxStall = Math.max(maxStall, performance.now() - t);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const before = await store.revision();
  const compactMs = await time(async () => void (await store.compact({ keep: 100 })));
  writing = false;
  await writer;
  return {
    compacted_revisions: before - 100,
    compact_ms: Math.round(compactMs),
    max_write_stall_ms: Number(maxStall.toFixed(2)),
    writes_during_compaction: writes,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-store-'));
  try {
    for (const sync of ['full', 'normal'] as const) {
      const store = await openStore(`sqlite:${path.join(dir, `${sync}.db`)}?sync=${sync}`);
      try {
        const r = { ...(await measure(store)), ...(await compactionStall(store)) };
        results[`sqlite_${sync}`] = r;
        console.log(JSON.stringify({ bench: 'store', driver: 'sqlite', sync, ...r }));
      } finally {
        await store.close();
      }
    }
    const cluster = await startEtcd(1);
    try {
      // Store and raw client alternate, best of each: etcd's speed drifts as its database grows.
      const rounds: Awaited<ReturnType<typeof measure>>[] = [];
      const raws: Awaited<ReturnType<typeof rawEtcd>>[] = [];
      for (let round = 0; round < ETCD_ROUNDS; round++) {
        const store = await openStore(cluster.url(`bench-${round}`));
        try {
          rounds.push(await measure(store));
        } finally {
          await store.close();
        }
        progress(`etcd: raw client, round ${round + 1}`);
        raws.push(await rawEtcd(cluster.hosts, round));
      }
      const best = <T extends Record<string, number>>(xs: T[], k: keyof T, low = false) =>
        (low ? Math.min : Math.max)(...xs.map((x) => x[k] as number));
      const r = {
        creates_per_s: best(rounds, 'creates_per_s'),
        txn_objects_per_s: best(rounds, 'txn_objects_per_s'),
        updates_per_s: best(rounds, 'updates_per_s'),
        watch_p50_ms: best(rounds, 'watch_p50_ms', true),
        watch_p99_ms: best(rounds, 'watch_p99_ms', true),
      };
      const raw = {
        creates_per_s: best(raws, 'creates_per_s'),
        plain_puts_per_s: best(raws, 'plain_puts_per_s'),
        txn_objects_per_s: best(raws, 'txn_objects_per_s'),
      };
      const etcd = {
        ...r,
        raw_conditional_puts_per_s: raw.creates_per_s,
        raw_plain_puts_per_s: raw.plain_puts_per_s,
        raw_txn_objects_per_s: raw.txn_objects_per_s,
        ratio_creates_vs_raw: Number((r.creates_per_s / raw.creates_per_s).toFixed(2)),
        ratio_creates_vs_raw_plain_put: Number((r.creates_per_s / raw.plain_puts_per_s).toFixed(2)),
        ratio_txn_vs_raw: Number((r.txn_objects_per_s / raw.txn_objects_per_s).toFixed(2)),
      };
      results.etcd = etcd;
      console.log(JSON.stringify({ bench: 'store', driver: 'etcd', ...etcd }));
    } finally {
      await cluster.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
