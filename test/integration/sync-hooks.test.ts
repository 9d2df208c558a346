/**
 * Resource hooks and Argo CD's sync-wave annotation, in the shape of argocd-example-apps'
 * sync-waves and hooks apps: a PreSync Job named by generateName runs (and is deleted when it
 * succeeds) before any object is written, the waves follow in order, a PostSync Job runs once
 * everything is healthy, Skip objects are never written, and a failed hook fails the operation
 * and starts the SyncFail hooks. Job and Deployment completion is written by the test, as the
 * controllers would.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject, RevisionedStore } from '../../src/store/index.js';
import { loadFile } from '../../src/manifest/index.js';
import { TestRepo } from '../helpers/git.js';
import {
  closeSyncFixture,
  createApplication,
  getApplication,
  openSyncFixture,
  reconcileByName,
  type SyncFixture,
} from '../helpers/sync.js';

const job = (meta: string, annotations: Record<string, string>) => `apiVersion: batch/v1
kind: Job
metadata:
  ${meta}
  annotations:
${Object.entries(annotations)
  .map(([k, v]) => `    ${k}: ${v}`)
  .join('\n')}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: main, image: busybox, command: [/bin/true]}
`;

const MANIFESTS = {
  'app/upgrade-sql-schema.yaml': job('generateName: upgrade-sql-schema-', {
    'argocd.argoproj.io/hook': 'PreSync',
    'argocd.argoproj.io/hook-delete-policy': 'HookSucceeded',
  }),
  'app/config.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  annotations:\n    argocd.argoproj.io/sync-wave: "-1"\ndata:\n  mode: fast\n',
  'app/backend.yaml':
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: backend\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: backend}}\n  template:\n    metadata: {labels: {app: backend}}\n    spec:\n      containers: [{name: main, image: busybox}]\n',
  'app/frontend.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: frontend\n  annotations:\n    argocd.argoproj.io/sync-wave: "1"\ndata: {}\n',
  'app/notify.yaml': job('name: slack-notification', { 'argocd.argoproj.io/hook': 'PostSync' }),
  'app/on-failure.yaml': job('generateName: cleanup-', { 'argocd.argoproj.io/hook': 'SyncFail' }),
  'app/skipped.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: skipped\n  annotations:\n    argocd.argoproj.io/hook: Skip\ndata: {}\n',
};

describe('sync hooks and Argo CD sync waves', () => {
  let fixture: SyncFixture;
  let repo: TestRepo;
  let store: RevisionedStore;
  beforeEach(async () => {
    fixture = await openSyncFixture('berth-hooks-');
    ({ repo, store } = fixture);
  });
  afterEach(() => closeSyncFixture(fixture));

  const reconcile = (options = {}) => reconcileByName(fixture, 'hooks', 'default', options);
  const jobs = async () => (await store.list({ group: 'batch', kind: 'Job' })).items.map((j) => j.metadata.name).sort();
  const configMaps = async () =>
    (await store.list({ group: '', kind: 'ConfigMap' })).items.map((c) => c.metadata.name).sort();
  const operation = async () => (await getApplication(store, 'hooks')).status!.operationState!;
  const finishJob = async (name: string, type: 'Complete' | 'Failed') => {
    const j = await store.get<KubeObject>({ group: 'batch', kind: 'Job', namespace: 'default', name });
    await store.update({
      ...j,
      status: {
        conditions: [
          {
            type,
            status: 'True',
            ...(type === 'Failed'
              ? { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }
              : {}),
          },
        ],
      },
    });
  };
  const backendHealthy = async () => {
    const d = await store.get<any>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'backend' });
    await store.update({
      ...d,
      status: { observedGeneration: d.metadata.generation, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
    });
  };

  it('PreSync before anything, waves in order, PostSync once healthy; delete policies; Skip never written', async () => {
    repo.write(MANIFESTS);
    repo.commit('hooks and waves');
    await createApplication(fixture, 'hooks');

    // PreSync first: nothing else is written while it runs.
    expect(await reconcile()).toMatchObject({ result: 'out-of-sync', written: 0, running: true });
    const [pre] = await jobs();
    expect(pre).toMatch(/^upgrade-sql-schema-[a-z0-9]{5}$/);
    expect(await configMaps()).toEqual([]);
    expect(await operation()).toMatchObject({
      phase: 'Running',
      message: `applied 0 changes; 0/1 hooks done; waiting for PreSync hooks: Job/${pre}`,
    });
    expect(await reconcile()).toMatchObject({ written: 0, running: true });

    // PreSync done: deleted (HookSucceeded); wave -1 (the ConfigMap), then wave 0, which waits for health.
    await finishJob(pre!, 'Complete');
    expect(await reconcile()).toMatchObject({ result: 'out-of-sync', written: 2, running: true });
    expect(await jobs()).toEqual([]);
    expect(await configMaps()).toEqual(['settings']);
    await backendHealthy();
    // Wave 1, then the PostSync hook once everything is healthy.
    expect(await reconcile()).toMatchObject({ written: 1, running: true });
    expect(await configMaps()).toEqual(['frontend', 'settings']);
    expect(await jobs()).toEqual(['slack-notification']);
    await finishJob('slack-notification', 'Complete');
    expect(await reconcile()).toMatchObject({ written: 0 });
    const done = await operation();
    expect(done.phase).toBe('Succeeded');
    expect(done.hooks!.map((h) => [h.phase, h.kind, h.state, h.deleted ?? false])).toEqual([
      ['PreSync', 'Job', 'Succeeded', true],
      ['PostSync', 'Job', 'Succeeded', false],
    ]);
    const status = (await getApplication(store, 'hooks')).status!;
    expect(status.sync).toMatchObject({ status: 'Synced' });
    // Hooks are not desired state: the resources list and the next reconcile leave them alone.
    expect(status.resources!.map((r) => r.name).sort()).toEqual(['backend', 'frontend', 'settings']);
    expect(await reconcile()).toMatchObject({ result: 'unchanged', written: 0 });
    expect(await jobs()).toEqual(['slack-notification']);
    expect(await configMaps()).not.toContain('skipped');

    // A manual sync runs the hooks again: a new generated PreSync name, the PostSync one replaced (BeforeHookCreation).
    const before = await store.get({ group: 'batch', kind: 'Job', namespace: 'default', name: 'slack-notification' });
    await reconcile({ manual: true });
    const [again] = (await jobs()).filter((j) => j.startsWith('upgrade-sql-schema-'));
    expect(again).toBeTruthy();
    await finishJob(again!, 'Complete');
    await reconcile();
    const after = await store.get({ group: 'batch', kind: 'Job', namespace: 'default', name: 'slack-notification' });
    expect(after.metadata.uid).not.toBe(before.metadata.uid);
  });

  it('a failed PreSync hook fails the operation, writes nothing else, and starts the SyncFail hooks', async () => {
    repo.write(MANIFESTS);
    repo.commit('hooks');
    await createApplication(fixture, 'hooks');
    await reconcile();
    const [pre] = await jobs();
    await finishJob(pre!, 'Failed');
    expect(await reconcile()).toMatchObject({ result: 'out-of-sync', written: 0 });
    expect(await operation()).toMatchObject({
      phase: 'Failed',
      message: `PreSync hook Job/${pre} failed: Job has reached the specified backoff limit`,
    });
    expect(await configMaps()).toEqual([]);
    expect((await jobs()).filter((j) => j.startsWith('cleanup-'))).toHaveLength(1);
    // Not retried by itself: the next poll leaves the failed operation as it is.
    expect(await reconcile()).toMatchObject({ written: 0 });
    expect((await jobs()).filter((j) => j.startsWith('cleanup-'))).toHaveLength(1);
  });

  it('generateName is for hooks only; hook annotations are checked', () => {
    const plain = loadFile({
      path: 'a.yaml',
      bytes: Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n'),
    });
    expect(plain.diagnostics.map((d) => d.message)).toEqual([
      'missing metadata.name (generateName is only for hooks, annotated argocd.argoproj.io/hook: a declarative sync needs a stable name to track the object)',
    ]);
    const typo = loadFile({
      path: 'b.yaml',
      bytes: Buffer.from(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    argocd.argoproj.io/hook: PreSynch\n',
      ),
    });
    expect(typo.diagnostics.map((d) => `${d.reason} ${d.message}`)).toEqual([
      'InvalidValue unknown hook phase "PreSynch": one or more of PreSync, Sync, PostSync, SyncFail, Skip',
    ]);
  });
});
