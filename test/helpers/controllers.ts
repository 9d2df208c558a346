/**
 * The workload controllers over a real store, for tests: started on their own AbortSignal,
 * objects created with the API's defaults and lifecycle, pod readiness driven by writing pod
 * status (there is no agent in these tests), and waits on awaited conditions, not sleeps.
 */
import { randomUUID } from 'node:crypto';
import { prepareCreate } from '../../src/api/lifecycle.js';
import { workloadControllers } from '../../src/controllers/index.js';
import { normalizeObject } from '../../src/manifest/index.js';
import {
  ControllerManager,
  EventBroadcaster,
  EventRecorder,
  InformerFactory,
  admittingWriter,
  policiesSeenBy,
  storeEventSink,
} from '../../src/runtime/index.js';
import type { KubeObject, ObjectRef, Store } from '../../src/store/index.js';

export interface Harness {
  stop(): Promise<void>;
  /** Creates with the API's defaults (as `berth apply` would). */
  create<T extends KubeObject>(object: unknown): Promise<T>;
  list<T extends KubeObject = KubeObject>(kind: { group: string; kind: string }, namespace?: string): Promise<T[]>;
  /** Marks pods Running and Ready (as an agent would), those picked by `pick`. */
  makeReady(pick?: (pod: KubeObject) => boolean): Promise<number>;
  /** Read, change, write — again on a conflict (the controllers write status meanwhile). A spec change moves generation. */
  modify<T extends KubeObject = any>(
    kind: { group: string; kind: string },
    name: string,
    change: (o: T) => void,
    namespace?: string,
  ): Promise<T>;
  /** Every controller reconciles every key it has seen again; resolves when they are done. */
  resync(): Promise<void>;
  /** Resolves when the controllers have had nothing to do for a moment. */
  settled(): Promise<void>;
  /** Writes an annotation on an object so its controller looks again (as its timer would, under a fake clock). */
  touch(kind: { group: string; kind: string }, name: string, namespace?: string): Promise<void>;
  /** Resolves when `check` returns a truthy value (re-checked on each store change), else fails after `timeoutMs`. */
  until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
}

export const POD = { group: '', kind: 'Pod' };
export const RS = { group: 'apps', kind: 'ReplicaSet' };
export const DEPLOY = { group: 'apps', kind: 'Deployment' };

export function startHarness(store: Store, options: { now?: () => number; manage?: boolean } = {}): Harness {
  const now = options.now ?? Date.now;
  const abort = new AbortController();
  const informers = new InformerFactory(store, (e) => console.error('informer', e));
  const events = new EventBroadcaster(new EventRecorder(storeEventSink(store), { component: 'test' }, now), now);
  // As berth server runs them: creates admitted against quotas and limit ranges.
  // As the server's: admission skips namespaces its informers show without quotas or limit ranges.
  const ctx = { informers, writer: admittingWriter(store, now, policiesSeenBy(informers)), events, now };
  const manager = new ControllerManager(informers, workloadControllers(ctx));
  const running = options.manage === false ? Promise.resolve() : manager.start(abort.signal);
  let touches = 0;
  const stamp = () => new Date(now()).toISOString().replace(/\.\d{3}Z$/, 'Z');

  const harness: Harness = {
    async stop() {
      abort.abort();
      await running;
      await events.flush();
    },
    async create<T extends KubeObject>(object: unknown): Promise<T> {
      const { object: normalized, findings } = normalizeObject(object, {
        strict: true,
        defaultNamespace: 'default',
        context: 'api',
      });
      if (!normalized) throw new Error(`invalid test object: ${JSON.stringify(findings)}`);
      return store.create(prepareCreate(normalized as unknown as T, new Date(now()), randomUUID()));
    },
    async list<T extends KubeObject>(kind: { group: string; kind: string }, namespace?: string): Promise<T[]> {
      return (await store.list<T>({ ...kind, ...(namespace !== undefined ? { namespace } : {}) })).items;
    },
    async modify(kind, name, change, namespace = 'default') {
      for (;;) {
        const o = await store.get<any>({ ...kind, namespace, name });
        const before = JSON.stringify(o.spec);
        change(o);
        if (JSON.stringify(o.spec) !== before) o.metadata.generation = (o.metadata.generation ?? 1) + 1;
        try {
          return await store.update(o);
        } catch (e) {
          if ((e as { code?: string }).code !== 'Conflict') throw e;
        }
      }
    },
    async settled() {
      await manager.settled();
      await events.flush();
    },
    async resync() {
      await harness.settled();
      manager.resync();
      await harness.settled();
    },
    async touch(kind, name, namespace = 'default') {
      await harness.modify(
        kind,
        name,
        (o) => {
          o.metadata.annotations = { ...(o.metadata.annotations ?? {}), 'test.berth.dev/touched': String(++touches) };
        },
        namespace,
      );
    },
    async makeReady(pick = () => true) {
      let n = 0;
      for (const pod of await harness.list(POD)) {
        const status = (pod as any).status ?? {};
        if (!pick(pod) || status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')) continue;
        const at = stamp();
        const ready = {
          ...status,
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at }],
        };
        try {
          await store.update({ ...pod, status: ready });
          n++;
        } catch {
          // deleted or changed meanwhile: the next round sees it
        }
      }
      return n;
    },
    async until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      for (;;) {
        try {
          const v = await check();
          if (v) return v;
        } catch (e) {
          last = e;
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  return harness;
}

export function ref(kind: { group: string; kind: string }, name: string, namespace = 'default'): ObjectRef {
  return { ...kind, namespace, name };
}

export function deployment(
  name: string,
  options: {
    replicas?: number;
    image?: string;
    strategy?: unknown;
    revisionHistoryLimit?: number;
    paused?: boolean;
    progressDeadlineSeconds?: number;
    minReadySeconds?: number;
  } = {},
) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas: options.replicas ?? 3,
      selector: { matchLabels: { app: name } },
      ...(options.strategy ? { strategy: options.strategy } : {}),
      ...(options.revisionHistoryLimit !== undefined ? { revisionHistoryLimit: options.revisionHistoryLimit } : {}),
      ...(options.paused ? { paused: true } : {}),
      ...(options.progressDeadlineSeconds !== undefined
        ? { progressDeadlineSeconds: options.progressDeadlineSeconds }
        : {}),
      ...(options.minReadySeconds !== undefined ? { minReadySeconds: options.minReadySeconds } : {}),
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image: options.image ?? 'web:1' }] },
      },
    },
  };
}
