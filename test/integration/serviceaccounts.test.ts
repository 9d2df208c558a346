/** Every namespace has a `default` ServiceAccount (the service account controller), as in Kubernetes. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RevisionedStore } from '../../src/store/index.js';
import { startHarness } from '../helpers/controllers.js';
import { closeTempStore, openTempStore, type TempStore } from '../helpers/store.js';

const SA = { group: '', kind: 'ServiceAccount' };

describe('service accounts', () => {
  let temp: TempStore;
  let store: RevisionedStore;
  beforeEach(async () => {
    temp = await openTempStore('berth-sa-');
    ({ store } = temp);
  });
  afterEach(() => closeTempStore(temp));

  it('a new namespace gets its default ServiceAccount, and gets it back when it is deleted', async () => {
    const h = startHarness(store);
    try {
      await h.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
      await h.until('default ServiceAccount', async () =>
        (await h.list(SA, 'team')).some((s) => s.metadata.name === 'default'),
      );
      await store.delete({ ...SA, namespace: 'team', name: 'default' });
      await h.until('recreated', async () => (await h.list(SA, 'team')).some((s) => s.metadata.name === 'default'));
      const pod = await h.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', namespace: 'team' },
        spec: { serviceAccountName: 'default', containers: [{ name: 'c', image: 'busybox' }] },
      });
      expect((pod.spec as { serviceAccountName?: string }).serviceAccountName).toBe('default');
    } finally {
      await h.stop();
    }
  });
});
