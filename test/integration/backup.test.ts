/**
 * Backups of a SQLite store taken while it is written to, and restored: every object of the
 * backup's revision comes back, and a watcher that saw the later state is told its revision is
 * gone (Compacted), so it lists again. And an etcd snapshot through the maintenance API.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isBerthError } from '../../src/api/errors.js';
import { copyStore, openStore, restoreBackup, type KubeObject } from '../../src/store/index.js';
import { startEtcd } from '../helpers/etcd.js';

const configMap = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { value: name },
});
const CM = { group: '', kind: 'ConfigMap' };

describe('backup and restore', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-backup-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a SQLite backup taken during writes restores to a consistent store; watchers of the later state re-list', async () => {
    const file = path.join(dir, 'state.db');
    const store = await openStore(`sqlite:${file}`);
    for (let i = 0; i < 200; i++) await store.create(configMap(`before-${i}`));
    // Writes go on while the backup is taken.
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) await store.create(configMap(`during-${written++}`));
    })();
    const backupFile = path.join(dir, 'backup.db');
    const { revision } = await store.backup(backupFile);
    writing = false;
    await writer;
    for (let i = 0; i < 50; i++) await store.create(configMap(`after-${i}`));
    const replacedRevision = await store.revision();
    await store.close();
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);

    const restored = await restoreBackup(backupFile, file);
    expect(restored.revision).toBe(replacedRevision + 1);
    expect(restored.keptAs && existsSync(restored.keptAs)).toBeTruthy();
    const back = await openStore(`sqlite:${file}`);
    try {
      const { items, revision: listed } = await back.list(CM);
      // Exactly what was there at the backup's revision: every object written at or before it, none after.
      const names = new Set(items.map((o) => o.metadata.name));
      expect(items.every((o) => Number(o.metadata.resourceVersion) <= revision)).toBe(true);
      expect(items.length).toBe(revision - 0);
      for (let i = 0; i < 200; i++) expect(names.has(`before-${i}`)).toBe(true);
      expect([...names].some((n) => n.startsWith('after-'))).toBe(false);
      expect(listed).toBe(restored.revision);
      // A watcher that was at the replaced store's revision is told to list again.
      const watch = back.watch({ ...CM, fromRevision: replacedRevision });
      const failure = await (async () => {
        try {
          for await (const _ of watch) return 'an event';
        } catch (e) {
          return e;
        }
      })();
      expect(isBerthError(failure, 'Compacted'), String(failure)).toBe(true);
      // And the restored store takes writes after its new revision.
      const made = await back.create(configMap('after-restore'));
      expect(Number(made.metadata.resourceVersion)).toBe(restored.revision + 1);
    } finally {
      await back.close();
    }
  });

  it('a file that is not a Berth store is refused, and nothing is replaced', async () => {
    const file = path.join(dir, 'kept.db');
    const store = await openStore(`sqlite:${file}`);
    await store.create(configMap('kept'));
    await store.close();
    const bogus = path.join(dir, 'bogus.db');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(bogus, 'not a database at all, not even close'.repeat(200));
    await expect(restoreBackup(bogus, file)).rejects.toThrow(/damaged|not a Berth store/);
    const again = await openStore(`sqlite:${file}`);
    expect((await again.list(CM)).items.map((o) => o.metadata.name)).toEqual(['kept']);
    await again.close();
  });

  it('migrate copies 10,000 objects from SQLite into an empty etcd prefix, each as it was; a non-empty target is refused', async () => {
    const etcd = await startEtcd(1);
    try {
      const source = await openStore(`sqlite:${path.join(dir, 'big.db')}`);
      const objects = Array.from({ length: 10_000 }, (_, i) => configMap(`obj-${i}`));
      for (let i = 0; i < objects.length; i += 1000)
        await source.txn(
          objects.slice(i, i + 1000).map((object) => ({
            op: 'create' as const,
            object: { ...object, metadata: { ...object.metadata, uid: `uid-${object.metadata.name}` } },
          })),
        );
      const target = await openStore(etcd.url('migrated'));
      const result = await copyStore(source, target);
      expect(result).toEqual({ objects: 10_000, kinds: 1 });
      const { items } = await target.list(CM);
      expect(items).toHaveLength(10_000);
      const one = items.find((o) => o.metadata.name === 'obj-1234')!;
      expect({ uid: one.metadata.uid, data: (one as KubeObject & { data: unknown }).data }).toEqual({
        uid: 'uid-obj-1234',
        data: { value: 'obj-1234' },
      });
      // The copy is the target's now: it takes writes, at its own revisions.
      await target.create(configMap('after-migrate'));
      await expect(copyStore(source, target)).rejects.toThrow(/already holds objects/);
      await source.close();
      await target.close();
    } finally {
      await etcd.stop();
    }
  }, 120_000);

  it('an etcd store is backed up as an etcd snapshot', async () => {
    const etcd = await startEtcd(1);
    try {
      const store = await openStore(etcd.url('snap'));
      for (let i = 0; i < 20; i++) await store.create(configMap(`e-${i}`));
      const file = path.join(dir, 'etcd.snapshot');
      const { revision } = await store.backup(file);
      expect(revision).toBe(await store.revision());
      // etcd's snapshot format: a bbolt database file, the size of at least a few pages.
      expect(statSync(file).size).toBeGreaterThan(16_384);
      await store.close();
    } finally {
      await etcd.stop();
    }
  });
});
