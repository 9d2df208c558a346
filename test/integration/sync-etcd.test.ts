/**
 * A commit larger than one etcd transaction (etcd's --max-txn-ops, 128 by default, and
 * --max-request-bytes): the store refuses an oversized transaction before sending it, and the sync
 * applies such a commit in parts, in order, saying plainly that it was not atomic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSource } from '../../src/source/index.js';
import { openStore, type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import { reconcileApplication, type ApplicationObject } from '../../src/sync/index.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { TestRepo } from '../helpers/git.js';

const cm = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;
const configMap = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { value: name },
});

describe('commits larger than one etcd transaction', () => {
  let etcd: EtcdCluster;
  let dir: string;
  let repo: TestRepo;
  let n = 0;
  beforeAll(async () => {
    etcd = await startEtcd(1, { maxTxnOps: 128 });
    dir = mkdtempSync(path.join(tmpdir(), 'berth-sync-etcd-'));
    repo = new TestRepo();
  }, 60_000);
  afterAll(async () => {
    await etcd?.stop();
    repo?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const open = (query = ''): Promise<RevisionedStore> => openStore(`${etcd.url(`big-${++n}`)}${query}`);

  it("Berth's default is etcd's own: 129 operations in one Txn are refused by the server", async () => {
    const client = new Etcd3({ hosts: `http://${etcd.hosts}` });
    try {
      const puts = Array.from({ length: 129 }, (_, i) => ({
        request_put: { key: Buffer.from(`/raw/${i}`), value: Buffer.from('x') },
      }));
      await expect(client.kv.txn({ compare: [], success: puts })).rejects.toThrow(/too many operations in txn request/);
      await client.kv.txn({ compare: [], success: puts.slice(0, 128) });
    } finally {
      client.close();
    }
  });

  it('the store refuses an oversized transaction before sending it, and nothing changes', async () => {
    const store = await open();
    try {
      expect(store.txnLimits.maxOps).toBe(128);
      const before = await store.revision();
      const ops = Array.from({ length: 129 }, (_, i) => ({ op: 'create' as const, object: configMap(`c${i}`) }));
      await expect(store.txn(ops)).rejects.toMatchObject({
        code: 'RequestEntityTooLarge',
        message: expect.stringMatching(
          /a transaction of 129 operations \(\d+ bytes\) is more than etcd takes in one \(128 operations/,
        ),
      });
      expect(await store.revision()).toBe(before);
      await store.txn(ops.slice(0, 128));
      expect((await store.list({ group: '', kind: 'ConfigMap' })).items).toHaveLength(128);
    } finally {
      await store.close();
    }
  });

  it('a sync of 300 objects is applied in parts and says so; by bytes too', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`app/c${i}.yaml`] = cm(`c${i}`, 'x'.repeat(400));
    repo.write(files);
    const commit = repo.commit('300 objects');
    // 128 operations a part; then by bytes: 300 objects of about 700 bytes in 45,000-byte parts.
    for (const [query, parts] of [
      ['', '3'],
      ['?max-txn-ops=1000&max-request-bytes=50000', '[5-6]'],
    ] as const) {
      const store = await open(query);
      try {
        const app = await store.create<ApplicationObject>({
          apiVersion: 'berth.dev/v1',
          kind: 'Application',
          metadata: { name: 'big', namespace: 'default', generation: 1 },
          spec: { source: { repoURL: repo.bare, path: 'app' }, syncPolicy: { automated: { prune: true } } },
        });
        expect(await reconcileApplication({ store, source: new GitSource({ dataDir: dir }) }, app)).toMatchObject({
          result: 'synced',
          revision: commit,
          written: 300,
        });
        expect((await store.list({ group: '', kind: 'ConfigMap' })).items).toHaveLength(300);
        const status = (
          await store.get<ApplicationObject>({
            group: 'berth.dev',
            kind: 'Application',
            namespace: 'default',
            name: 'big',
          })
        ).status!;
        expect(status.sync).toMatchObject({ status: 'Synced', revision: commit });
        expect(status.operationState).toMatchObject({ phase: 'Succeeded' });
        expect(status.operationState!.message).toMatch(
          new RegExp(`^applied 300 changes in ${parts} transactions, not atomically: the store takes at most`),
        );
      } finally {
        await store.close();
      }
    }
  });
});
