/**
 * What the sync engine's tests share: a SQLite store, a Git cache and a test repository in one
 * temp directory, and Applications made, read and reconciled by name.
 */
import { GitSource } from '../../src/source/index.js';
import type { RevisionedStore } from '../../src/store/index.js';
import { reconcileApplication, type AppMemo, type ApplicationObject } from '../../src/sync/index.js';
import { TestRepo } from './git.js';
import { closeTempStore, openTempStore, type TempStore } from './store.js';

export interface SyncFixture extends TempStore {
  repo: TestRepo;
  source: GitSource;
  /** As the controller keeps it: what one reconcile leaves for the next (live view, comparison cache). */
  memo: Map<string, AppMemo>;
}

export async function openSyncFixture(tempPrefix: string): Promise<SyncFixture> {
  const temp = await openTempStore(tempPrefix);
  return { ...temp, repo: new TestRepo(), source: new GitSource({ dataDir: temp.dir }), memo: new Map() };
}

export async function closeSyncFixture(f: SyncFixture): Promise<void> {
  f.repo.remove();
  await closeTempStore(f);
}

export const getApplication = (store: RevisionedStore, name: string, namespace = 'default') =>
  store.get<ApplicationObject>({ group: 'berth.dev', kind: 'Application', namespace, name });

/** An Application on the fixture's repository (path app/), automated with prune and self-heal unless `spec` says otherwise. */
export const createApplication = (
  f: SyncFixture,
  name: string,
  spec: Partial<ApplicationObject['spec']> = {},
  namespace = 'default',
) =>
  f.store.create<ApplicationObject>({
    apiVersion: 'berth.dev/v1',
    kind: 'Application',
    metadata: { name, namespace, generation: 1 },
    spec: {
      source: { repoURL: f.repo.bare, path: 'app' },
      syncPolicy: { automated: { prune: true, selfHeal: true } },
      ...spec,
    },
  });

export async function reconcileByName(
  f: Pick<SyncFixture, 'store' | 'source' | 'memo'>,
  name: string,
  namespace = 'default',
  options: Parameters<typeof reconcileApplication>[2] = {},
) {
  return reconcileApplication(
    { store: f.store, source: f.source, memo: f.memo },
    await getApplication(f.store, name, namespace),
    options,
  );
}
