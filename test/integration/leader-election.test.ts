/**
 * Leader election and fencing on a real etcd: two servers' stores on one etcd, one elected at a
 * time; a leader's writes carry its fence, so once its term is over (resigned, or its lease gone)
 * its writes are refused with NotLeader while the new leader's apply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBerthError } from '../../src/api/errors.js';
import { openStore, type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';

const configMap = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { value: name },
});

describe('leader election on etcd', () => {
  let etcd: EtcdCluster;
  const stores: RevisionedStore[] = [];
  beforeAll(async () => {
    etcd = await startEtcd(1);
  }, 60_000);
  afterAll(async () => {
    for (const s of stores) await s.close();
    await etcd?.stop();
  });
  const open = async (prefix: string) => {
    const s = await openStore(etcd.url(prefix));
    stores.push(s);
    return s;
  };

  it('one leader at a time; a deposed leader’s fenced writes are refused, the new one’s apply', async () => {
    const [a, b] = [await open('fence'), await open('fence')];
    const electionA = a.leaderElection('server-a', 2)!;
    const electionB = b.leaderElection('server-b', 2)!;
    const never = new AbortController();
    const termA = await electionA.campaign(never.signal);
    expect(await electionB.leader()).toBe('server-a');
    // b campaigns, and waits while a leads.
    let bElected = false;
    const termB = electionB.campaign(never.signal).then((t) => ((bElected = true), t));
    await new Promise((r) => setTimeout(r, 500));
    expect(bElected).toBe(false);
    const asA = a.withFence(termA.fence);
    await asA.create(configMap('by-a'));
    await electionA.resign();
    const b2 = await termB;
    expect(await electionA.leader()).toBe('server-b');
    // a has not looked at its term: its write is refused all the same, and changes nothing.
    const refused = await asA.create(configMap('late-a')).catch((e: unknown) => e);
    expect(isBerthError(refused, 'NotLeader'), String(refused)).toBe(true);
    await expect(a.get({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'late-a' })).rejects.toThrow(
      /not found/,
    );
    // Unfenced writes (the API's) go on as before on either server; b's fenced ones apply.
    await a.create(configMap('api-write'));
    await b.withFence(b2.fence).create(configMap('by-b'));
    expect(b2.lost.aborted).toBe(false);
    await electionB.resign();
  });

  it('a term ends (lost aborts) once its key is gone: the lease expired under it', async () => {
    const s = await open('expiry');
    const election = s.leaderElection('server-x', 2)!;
    const term = await election.campaign(new AbortController().signal);
    expect(term.lost.aborted).toBe(false);
    // What etcd does when the lease expires: the key goes (here, deleted behind the leader's back).
    const { Etcd3 } = await import('etcd3');
    const raw = new Etcd3({ hosts: `http://${etcd.hosts}` });
    try {
      await raw.delete().key(term.fence.key);
    } finally {
      raw.close();
    }
    await new Promise<void>((resolve) => term.lost.addEventListener('abort', () => resolve(), { once: true }));
    expect(String(term.lost.reason)).toMatch(/no longer|gone|lost/);
    const refused = await s
      .withFence(term.fence)
      .create(configMap('after-expiry'))
      .catch((e: unknown) => e);
    expect(isBerthError(refused, 'NotLeader')).toBe(true);
    await election.resign();
  });

  it('a SQLite store has no election: one server owns it', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-election-'));
    try {
      const s = await openStore(`sqlite:${path.join(dir, 'state.db')}`);
      expect(s.leaderElection('x', 2)).toBeUndefined();
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
