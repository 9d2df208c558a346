/**
 * The Store contract: one suite, every driver. What one driver guarantees, all do.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { KubeObject, RevisionedStore, WatchEvent } from '../../src/store/index.js';
import { etcdDriver, memoryDriver, sqliteDriver, type Driver } from './drivers.js';

const drivers: Driver[] = [memoryDriver(), sqliteDriver(), etcdDriver()];

function cm(
  name: string,
  opts: { ns?: string; labels?: Record<string, string>; data?: Record<string, string> } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: opts.ns ?? 'default', ...(opts.labels ? { labels: opts.labels } : {}) },
    data: opts.data ?? {},
  };
}
function pod(name: string, node: string, phase = 'Running'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName: node, containers: [] },
    status: { phase },
  };
}
const CM = { group: '', kind: 'ConfigMap' };
const ref = (name: string, ns = 'default') => ({ ...CM, namespace: ns, name });
const rv = (o: KubeObject) => Number(o.metadata.resourceVersion);

async function collect(iter: AsyncIterable<WatchEvent>, count: number, timeoutMs = 10_000): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  const timer = setTimeout(() => {}, 0);
  const deadline = Date.now() + timeoutMs;
  for await (const e of iter) {
    out.push(e);
    if (out.length >= count) break;
    if (Date.now() > deadline) break;
  }
  clearTimeout(timer);
  return out;
}

/** Reads events until `count` arrive or the time is up (then returns what came). */
async function take(
  store: RevisionedStore,
  from: number,
  count: number,
  extra: object = {},
  timeoutMs = 10_000,
): Promise<WatchEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    return await collect(store.watch({ fromRevision: from, signal: ac.signal, ...extra }), count, timeoutMs);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

