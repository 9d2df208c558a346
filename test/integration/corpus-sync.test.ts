/**
 * A real app's release manifest through the whole sync path: microservices-demo's
 * kubernetes-manifests.yaml (12 Deployments, 12 Services, 11 ServiceAccounts), read from
 * ../shared/corpus at test time, committed to a temporary repository and synced.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CORPUS } from '../shared.js';
import {
  closeSyncFixture,
  createApplication,
  getApplication,
  openSyncFixture,
  reconcileByName,
  type SyncFixture,
} from '../helpers/sync.js';

describe('syncing a public app', () => {
  let fixture: SyncFixture;
  beforeEach(async () => {
    fixture = await openSyncFixture('berth-corpus-sync-');
  });
  afterEach(() => closeSyncFixture(fixture));

  it("microservices-demo's release manifest validates and syncs whole", async () => {
    fixture.repo.write({
      'app/kubernetes-manifests.yaml': readFileSync(
        path.join(CORPUS, 'microservices-demo/release/kubernetes-manifests.yaml'),
        'utf8',
      ),
    });
    const commit = fixture.repo.commit('microservices-demo release');
    await createApplication(fixture, 'shop');
    expect(await reconcileByName(fixture, 'shop')).toMatchObject({ result: 'synced', written: 35 });
    const status = (await getApplication(fixture.store, 'shop')).status!;
    expect(status.sync).toEqual({ status: 'Synced', revision: commit });
    const count = async (group: string, kind: string) =>
      (await fixture.store.list({ group, kind, namespace: 'default' })).items.filter(
        (o) => o.metadata.name !== 'default',
      ).length;
    expect([await count('apps', 'Deployment'), await count('', 'Service'), await count('', 'ServiceAccount')]).toEqual([
      12, 12, 11,
    ]);
  });
});
