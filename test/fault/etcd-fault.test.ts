/**
 * etcd fault test: a 3-member cluster on loopback; one member is killed during a burst of writes.
 * The store keeps serving, no acknowledged write is lost, and the watch resumes after reconnecting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBerthError } from '../../src/api/errors.js';
import { openStore, type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import { startEtcd, waitMemberHealthy, type EtcdCluster } from '../helpers/etcd.js';

const cm = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { name },
});

describe('etcd store under a member failure', () => {
  let cluster: EtcdCluster;
  let store: RevisionedStore;
  beforeAll(async () => {
    cluster = await startEtcd(3);
    store = await openStore(cluster.url('fault'));
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await cluster?.stop();
  }, 30_000);

  it('keeps serving, loses no acknowledged write, and the watch resumes', async () => {
    const from = await store.revision();
    const ac = new AbortController();
    const watched: string[] = [];
    const watching = (async () => {
      for await (const e of store.watch({ fromRevision: from, kind: 'ConfigMap', group: '', signal: ac.signal }))
        watched.push(`${e.type} ${e.object.metadata.name}`);
    })();

    const acked = new Set<string>();
    let unavailable = 0;
    const create = async (name: string): Promise<void> => {
      for (let attempt = 0; attempt < 40; attempt++) {
        try {
          await store.create(cm(name));
          acked.add(name);
          return;
        } catch (e) {
          if (isBerthError(e, 'AlreadyExists') && attempt > 0) {
            // An earlier attempt reached etcd before its reply was lost: confirm it is ours.
            const got = await store.get({ group: '', kind: 'ConfigMap', namespace: 'default', name });
            expect((got as any).data).toEqual({ name });
            acked.add(name);
            return;
          }
          if (!isBerthError(e, 'Unavailable')) throw e;
          unavailable++;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      throw new Error(`could not write ${name}`);
    };

    // Each member in turn is killed mid-burst and brought back before the next is killed, so
    // whichever member carries the watch and the calls is lost once; quorum holds throughout.
    const writers = 4;
    const perWriter = 120;
    let kills = 0;
    const chaos = (async () => {
      for (const member of cluster.members) {
        while (acked.size < (writers * perWriter * (kills + 1)) / 5) await new Promise((r) => setTimeout(r, 20));
        member.kill();
        kills++;
        await new Promise((r) => setTimeout(r, 1500));
        await member.start();
        await waitMemberHealthy(member);
      }
    })();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) {
          await create(`obj-${w}-${i}`);
          await new Promise((r) => setTimeout(r, 15));
        }
      }),
    );
    await chaos;
    expect(kills).toBe(3);
    expect(acked.size).toBe(writers * perWriter);

    // Every acknowledged write is in the store, read from the surviving members.
    const listed = await store.list({ group: '', kind: 'ConfigMap' });
    const names = new Set(listed.items.map((o) => o.metadata.name));
    for (const name of acked) expect(names.has(name)).toBe(true);

    // The watch saw each creation exactly once, across the reconnect.
    const deadline = Date.now() + 20_000;
    while (watched.length < acked.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await watching.catch(() => {});
    expect(watched.filter((w) => w.startsWith('ADDED')).length).toBe(acked.size);
    expect(new Set(watched).size).toBe(watched.length);
    console.log(`etcd fault: ${acked.size} writes acknowledged, ${unavailable} unavailable replies retried`);
  }, 120_000);
});