describe.each(drivers)('store contract: $name', (driver) => {
  const open: RevisionedStore[] = [];
  const fresh = async (options = {}) => {
    const s = await driver.open(options);
    open.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  afterAll(() => driver.teardown(), 30_000);

  it('creates, gets and refuses a second create', async () => {
    const s = await fresh();
    const before = await s.revision();
    const created = await s.create(cm('a', { data: { k: 'v' } }));
    expect(rv(created)).toBeGreaterThan(before);
    expect(await s.revision()).toBe(rv(created));
    const got = await s.get(ref('a'));
    expect(got).toEqual(created);
    await expect(s.create(cm('a'))).rejects.toMatchObject({ code: 'AlreadyExists' });
    await expect(s.get(ref('missing'))).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('updates with compare-and-swap on resourceVersion', async () => {
    const s = await fresh();
    const a = await s.create(cm('a'));
    const b = await s.update({ ...a, data: { k: '1' } });
    expect(rv(b)).toBeGreaterThan(rv(a));
    await expect(s.update({ ...a, data: { k: 'stale' } })).rejects.toMatchObject({ code: 'Conflict' });
    // No resourceVersion: an unconditional update, as a Kubernetes PUT without one.
    const { resourceVersion: _, ...meta } = b.metadata;
    const c = await s.update({ ...b, metadata: meta, data: { k: '2' } });
    expect((c as any).data).toEqual({ k: '2' });
    await expect(s.update(cm('nope'))).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('two updaters with the same resourceVersion: exactly one wins', async () => {
    const s = await fresh();
    const a = await s.create(cm('race'));
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => s.update({ ...a, data: { by: String(i) } })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(
      ['Conflict', 'Conflict', 'Conflict'],
    );
  });

  it('deletes with an optional precondition and returns the last state', async () => {
    const s = await fresh();
    const a = await s.create(cm('a', { data: { k: 'v' } }));
    await expect(s.delete(ref('a'), { expectedRevision: rv(a) + 100 })).rejects.toMatchObject({ code: 'Conflict' });
    const gone = await s.delete(ref('a'), { expectedRevision: rv(a) });
    expect((gone as any).data).toEqual({ k: 'v' });
    await expect(s.get(ref('a'))).rejects.toMatchObject({ code: 'NotFound' });
    await expect(s.delete(ref('a'))).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('lists by kind, namespace, label and field selectors, with the list revision', async () => {
    const s = await fresh();
    await s.create(cm('a', { labels: { app: 'web', tier: 'fe' } }));
    await s.create(cm('b', { labels: { app: 'web', tier: 'be' } }));
    await s.create(cm('c', { ns: 'other', labels: { app: 'db' } }));
    await s.create(pod('p1', 'node-1'));
    await s.create(pod('p2', 'node-2', 'Pending'));
    const all = await s.list(CM);
    expect(all.items.map((o) => o.metadata.name)).toEqual(['a', 'b', 'c']);
    expect(all.revision).toBe(await s.revision());
    expect((await s.list({ ...CM, namespace: 'default' })).items.map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect((await s.list({ ...CM, labelSelector: 'app=web,tier!=fe' })).items.map((o) => o.metadata.name)).toEqual([
      'b',
    ]);
    expect((await s.list({ ...CM, labelSelector: 'app in (db)' })).items.map((o) => o.metadata.name)).toEqual(['c']);
    expect((await s.list({ ...CM, fieldSelector: 'metadata.name=b' })).items.map((o) => o.metadata.name)).toEqual([
      'b',
    ]);
    expect(
      (await s.list({ ...CM, fieldSelector: 'metadata.namespace=other' })).items.map((o) => o.metadata.name),
    ).toEqual(['c']);
    const P = { group: '', kind: 'Pod' };
    expect((await s.list({ ...P, fieldSelector: 'spec.nodeName=node-2' })).items.map((o) => o.metadata.name)).toEqual([
      'p2',
    ]);
    expect((await s.list({ ...P, fieldSelector: 'status.phase!=Pending' })).items.map((o) => o.metadata.name)).toEqual([
      'p1',
    ]);
    await expect(s.list({ ...CM, fieldSelector: 'spec.foo=bar' })).rejects.toMatchObject({ code: 'Invalid' });
  });

  it('pages a list with limit and continue', async () => {
    const s = await fresh();
    for (let i = 0; i < 7; i++) await s.create(cm(`item-${i}`, { labels: { even: String(i % 2 === 0) } }));
    const names: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await s.list({ ...CM, limit: 3, ...(cont ? { continue: cont } : {}) });
      names.push(...page.items.map((o) => o.metadata.name));
      cont = page.continue;
      pages++;
    } while (cont);
    expect(pages).toBe(3);
    expect(names).toEqual(Array.from({ length: 7 }, (_, i) => `item-${i}`));
    const even = await s.list({ ...CM, limit: 2, labelSelector: 'even=true' });
    expect(even.items.map((o) => o.metadata.name)).toEqual(['item-0', 'item-2']);
    const rest = await s.list({ ...CM, limit: 2, labelSelector: 'even=true', continue: even.continue! });
    expect(rest.items.map((o) => o.metadata.name)).toEqual(['item-4', 'item-6']);
    await expect(s.list({ ...CM, continue: 'garbage' })).rejects.toMatchObject({ code: 'Invalid' });
  });

  it('applies a txn all-or-nothing at one revision', async () => {
    const s = await fresh();
    const a = await s.create(cm('a'));
    const before = await s.revision();
    await expect(
      s.txn([
        { op: 'create', object: cm('t1') },
        { op: 'update', object: { ...a, data: { k: 'x' } } },
        { op: 'delete', ref: ref('a'), expectedRevision: rv(a) + 5 },
      ]),
    ).rejects.toMatchObject({ code: 'Invalid' });
    await expect(
      s.txn([
        { op: 'create', object: cm('t1') },
        { op: 'create', object: cm('t2') },
        { op: 'update', object: { ...a, data: { k: 'x' } }, expectedRevision: rv(a) + 5 },
      ]),
    ).rejects.toMatchObject({ code: 'Conflict' });
    expect(await s.revision()).toBe(before);
    await expect(s.get(ref('t1'))).rejects.toMatchObject({ code: 'NotFound' });
    const ok = await s.txn([
      { op: 'create', object: cm('t1') },
      { op: 'create', object: cm('t2') },
      { op: 'update', object: { ...a, data: { k: 'x' } }, expectedRevision: rv(a) },
    ]);
    expect(ok.results.map(rv)).toEqual([ok.revision, ok.revision, ok.revision]);
    expect(await s.revision()).toBe(ok.revision);
  });

  it('refuses objects over 1 MiB', async () => {
    const s = await fresh();
    await expect(s.create(cm('big', { data: { blob: 'x'.repeat(1024 * 1024 + 1) } }))).rejects.toMatchObject({
      code: 'Invalid',
      message: expect.stringMatching(/over 1 MiB/),
    });
  });

  it('watches from a list revision: ADDED, MODIFIED, DELETED with the previous object', async () => {
    const s = await fresh();
    await s.create(cm('before'));
    const { revision } = await s.list(CM);
    const events = take(s, revision, 4, { kind: 'ConfigMap', group: '' });
    const a = await s.create(cm('a'));
    const a2 = await s.update({ ...a, data: { k: '1' } });
    await s.create(pod('ignored', 'n'));
    await s.delete(ref('a'));
    await s.create(cm('b'));
    const got = await events;
    expect(got.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'ADDED a',
      'MODIFIED a',
      'DELETED a',
      'ADDED b',
    ]);
    expect(got[1]!.prevObject).toEqual(a);
    expect(got[1]!.object).toEqual(a2);
    expect((got[2]!.object as any).data).toEqual({ k: '1' });
    expect(rv(got[2]!.object)).toBe(got[2]!.revision);
    expect(got.map((e) => e.revision)).toEqual([...got.map((e) => e.revision)].sort((x, y) => x - y));
  });

  it('a selector watch sees objects enter and leave the selection', async () => {
    const s = await fresh();
    const from = await s.revision();
    const events = take(s, from, 3, { kind: 'ConfigMap', group: '', labelSelector: 'app=web' });
    const a = await s.create(cm('a', { labels: { app: 'db' } }));
    const a2 = await s.update({ ...a, metadata: { ...a.metadata, labels: { app: 'web' } } });
    const a3 = await s.update({ ...a2, data: { x: '1' } });
    await s.update({ ...a3, metadata: { ...a3.metadata, labels: { app: 'db' } } });
    expect((await events).map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
  });

  it('property: concurrent writers, then a watch from the oldest revision replays every event once, in order', async () => {
    const s = await fresh();
    const from = await s.oldestRevision();
    const writers = 6;
    const perWriter = 25;
    let acknowledged = 0;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        let obj = await s.create(cm(`w${w}`, { data: { n: '0' } }));
        acknowledged++;
        for (let i = 1; i < perWriter; i++) {
          if (i % 10 === 0)
            await s
              .txn([
                { op: 'create', object: cm(`w${w}-t${i}`) },
                { op: 'create', object: cm(`w${w}-u${i}`) },
              ])
              .then(() => (acknowledged += 2));
          obj = await s.update({ ...obj, data: { n: String(i) } });
          acknowledged++;
        }
      }),
    );
    const head = await s.revision();
    const events = await take(s, from, acknowledged);
    expect(events).toHaveLength(acknowledged);
    const seen = new Set<string>();
    let last = from;
    for (const e of events) {
      expect(e.revision).toBeGreaterThanOrEqual(last);
      last = e.revision;
      const id = `${e.revision}/${e.object.metadata.name}`;
      expect(seen.has(id)).toBe(false);
      seen.add(id);
    }
    expect(last).toBe(head);
    // Replaying the events rebuilds the final state exactly.
    const state = new Map<string, string>();
    for (const e of events) state.set(e.object.metadata.name, JSON.stringify((e.object as any).data));
    const listed = await s.list(CM);
    expect(new Map(listed.items.map((o) => [o.metadata.name, JSON.stringify((o as any).data)]))).toEqual(state);
  }, 60_000);

  it('watch from a compacted revision fails with Compacted, naming the oldest available', async () => {
    const s = await fresh();
    await s.oldestRevision();
    const first = await s.create(cm('a'));
    for (let i = 0; i < 10; i++) await s.create(cm(`c${i}`));
    const { oldestRevision } = await s.compact({ keep: 3 });
    expect(oldestRevision).toBe((await s.revision()) - 3);
    // The window may be wider for drivers that serve watches from memory; past it is Compacted.
    const err = await take(s, 0, 1, {}, 2000).catch((e) => e);
    if (driver.name === 'etcd') {
      expect(await take(s, rv(first) - 1, 11, {}, 5000)).toHaveLength(11);
    } else {
      expect(err).toMatchObject({
        code: 'Compacted',
        message: expect.stringContaining(`oldest revision available is ${oldestRevision}`),
      });
      expect(await take(s, oldestRevision, 3)).toHaveLength(3);
    }
  });

  it('a subscriber that falls behind the watch window is closed with an error', async () => {
    const s = await fresh({ watchRingEvents: 10 });
    const from = await s.revision();
    const ac = new AbortController();
    const it = s.watch({ fromRevision: from, signal: ac.signal })[Symbol.asyncIterator]();
    const first = it.next();
    await s.create(cm('x0'));
    expect((await first).value.object.metadata.name).toBe('x0');
    for (let i = 1; i < 60; i++) await s.create(cm(`x${i}`));
    // The writer was never held up; the slow reader is told to re-list.
    await new Promise((r) => setTimeout(r, 300));
    let error: unknown;
    try {
      for (let i = 0; i < 60; i++) await it.next();
    } catch (e) {
      error = e;
    }
    ac.abort();
    expect(error).toMatchObject({ code: 'Unavailable', message: expect.stringMatching(/fell behind/) });
  });

  it("a node's pod watch (spec.nodeName=) sees its pods come and go, and outlives a window full of other nodes' pods", async () => {
    const s = await fresh({ watchRingEvents: 10 });
    const pod = (name: string, nodeName?: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default' },
      spec: { containers: [{ name: 'c', image: 'i' }], ...(nodeName ? { nodeName } : {}) },
    });
    const from = await s.revision();
    const ac = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const e of s.watch({
        group: '',
        kind: 'Pod',
        fieldSelector: 'spec.nodeName=n1',
        fromRevision: from,
        signal: ac.signal,
      })) {
        seen.push(`${e.type} ${e.object.metadata.name}`);
        if (seen.length === 4) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 50)); // subscribed: the window below is live
    const a = await s.create(pod('a'));
    const bound = await s.update({ ...a, spec: { ...(a.spec as object), nodeName: 'n1' } });
    // Sixty writes for other nodes: far more than the window keeps, none for n1.
    for (let i = 0; i < 60; i++) await s.create(pod(`other-${i}`, 'n2'));
    await s.update({ ...bound, metadata: { ...bound.metadata, labels: { x: '1' } } });
    await s.create(pod('b', 'n1'));
    await s.delete({ group: '', kind: 'Pod', namespace: 'default', name: 'a' });
    await Promise.race([watching, new Promise((_, reject) => setTimeout(() => reject(new Error(seen.join())), 5000))]);
    ac.abort();
    expect(seen).toEqual(['ADDED a', 'MODIFIED a', 'ADDED b', 'DELETED a']);
  });

  it("a kind's watch is not closed when only other kinds' writes left the window while it was busy", async () => {
    const s = await fresh({ watchRingEvents: 10 });
    const secret = (name: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: 'default' },
    });
    const from = await s.revision();
    const ac = new AbortController();
    const seen: string[] = [];
    let release!: () => void;
    const busy = new Promise<void>((r) => (release = r));
    const watching = (async () => {
      for await (const e of s.watch({ group: '', kind: 'Secret', fromRevision: from, signal: ac.signal })) {
        seen.push(`${e.type} ${e.object.metadata.name}`);
        if (seen.length === 2) break;
        await busy; // a slow consumer: the window moves on meanwhile
      }
    })();
    await new Promise((r) => setTimeout(r, 50)); // subscribed: the window below is live
    await s.create(secret('a'));
    // Sixty ConfigMaps while it is busy: far more than the window keeps, none a Secret.
    for (let i = 0; i < 60; i++) await s.create(cm(`other-${i}`));
    await s.create(secret('b'));
    release();
    await Promise.race([watching, new Promise((_, reject) => setTimeout(() => reject(new Error(seen.join())), 5000))]);
    ac.abort();
    expect(seen).toEqual(['ADDED a', 'ADDED b']);
  });

  it('leases: acquire, renew, refuse another holder, take over after expiry, release — outside the object log', async () => {
    const s = await fresh();
    const rev = await s.revision();
    const ac = new AbortController();
    const objectEvents: WatchEvent[] = [];
    const watching = (async () => {
      for await (const e of s.watch({ fromRevision: rev, signal: ac.signal })) objectEvents.push(e);
    })().catch(() => {});
    const t0 = 1_000_000;
    const a = await s.leases.acquire('node-1', 'agent-a', 10_000, t0);
    expect(a).toMatchObject({ holder: 'agent-a', renewTime: t0, acquireTime: t0 });
    const renewed = await s.leases.acquire('node-1', 'agent-a', 10_000, t0 + 2000);
    expect(renewed).toMatchObject({ renewTime: t0 + 2000, acquireTime: t0 });
    await expect(s.leases.acquire('node-1', 'agent-b', 10_000, t0 + 5000)).rejects.toMatchObject({ code: 'Conflict' });
    const taken = await s.leases.acquire('node-1', 'agent-b', 10_000, t0 + 12_001);
    expect(taken).toMatchObject({ holder: 'agent-b', acquireTime: t0 + 12_001 });
    for (let i = 0; i < 20; i++) await s.leases.acquire('node-1', 'agent-b', 10_000, t0 + 13_000 + i);
    expect((await s.leases.list()).map((l) => l.name)).toEqual(['node-1']);
    await s.leases.release('node-1', 'agent-a'); // not the holder: no effect
    expect(await s.leases.get('node-1')).toBeDefined();
    await s.leases.release('node-1', 'agent-b');
    expect(await s.leases.get('node-1')).toBeUndefined();
    // Renewals never reach the object log. SQLite and memory keep them out of the revision
    // counter too; on etcd each renewal is a put (as Kubernetes' node leases are), compacted away.
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    await watching;
    expect(objectEvents).toEqual([]);
    if (driver.name !== 'etcd') expect(await s.revision()).toBe(rev);
  });
});
