/**
 * DELETE ?propagationPolicy=Orphan with the garbage collector running (kubectl issue, item 7):
 * the ReplicaSet goes, its pods stay, freed of their ownerReference — the collector never gets
 * to see them owned by an owner that is gone (they were freed first, as Kubernetes' orphan
 * finalizer does).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/server/registry.js';
import { route, type ResourceRequest } from '../../src/server/routes.js';
import { type RevisionedStore } from '../../src/store/index.js';
import { POD, startHarness } from '../helpers/controllers.js';
import { closeTempStore, openTempStore, type TempStore } from '../helpers/store.js';

describe('orphaning delete', () => {
  let temp: TempStore;
  let store: RevisionedStore;
  beforeEach(async () => {
    temp = await openTempStore('berth-orphan-');
    ({ store } = temp);
  });
  afterEach(() => closeTempStore(temp));

  it("keeps a deleted ReplicaSet's pods, three times out of three", async () => {
    const h = startHarness(store);
    try {
      for (let round = 0; round < 3; round++) {
        const name = `web-${round}`;
        await h.create({
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          metadata: { name, namespace: 'default' },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: name } },
            template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
          },
        });
        const pods = () => h.list(POD, 'default').then((ps) => ps.filter((p) => p.metadata.labels?.app === name));
        await h.until('two pods', async () => (await pods()).length === 2);
        const q = new URLSearchParams({ propagationPolicy: 'Orphan' });
        await new Registry(store).delete(
          route('DELETE', `/apis/apps/v1/namespaces/default/replicasets/${name}`, q) as ResourceRequest,
          undefined,
          q,
        );
        await h.settled();
        await h.resync();
        const left = await pods();
        expect(left.length).toBe(2);
        for (const p of left) expect(p.metadata.ownerReferences ?? []).toEqual([]);
      }
    } finally {
      await h.stop();
    }
  });

  it('a Foreground delete takes the pods with the ReplicaSet and makes no replacement on the way', async () => {
    const h = startHarness(store);
    try {
      await h.create({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: 'fg', namespace: 'default' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'fg' } },
          template: { metadata: { labels: { app: 'fg' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
        },
      });
      const pods = () => h.list(POD, 'default').then((ps) => ps.filter((p) => p.metadata.labels?.app === 'fg'));
      await h.until('two pods', async () => (await pods()).length === 2);
      const seen = new Set((await pods()).map((p) => p.metadata.name));
      const q = new URLSearchParams({ propagationPolicy: 'Foreground' });
      await new Registry(store).delete(
        route('DELETE', '/apis/apps/v1/namespaces/default/replicasets/fg', q) as ResourceRequest,
        undefined,
        q,
      );
      await h.settled();
      // Every pod this ReplicaSet ever created is one of the two from before the delete.
      const made = (await store.list({ group: '', kind: 'Event', namespace: 'default' })).items
        .map((e) => /^Created pod: (fg-\S+)$/.exec((e as { message?: string }).message ?? '')?.[1])
        .filter((n): n is string => Boolean(n));
      expect((await pods()).length).toBe(0);
      expect(made.filter((n) => !seen.has(n))).toEqual([]);
    } finally {
      await h.stop();
    }
  });
});
