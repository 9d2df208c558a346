/**
 * The live view an Application's reconciles share: after any mix of outside changes it holds
 * exactly what a fresh list would, whether it caught up from the change stream or had to list
 * again (history compacted away).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { INSTANCE_LABEL } from '../../src/diff/index.js';
import { openStore, type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import { LiveView } from '../../src/sync/live.js';

const cm = (name: string, app?: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default', ...(app ? { labels: { [INSTANCE_LABEL]: app } } : {}) },
  data: { v: '1' },
});
const names = (objects: KubeObject[]) => objects.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort();

describe('live view', () => {
  let dir: string;
  let store: RevisionedStore;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-live-'));
    store = await openStore(`sqlite:${path.join(dir, 'state.db')}`, { watchRingEvents: 50 });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const fresh = async () =>
    (await store.list({ group: '', kind: 'ConfigMap', labelSelector: `${INSTANCE_LABEL}=shop` })).items;
  /** How many lists the view made while reading (0: it caught up from the change stream). */
  const listsDuring = async (read: () => Promise<unknown>): Promise<number> => {
    const spy = vi.spyOn(store, 'list');
    try {
      await read();
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  };

  async function outsideChanges(round: number): Promise<void> {
    await store.create(cm(`new-${round}`, 'shop'));
    const a = await store.get({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'a' });
    await store.update({ ...a, data: { v: String(round) } });
    const b = await store.get({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'b' }).catch(() => undefined);
    // b leaves the app by losing its label; c is deleted; another app's object changes too.
    if (b) await store.update({ ...b, metadata: { ...b.metadata, labels: {} } });
    await store.delete({ group: '', kind: 'ConfigMap', namespace: 'default', name: `c` }).catch(() => undefined);
    await store.create(cm(`other-${round}`, 'other'));
  }

  it('catches up from the change stream to exactly what a list shows', async () => {
    for (const n of ['a', 'b', 'c']) await store.create(cm(n, 'shop'));
    const view = new LiveView('shop');
    expect(names(await view.read(store, []))).toEqual(names(await fresh()));
    for (let round = 1; round <= 3; round++) {
      await outsideChanges(round);
      expect(await listsDuring(() => view.read(store, []))).toBe(0);
      expect(names(await view.read(store, []))).toEqual(names(await fresh()));
    }
  });

  it('follows an object at a desired key that it does not manage yet', async () => {
    await store.create(cm('adopt-me'));
    const view = new LiveView('shop');
    expect(names(await view.read(store, [cm('adopt-me')]))).toEqual(['adopt-me@1']);
    const o = await store.get({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'adopt-me' });
    const changed = await store.update({ ...o, data: { v: 'x' } });
    expect(names(await view.read(store, [cm('adopt-me')]))).toEqual([`adopt-me@${changed.metadata.resourceVersion}`]);
  });

  it('lists again when the history it would replay is compacted away', async () => {
    for (const n of ['a', 'b', 'c']) await store.create(cm(n, 'shop'));
    const view = new LiveView('shop');
    await view.read(store, []);
    for (let i = 0; i < 60; i++) await store.create(cm(`filler-${i}`, 'other'));
    await outsideChanges(1);
    await store.compact({ keep: 1 });
    expect(await listsDuring(() => view.read(store, []))).toBeGreaterThan(0);
    expect(names(await view.read(store, []))).toEqual(names(await fresh()));
  });
});
