/**
 * The workload controllers at scale over a SQLite store, as the server runs them: a 1,000-replica
 * Deployment created and reconciled until all its pods exist, a fake agent marking each pod Ready
 * as it appears (status writes in transactions), then a rollout to a new template until every
 * replica is updated and available. Targets (issue 6): 1,000 pods created ≤ 2 s; the full rollout
 * of 1,000 ≤ 10 s.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prepareCreate } from '../../src/api/lifecycle.js';
import { workloadControllers } from '../../src/controllers/index.js';
import {
  ControllerManager,
  EventBroadcaster,
  EventRecorder,
  InformerFactory,
  ObjectWriter,
  storeEventSink,
} from '../../src/runtime/index.js';
import { openStore, type KubeObject, type RevisionedStore, type TxnOp } from '../../src/store/index.js';

const REPLICAS = 1000;
const progress = (msg: string) => process.stderr.write(`controllers: ${msg}\n`);

const deployment = (image: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas: REPLICAS,
    selector: { matchLabels: { app: 'web' } },
    revisionHistoryLimit: 10,
    progressDeadlineSeconds: 600,
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image }] } },
  },
});

/** A fake agent: every new pod is marked Running and Ready, in transactions of up to 500. */
function fakeAgent(store: RevisionedStore, signal: AbortSignal): Promise<void> {
  return (async () => {
    const pending: KubeObject[] = [];
    let flushing: Promise<void> | undefined;
    const flush = async () => {
      while (pending.length) {
        const batch = pending.splice(0, 500);
        const at = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        const ops: TxnOp[] = batch.map((p) => ({
          op: 'update',
          object: {
            ...p,
            status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at }] },
          },
          expectedRevision: Number(p.metadata.resourceVersion),
        }));
        // A pod deleted meanwhile fails the batch: mark the rest one by one.
        await store.txn(ops).catch(async () => {
          for (const op of ops) await store.txn([op]).catch(() => {});
        });
      }
      flushing = undefined;
    };
    try {
      for await (const e of store.watch({ group: '', kind: 'Pod', fromRevision: await store.revision(), signal })) {
        if (e.type !== 'ADDED') continue;
        pending.push(e.object);
        flushing ??= new Promise<void>((r) => setImmediate(r)).then(flush);
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    }
    await flushing;
  })();
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - start;
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-controllers-'));
  const store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
  const abort = new AbortController();
  try {
    const informers = new InformerFactory(store);
    const events = new EventBroadcaster(new EventRecorder(storeEventSink(store), { component: 'bench' }));
    const ctx = { informers, writer: new ObjectWriter(store), events, now: Date.now };
    const manager = new ControllerManager(informers, workloadControllers(ctx));
    const managing = manager.start(abort.signal);
    const agent = fakeAgent(store, abort.signal);
    await new Promise((r) => setTimeout(r, 200));
    // The controllers' own pod cache: listing 1,000 pods from the store every few ms would slow what is measured.
    const podCount = async () => informers.for({ group: '', kind: 'Pod' }).list('default').length;
    const status = async () =>
      ((await store.get({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' })) as any).status ?? {};
    const rolledOut = async (generation: number) => {
      const s = await status();
      return (
        s.observedGeneration === generation &&
        s.updatedReplicas === REPLICAS &&
        s.availableReplicas === REPLICAS &&
        s.replicas === REPLICAS
      );
    };

    progress(`creating a ${REPLICAS}-replica Deployment`);
    const start = performance.now();
    await store.create(prepareCreate(deployment('web:1'), new Date(), randomUUID()));
    const createdMs = await until('pods created', async () => (await podCount()) >= REPLICAS);
    const readyMs = (await until('first rollout', () => rolledOut(1))) + createdMs;
    progress(`${REPLICAS} pods created in ${createdMs.toFixed(0)} ms, all available after ${readyMs.toFixed(0)} ms`);

    progress('rolling to a new template');
    const current = await store.get({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' });
    const next = structuredClone(current) as any;
    next.spec.template.spec.containers[0].image = 'web:2';
    next.metadata.generation = 2;
    await store.update(next);
    const rolloutMs = await until('rollout', () => rolledOut(2));
    progress(
      `rollout of ${REPLICAS} done in ${rolloutMs.toFixed(0)} ms (total ${(performance.now() - start).toFixed(0)} ms)`,
    );
    abort.abort();
    await managing;
    await agent;
    await events.flush();
    return {
      replicas: REPLICAS,
      pods_created_ms: Math.round(createdMs),
      pods_created_per_s: Math.round((REPLICAS * 1000) / createdMs),
      first_rollout_available_ms: Math.round(readyMs),
      rollout_ms: Math.round(rolloutMs),
      rollout_pods_per_s: Math.round((REPLICAS * 1000) / rolloutMs),
      events_dropped: events.dropped,
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      target_pods_created_ms: 2000,
      target_rollout_ms: 10_000,
    };
  } finally {
    abort.abort();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
