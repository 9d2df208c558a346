/**
 * The sync engine end to end on real parts: repositories made with the git CLI, the Git source,
 * a SQLite store. Push → created; change → updated; delete → pruned (or OutOfSync); an invalid
 * commit writes no managed object; revert → the previous state; self-heal; ignoreDifferences.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INSTANCE_LABEL, TRACKING_ANNOTATION } from '../../src/diff/index.js';
import { type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import type { EventInput } from '../../src/runtime/index.js';
import { reconcileApplication, type ApplicationObject } from '../../src/sync/index.js';
import { TestRepo } from '../helpers/git.js';
import {
  closeSyncFixture,
  createApplication,
  getApplication,
  openSyncFixture,
  reconcileByName,
  type SyncFixture,
} from '../helpers/sync.js';
import { startStatusReceiver } from '../helpers/status-receiver.js';

const cm = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;
const deploy = (name: string, image: string, replicas = 2) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  replicas: ${replicas}\n  selector:\n    matchLabels: {app: ${name}}\n  template:\n    metadata:\n      labels: {app: ${name}}\n    spec:\n      containers:\n        - name: main\n          image: ${image}\n`;

describe('sync engine', () => {
  let fixture: SyncFixture;
  let repo: TestRepo;
  let store: RevisionedStore;
  beforeEach(async () => {
    fixture = await openSyncFixture('berth-sync-');
    ({ repo, store } = fixture);
  });
  afterEach(() => closeSyncFixture(fixture));

  const application = (name: string, spec: Partial<ApplicationObject['spec']> = {}) =>
    createApplication(fixture, name, spec);
  const reconcile = (name: string, options = {}) => reconcileByName(fixture, name, 'default', options);
  const configMaps = async () =>
    Object.fromEntries(
      (await store.list({ group: '', kind: 'ConfigMap' })).items.map((o) => [o.metadata.name, (o as any).data.value]),
    );
  const app = (name: string) => getApplication(store, name);
  const managedRevisions = async () => {
    const all: string[] = [];
    for (const kind of ['ConfigMap', 'Deployment']) {
      const group = kind === 'Deployment' ? 'apps' : '';
      all.push(
        ...(await store.list({ group, kind })).items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`),
      );
    }
    return all.sort();
  };

  it('push creates (tracked), a change updates, a deleted file is pruned, a revert restores', async () => {
    repo.write({ 'app/a.yaml': cm('a', '1'), 'app/web.yaml': deploy('web', 'nginx:1.25') });
    const first = repo.commit('first');
    await application('shop');
    expect(await reconcile('shop')).toMatchObject({ result: 'synced', revision: first, written: 2 });
    const a = await store.get({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'a' });
    expect(a.metadata.labels).toEqual({ [INSTANCE_LABEL]: 'shop' });
    expect(a.metadata.annotations).toEqual({ [TRACKING_ANNOTATION]: 'default/shop:/ConfigMap:default/a' });
    expect((await app('shop')).status).toMatchObject({
      sync: { status: 'Synced', revision: first },
      operationState: { phase: 'Succeeded' },
      history: [{ id: 1, revision: first, message: 'first' }],
    });
    expect(await reconcile('shop')).toMatchObject({ result: 'unchanged', written: 0 });

    repo.write({ 'app/a.yaml': cm('a', '2'), 'app/b.yaml': cm('b', '1') });
    const second = repo.commit('change a, add b');
    expect(await reconcile('shop')).toMatchObject({ result: 'synced', revision: second, written: 2 });
    expect(await configMaps()).toEqual({ a: '2', b: '1' });

    repo.run('revert', '--no-edit', 'HEAD');
    repo.run('push', '-q', 'origin', 'HEAD:main');
    expect(await reconcile('shop')).toMatchObject({ result: 'synced', written: 2 });
    expect(await configMaps()).toEqual({ a: '1' }); // b, which the reverted commit added, is pruned

    repo.write({ 'app/web.yaml': null });
    repo.commit('remove web');
    await reconcile('shop');
    expect((await store.list({ group: 'apps', kind: 'Deployment' })).items).toEqual([]);
    expect((await app('shop')).status!.history!.map((h) => h.id)).toEqual([1, 2, 3, 4]);
  });

  it('without prune, a removed file leaves the object and the app OutOfSync', async () => {
    repo.write({ 'app/a.yaml': cm('a', '1'), 'app/b.yaml': cm('b', '1') });
    repo.commit('first');
    await application('shop', { syncPolicy: { automated: { prune: false } } });
    await reconcile('shop');
    repo.write({ 'app/b.yaml': null });
    repo.commit('drop b');
    expect(await reconcile('shop')).toMatchObject({ result: 'out-of-sync' });
    expect(await configMaps()).toEqual({ a: '1', b: '1' });
    const status = (await app('shop')).status!;
    expect(status.sync!.status).toBe('OutOfSync');
    expect(status.conditions!.find((c) => c.type === 'OrphanedResourceWarning')!.message).toMatch(
      /^1 resource requires pruning: \/ConfigMap\/default\/b$/,
    );
  });

  it.each([
    [
      'a YAML syntax error',
      'app/bad.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n',
      /app\/bad\.yaml:\d+:\d+: error/,
    ],
    [
      'a schema error',
      'app/bad.yaml',
      deploy('bad', 'x:1', 'three' as unknown as number),
      /app\/bad\.yaml:6:3: error: spec\.replicas: expected integer/,
    ],
    [
      'a duplicate object',
      'app/dup.yaml',
      cm('a', '9'),
      /app\/dup\.yaml:1:1: error: ConfigMap default\/a is defined twice/,
    ],
    [
      'an unsupported kind',
      'app/snapshot.yaml',
      'apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata:\n  name: x\n',
      /app\/snapshot\.yaml:2:1: error: kind: VolumeSnapshot \(snapshot.storage.k8s.io\/v1\) is not supported/,
    ],
    [
      'a Helm template',
      'app/chart.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n',
      /app\/chart\.yaml:1:1: error: this looks like a Helm\/Go template/,
    ],
  ])(
    '%s writes no managed object, names file:line, and the next valid commit syncs',
    async (_, file, content, message) => {
      repo.write({ 'app/a.yaml': cm('a', '1') });
      repo.commit('good');
      await application('shop');
      await reconcile('shop');
      const before = await managedRevisions();
      repo.write({ 'app/a.yaml': cm('a', '2'), [file]: content });
      const bad = repo.commit('bad');
      expect(await reconcile('shop')).toMatchObject({ result: 'invalid', revision: bad, written: 0 });
      expect(await managedRevisions()).toEqual(before);
      const status = (await app('shop')).status!;
      expect(status.sync).toEqual({ status: 'OutOfSync', revision: bad });
      expect(status.conditions!.find((c) => c.type === 'ComparisonError')!.message).toMatch(message);
      repo.write({ [file]: null });
      repo.commit('fixed');
      expect(await reconcile('shop')).toMatchObject({ result: 'synced' });
      expect(await configMaps()).toEqual({ a: '2' });
      expect((await app('shop')).status!.conditions!.some((c) => c.type === 'ComparisonError')).toBe(false);
    },
  );

  it('self-heal reverts a change made outside Git; without it the app shows OutOfSync', async () => {
    repo.write({ 'app/a.yaml': cm('a', '1') });
    repo.commit('first');
    await application('healing');
    await reconcile('healing');
    const edit = async () => {
      const live = await store.get<KubeObject>({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'a' });
      await store.update({ ...live, data: { value: 'hand-edited' } });
    };
    await edit();
    const emitted: EventInput[] = [];
    expect(
      await reconcileApplication(
        { store, source: fixture.source, memo: fixture.memo, events: { emit: (e) => emitted.push(e) } },
        await app('healing'),
      ),
    ).toMatchObject({ result: 'synced', written: 1 });
    expect(await configMaps()).toEqual({ a: '1' });
    // The Application's Event says what was reverted.
    expect(emitted).toEqual([
      expect.objectContaining({
        involvedObject: expect.objectContaining({ kind: 'Application', name: 'healing' }),
        type: 'Warning',
        reason: 'SelfHealed',
        message: expect.stringMatching(
          /^reverted changes made outside Git to [0-9a-f]{7} \(selfHeal\): configmap\/a restored$/,
        ),
      }),
    ]);

    const plain = await app('healing');
    await store.update({
      ...plain,
      spec: { ...plain.spec, syncPolicy: { automated: { prune: true, selfHeal: false } } },
    });
    await edit();
    expect(await reconcile('healing')).toMatchObject({ result: 'out-of-sync', written: 0 });
    expect(await configMaps()).toEqual({ a: 'hand-edited' });
    expect((await app('healing')).status!.sync!.status).toBe('OutOfSync');
    // A manual sync applies it.
    expect(await reconcile('healing', { manual: true })).toMatchObject({ result: 'synced', written: 1 });
    expect(await configMaps()).toEqual({ a: '1' });
  });

  it('ignoreDifferences keeps a field another writer owns (/spec/replicas)', async () => {
    repo.write({ 'app/web.yaml': deploy('web', 'nginx:1.25', 2) });
    repo.commit('first');
    await application('scaled', {
      ignoreDifferences: [{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }],
    });
    await reconcile('scaled');
    const live = await store.get<KubeObject>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' });
    await store.update({ ...live, spec: { ...(live.spec as object), replicas: 7 } });
    expect(await reconcile('scaled')).toMatchObject({ result: 'unchanged' });
    repo.write({ 'app/web.yaml': deploy('web', 'nginx:1.26', 2) });
    repo.commit('new image');
    await reconcile('scaled');
    const after = await store.get<any>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' });
    expect([after.spec.replicas, after.spec.template.spec.containers[0].image]).toEqual([7, 'nginx:1.26']);
  });

  it("an HPA in the commit owns its target's replicas: Git's 2 does not undo its 5; Synced, with the warning", async () => {
    const hpa = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 6
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
`;
    repo.write({ 'app/web.yaml': deploy('web', 'nginx:1.25', 2), 'app/hpa.yaml': hpa });
    repo.commit('web, autoscaled');
    await application('autoscaled');
    expect(await reconcile('autoscaled')).toMatchObject({ result: 'synced' });
    // The HPA scales it (through the same update the controller makes).
    const live = await store.get<KubeObject>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' });
    await store.update({ ...live, spec: { ...(live.spec as object), replicas: 5 } });
    expect(await reconcile('autoscaled')).toMatchObject({ result: 'unchanged' });
    repo.write({ 'app/web.yaml': deploy('web', 'nginx:1.26', 2) });
    repo.commit('new image');
    await reconcile('autoscaled');
    const after = await store.get<any>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' });
    expect([after.spec.replicas, after.spec.template.spec.containers[0].image]).toEqual([5, 'nginx:1.26']);
    const status = (await app('autoscaled')).status!;
    expect(status.sync!.status).toBe('Synced');
    expect(status.conditions!.find((c) => c.type === 'AutoscaledReplicasWarning')).toMatchObject({
      status: 'True',
      reason: 'ReplicasLeftToAutoscaler',
      message:
        'spec.replicas is left to the autoscaler (remove it from Git): Deployment default/web (replicas: 2 in Git) is scaled by HorizontalPodAutoscaler default/web',
    });
    // Git drops replicas: the warning goes, the HPA's count stays.
    repo.write({ 'app/web.yaml': deploy('web', 'nginx:1.26', 2).replace('  replicas: 2\n', '') });
    repo.commit('replicas left to the HPA');
    await reconcile('autoscaled');
    expect(
      (await store.get<any>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' })).spec.replicas,
    ).toBe(5);
    expect((await app('autoscaled')).status!.conditions?.some((c) => c.type === 'AutoscaledReplicasWarning')).toBe(
      false,
    );
  });

  it('an object another Application manages is a conflict, not a tug of war', async () => {
    repo.write({ 'app/a.yaml': cm('a', '1') });
    repo.commit('first');
    await application('one');
    await reconcile('one');
    await application('two');
    expect(await reconcile('two')).toMatchObject({ result: 'conflict', written: 0 });
    expect((await app('two')).status!.conditions!.find((c) => c.type === 'SharedResourceError')!.message).toMatch(
      /managed by Application default\/one/,
    );
  });

  it('rollback pins an earlier commit and pauses auto-sync until a new commit lands, or resume', async () => {
    repo.write({ 'app/a.yaml': cm('a', '1') });
    const first = repo.commit('v1');
    await application('pinned');
    await reconcile('pinned');
    repo.write({ 'app/a.yaml': cm('a', '2'), 'app/b.yaml': cm('b', '2') });
    const second = repo.commit('v2');
    await reconcile('pinned');
    expect(await configMaps()).toEqual({ a: '2', b: '2' });

    const annotate = async (annotations: Record<string, string | undefined>) => {
      const current = await app('pinned');
      const merged = { ...current.metadata.annotations, ...annotations };
      for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
      await store.update({ ...current, metadata: { ...current.metadata, annotations: merged } });
    };
    await annotate({ 'berth.dev/rollback': first, 'berth.dev/sync-requested': '2026-11-22T10:00:00Z' });
    expect(await reconcile('pinned')).toMatchObject({ result: 'synced', revision: first });
    expect(await configMaps()).toEqual({ a: '1' }); // b, added after v1, is pruned
    let status = (await app('pinned')).status!;
    expect(status.rollback).toMatchObject({ revision: first, branchHead: second, state: 'Paused' });
    expect(status.conditions!.find((c) => c.type === 'RollbackActive')!.message).toMatch(
      /paused until a new commit lands/,
    );
    expect(status.history!.at(-1)).toMatchObject({ revision: first, initiatedBy: 'rollback' });
    // Still pinned while the branch has not moved, whatever the poll.
    expect(await reconcile('pinned')).toMatchObject({ result: 'unchanged', revision: first });

    repo.write({ 'app/a.yaml': cm('a', '3') });
    const third = repo.commit('v3, the fix');
    expect(await reconcile('pinned')).toMatchObject({ result: 'synced', revision: third });
    expect(await configMaps()).toEqual({ a: '3', b: '2' }); // b is still in Git at v3
    status = (await app('pinned')).status!;
    expect(status.rollback!.state).toBe('Resumed');
    expect(status.conditions!.some((c) => c.type === 'RollbackActive')).toBe(false);

    // A second rollback to the same commit, ended by withdrawing it (what `app sync --resume` does).
    await annotate({ 'berth.dev/rollback': first, 'berth.dev/sync-requested': '2026-11-22T11:00:00Z' });
    await reconcile('pinned');
    expect(await configMaps()).toEqual({ a: '1' });
    await annotate({ 'berth.dev/rollback': undefined });
    expect(await reconcile('pinned')).toMatchObject({ result: 'synced', revision: third });
    expect(await configMaps()).toEqual({ a: '3', b: '2' });
  });

  it('autoRollback returns a Degraded commit to the last healthy one and marks it failed', async () => {
    repo.write({ 'app/web.yaml': deploy('web', 'nginx:1.25') });
    const good = repo.commit('good');
    await application('guarded', { syncPolicy: { automated: { prune: true }, autoRollback: true } });
    await reconcile('guarded');
    // Fixture health (the Deployment controller comes with the controllers issue): rolled out.
    const setStatus = async (status: object) => {
      const live = await store.get<any>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' });
      await store.update({ ...live, status: { observedGeneration: live.metadata.generation, ...status } });
    };
    await setStatus({ replicas: 2, updatedReplicas: 2, availableReplicas: 2, readyReplicas: 2 });
    await reconcile('guarded');
    expect((await app('guarded')).status!.history!.at(-1)).toMatchObject({ revision: good, outcome: 'Healthy' });

    repo.write({ 'app/web.yaml': deploy('web', 'nginx:broken') });
    const bad = repo.commit('bad image');
    await reconcile('guarded');
    await setStatus({
      replicas: 2,
      updatedReplicas: 1,
      availableReplicas: 1,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
    });
    await reconcile('guarded');
    const image = async () =>
      (await store.get<any>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' })).spec.template
        .spec.containers[0].image;
    expect(await image()).toBe('nginx:1.25');
    const status = (await app('guarded')).status!;
    expect(status.history!.find((h) => h.revision === bad)!.outcome).toBe('Failed');
    expect(status.history!.at(-1)).toMatchObject({ revision: good, initiatedBy: 'rollback' });
    expect(status.rollback).toMatchObject({ revision: good, state: 'Paused' });
    // It holds until a new commit lands.
    await reconcile('guarded');
    expect(await image()).toBe('nginx:1.25');
    repo.write({ 'app/web.yaml': deploy('web', 'nginx:1.26') });
    repo.commit('fixed image');
    await reconcile('guarded');
    expect(await image()).toBe('nginx:1.26');
  });

  it('a force-push that rewrites history is a condition, not a sync; a manual sync accepts it', async () => {
    repo.write({ 'app/a.yaml': cm('a', '1') });
    const base = repo.commit('base');
    repo.write({ 'app/a.yaml': cm('a', '2') });
    repo.commit('synced');
    await application('rewritten');
    await reconcile('rewritten');
    expect(await configMaps()).toEqual({ a: '2' });
    repo.run('reset', '-q', '--hard', base);
    repo.write({ 'app/a.yaml': cm('a', 'rewritten') });
    const rewritten = repo.commit('rewritten history', { force: true });
    expect(await reconcile('rewritten')).toMatchObject({ result: 'source-error', written: 0 });
    expect(await configMaps()).toEqual({ a: '2' });
    const cond = (await app('rewritten')).status!.conditions!.find((c) => c.type === 'HistoryRewritten')!;
    expect(cond.message).toMatch(/no longer contains the synced commit/);
    expect(await reconcile('rewritten', { manual: true })).toMatchObject({ result: 'synced', revision: rewritten });
    expect(await configMaps()).toEqual({ a: 'rewritten' });
    expect((await app('rewritten')).status!.conditions!.some((c) => c.type === 'HistoryRewritten')).toBe(false);
  });

  it('keeps a ledger per commit and posts each state change as a commit status', async () => {
    const { port, posts, close } = await startStatusReceiver();
    try {
      // The token is for this receiver (plain http on loopback, said so in the Secret).
      const b64 = (v: string) => Buffer.from(v).toString('base64');
      await store.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'gh', namespace: 'default' },
        data: { token: b64('ghp_test'), url: b64(`http://127.0.0.1:${port}/repos/o/r`), insecure: b64('true') },
      });
      repo.write({ 'app/web.yaml': deploy('web', 'nginx:1.25') });
      const good = repo.commit('good');
      await application('ledgered', {
        notify: {
          commitStatus: {
            url: `http://127.0.0.1:${port}/repos/o/r/statuses/{sha}`,
            tokenSecret: 'gh',
            context: 'berth/ledgered',
            targetURL: 'https://berth.example.com/apps/{namespace}/{app}?revision={sha}',
          },
        },
      } as never);
      await reconcile('ledgered');
      const live = await store.get<any>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' });
      await store.update({
        ...live,
        status: { observedGeneration: live.metadata.generation, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
      });
      await reconcile('ledgered');
      repo.write({ 'app/bad.yaml': 'kind: ConfigMap\n' });
      const bad = repo.commit('bad');
      await reconcile('ledgered');
      await reconcile('ledgered'); // no change: nothing posted again

      const ledger = (await app('ledgered')).status!.ledger!;
      expect(ledger.map((e) => [e.revision, e.state])).toEqual([
        [good, 'success'],
        [bad, 'failure'],
      ]);
      expect(ledger[0]).toMatchObject({
        syncedAt: expect.any(String),
        healthyAt: expect.any(String),
        description: expect.stringMatching(/^synced 1 object, healthy in \d+ s$/),
      });
      expect(ledger[1]!.description).toMatch(
        /^invalid manifests: 1 error, first app\/bad\.yaml:1:1: error: missing apiVersion/,
      );
      expect(posts.map((p) => [p.path, p.body.state])).toEqual([
        [`/repos/o/r/statuses/${good}`, 'pending'],
        [`/repos/o/r/statuses/${good}`, 'success'],
        [`/repos/o/r/statuses/${bad}`, 'failure'],
      ]);
      expect(posts[0]).toMatchObject({ auth: 'token ghp_test', body: { context: 'berth/ledgered' } });
      // Each status links where the commit can be looked at, and says what happened.
      expect(posts[1]!.body).toMatchObject({
        target_url: `https://berth.example.com/apps/default/ledgered?revision=${good}`,
        description: expect.stringMatching(/^synced 1 object, healthy in \d+ s$/),
      });
    } finally {
      await close();
    }
  });

  it('a later sync wave waits until the earlier waves are healthy, then the sync carries on', async () => {
    const waved = (name: string, wave: number) =>
      cm(name, 'x').replace(`name: ${name}`, `name: ${name}\n  annotations:\n    berth.dev/sync-wave: "${wave}"`);
    repo.write({ 'app/web.yaml': deploy('web', 'nginx:1.25'), 'app/after.yaml': waved('after', 1) });
    const commit = repo.commit('two waves');
    await application('waves');
    expect(await reconcile('waves')).toMatchObject({ result: 'out-of-sync', written: 1 });
    expect(await configMaps()).toEqual({});
    let status = (await app('waves')).status!;
    expect(status.operationState).toMatchObject({
      phase: 'Running',
      revision: commit,
      message: 'applied 1 change; waiting for wave 0 to be healthy: Deployment/web is Progressing',
    });
    expect(status.ledger!.at(-1)).toMatchObject({ state: 'pending' });
    expect(await reconcile('waves')).toMatchObject({ written: 0 }); // still waiting
    const live = await store.get<any>({ group: 'apps', kind: 'Deployment', namespace: 'default', name: 'web' });
    await store.update({
      ...live,
      status: { observedGeneration: live.metadata.generation, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
    });
    expect(await reconcile('waves')).toMatchObject({ result: 'synced', written: 1 });
    expect(await configMaps()).toEqual({ after: 'x' });
    status = (await app('waves')).status!;
    expect(status.operationState).toMatchObject({ phase: 'Succeeded' });
    expect(status.sync).toEqual({ status: 'Synced', revision: commit });
    expect(status.history!.map((h) => h.revision)).toEqual([commit]);
  });

  it('a source failure is a condition, and nothing is written', async () => {
    await store.create<ApplicationObject>({
      apiVersion: 'berth.dev/v1',
      kind: 'Application',
      metadata: { name: 'lost', namespace: 'default' },
      spec: { source: { repoURL: repo.bare, targetRevision: 'no-such-branch' } },
    });
    expect(await reconcile('lost')).toMatchObject({ result: 'source-error', written: 0 });
    const status = (await app('lost')).status!;
    expect(status.sync).toMatchObject({ status: 'Unknown' });
    // The failure, and the kstatus summary saying why the app is not Ready (a source error is retried: not Stalled).
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['SourceError', 'True', 'RevisionNotFound'],
      ['Ready', 'False', 'RevisionNotFound'],
    ]);
  });
});
