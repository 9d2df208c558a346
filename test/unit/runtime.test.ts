/**
 * The controller runtime: the workqueue's dedupe, one-worker-per-key and backoff; the informer's
 * cache, owner index, waitFor and re-list after compaction (on a real SQLite store); the manager's
 * retry and drain.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareCreate } from '../../src/api/lifecycle.js';
import { BerthError } from '../../src/api/errors.js';
import {
  ControllerManager,
  EventBroadcaster,
  EventRecorder,
  Informer,
  InformerFactory,
  storeListWatch,
  WorkQueue,
  type EventSink,
} from '../../src/runtime/index.js';
import type { InformerEvent } from '../../src/informer/index.js';
import { openStore, type KubeObject, type RevisionedStore } from '../../src/store/index.js';

const CONFIGMAPS = { group: '', kind: 'ConfigMap' };

describe('WorkQueue', () => {
  it('holds a key once however often it is added, and never hands one key to two workers', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.length).toBe(2);
    const first = await q.get();
    expect(first).toBe('a');
    q.add('a'); // while being processed: not queued beside itself…
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('b');
    expect(q.length).toBe(0);
    q.done('a'); // …but again once done
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('a');
  });

  it('backs off per key exponentially and starts over after forget', () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50 });
    expect([q.addRateLimited('k'), q.addRateLimited('k'), q.addRateLimited('k'), q.addRateLimited('k')]).toEqual([
      10, 20, 40, 50,
    ]);
    expect(q.addRateLimited('other')).toBe(10);
    q.forget('k');
    expect(q.addRateLimited('k')).toBe(10);
    q.shutdown();
  });

  it('a delayed add keeps the earliest time, and shutdown releases waiting workers', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 10_000);
    q.addAfter('k', 20);
    const got = await q.get();
    expect(got).toBe('k');
    const waiting = q.get();
    q.shutdown();
    expect(await waiting).toBeUndefined();
  });
});

const cm = (name: string, owner?: string): KubeObject =>
  prepareCreate(
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace: 'default',
        ...(owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o', uid: owner }] } : {}),
      },
      data: {},
    },
    new Date(),
    `${name}-uid`,
  );

describe('Informer (SQLite store)', () => {
  let dir: string;
  let store: RevisionedStore;
  const abort = new AbortController();
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-informer-'));
    store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
  });
  afterEach(async () => {
    abort.abort();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists, follows the watch, indexes owners, and waitFor resolves at a write's revision", async () => {
    await store.create(cm('a'));
    const informer = new Informer(storeListWatch(store, CONFIGMAPS), CONFIGMAPS);
    const seen: string[] = [];
    informer.on((e) => seen.push(`${e.type} ${e.object.metadata.name}`));
    const running = informer.start(abort.signal);
    await informer.synced;
    expect(informer.get('default', 'a')?.metadata.name).toBe('a');
    const b = await store.create(cm('b', 'owner-1'));
    await informer.waitFor(Number(b.metadata.resourceVersion));
    expect(informer.ownedBy('owner-1').map((o) => o.metadata.name)).toEqual(['b']);
    const gone = await store.delete({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'b' });
    await informer.waitFor(Number(gone.metadata.resourceVersion));
    expect(informer.ownedBy('owner-1')).toEqual([]);
    expect(seen).toEqual(['ADDED a', 'ADDED b', 'DELETED b']);
    abort.abort();
    await running;
  });

  it("hands handlers the cache's previous object (as client-go), the one it held, not a new parse", async () => {
    const stop = new AbortController();
    const informer = new Informer(storeListWatch(store, CONFIGMAPS), CONFIGMAPS);
    const events: InformerEvent[] = [];
    informer.on((e) => events.push(e));
    const running = informer.start(stop.signal);
    try {
      await informer.synced;
      const a = await store.create(cm('a'));
      await informer.waitFor(Number(a.metadata.resourceVersion));
      const held = informer.get('default', 'a');
      const a2 = await store.update({ ...a, data: { k: '2' } });
      await informer.waitFor(Number(a2.metadata.resourceVersion));
      expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED']);
      expect(events[1]!.prevObject).toBe(held);
      expect(events[1]!.prevObject?.metadata.resourceVersion).toBe(a.metadata.resourceVersion);
    } finally {
      stop.abort();
      await running;
    }
  });

  it("waitFor a transaction's revision resolves only once all of its objects are in the cache", async () => {
    const stop = new AbortController();
    const informer = new Informer(storeListWatch(store, CONFIGMAPS), CONFIGMAPS);
    const running = informer.start(stop.signal);
    try {
      await informer.synced;
      const names = Array.from({ length: 50 }, (_, i) => `batch-${i}`);
      const { revision } = await store.txn(names.map((n) => ({ op: 'create' as const, object: cm(n) })));
      await informer.waitFor(revision);
      // Advancing on the first event of the revision let this see 1 of 50.
      expect(informer.list('default').length).toBe(50);
    } finally {
      stop.abort();
      await running;
    }
  });

  it('re-lists after the watch is compacted and delivers what changed meanwhile', async () => {
    const local = new AbortController();
    await store.create(cm('keep'));
    await store.create(cm('drop'));
    // The first watch fails as a compacted one does, after changes the informer did not see.
    let lists = 0;
    let watches = 0;
    const faulty = Object.create(store) as RevisionedStore;
    faulty.list = (o) => (lists++, store.list(o));
    faulty.watch = (o) => {
      if (watches++ > 0) return store.watch(o);
      return (async function* () {
        await store.delete({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'drop' });
        await store.create(cm('new'));
        throw new BerthError('Compacted', 'revision compacted');
      })();
    };
    const informer = new Informer(storeListWatch(faulty, CONFIGMAPS), CONFIGMAPS);
    const seen: string[] = [];
    informer.on((e) => seen.push(`${e.type} ${e.object.metadata.name}`));
    const running = informer.start(local.signal);
    await informer.synced;
    const after = await store.create(cm('after'));
    await informer.waitFor(Number(after.metadata.resourceVersion));
    expect(lists).toBe(2);
    expect(
      informer
        .list('default')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['after', 'keep', 'new']);
    expect(seen.slice(0, 2)).toEqual(['ADDED drop', 'ADDED keep']); // a list comes in key order
    expect(seen.slice(2).sort()).toEqual(['ADDED after', 'ADDED new', 'DELETED drop']);
    local.abort();
    await running;
  });
});

describe('ControllerManager', () => {
  it('retries a failing key with backoff, reconciles each key once at a time, and drains on abort', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-manager-'));
    const store = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
    try {
      const informers = new InformerFactory(store);
      const calls: string[] = [];
      let running = 0;
      let overlap = false;
      const controller = {
        name: 'test',
        workers: 4,
        watch: (enqueue: (k: string) => void, f: InformerFactory) =>
          f.for({ group: '', kind: 'ConfigMap' }).on((e) => enqueue(e.object.metadata.name)),
        async reconcile(key: string) {
          if (running++ > 0 && key === 'flaky') overlap = true;
          calls.push(key);
          await new Promise((r) => setTimeout(r, 5));
          running--;
          if (key === 'flaky' && calls.filter((c) => c === 'flaky').length < 3)
            throw new BerthError('Unavailable', 'not yet');
          return {};
        },
      };
      const manager = new ControllerManager(informers, [controller]);
      const abort = new AbortController();
      const done = manager.start(abort.signal);
      await store.create(cm('flaky'));
      const deadline = Date.now() + 5000;
      while (calls.filter((c) => c === 'flaky').length < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      expect(calls.filter((c) => c === 'flaky')).toHaveLength(3);
      expect(overlap).toBe(false);
      abort.abort();
      await done;
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('EventBroadcaster', () => {
  it("writes off the caller's path, counts repeats into one event, and combines more than 10 similar messages", async () => {
    const stored = new Map<string, any>();
    const sink: EventSink = {
      get: async (_ns, name) => stored.get(name),
      create: async (e) => void stored.set(e.metadata.name, e),
      update: async (e) => void stored.set(e.metadata.name, e),
      list: async () => [...stored.values()],
      delete: async (_ns, name) => void stored.delete(name),
    };
    const events = new EventBroadcaster(new EventRecorder(sink, { component: 'test' }));
    const about = { kind: 'ReplicaSet', namespace: 'default', name: 'web-1', uid: 'u' };
    for (let i = 0; i < 30; i++)
      events.emit({
        involvedObject: about,
        type: 'Normal',
        reason: 'SuccessfulCreate',
        message: `Created pod: web-1-${i}`,
      });
    for (let i = 0; i < 3; i++)
      events.emit({ involvedObject: about, type: 'Normal', reason: 'SuccessfulDelete', message: 'Deleted pod: x' });
    await events.flush();
    const all = [...stored.values()];
    expect(all.filter((e) => e.reason === 'SuccessfulCreate' && !e.message.startsWith('(combined'))).toHaveLength(10);
    // One combined Event, counted, carrying the latest message (client-go's aggregator), not the reason.
    const combined = all.filter((e) => e.message.startsWith('(combined from similar events): '));
    expect(combined.map((e) => [e.message, e.count])).toEqual([
      ['(combined from similar events): Created pod: web-1-29', 20],
    ]);
    expect(all.find((e) => e.reason === 'SuccessfulDelete')?.count).toBe(3);
  });
});
