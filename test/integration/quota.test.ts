/**
 * Quotas per namespace (security issue, item 9) on real stores: at the API (Kubernetes'
 * "exceeded quota" and LimitRange messages, defaults filled in, status.used charged), for the
 * controllers' own pods (a ReplicaSet stops at the quota, with FailedCreate), kept by the quota
 * controller, and at sync time (a commit over its namespace's quota refused whole, file:line).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GitSource } from '../../src/source/index.js';
import { type KubeObject, type RevisionedStore } from '../../src/store/index.js';
import { reconcileApplication, type AppMemo, type ApplicationObject } from '../../src/sync/index.js';
import { startHarness, type Harness, POD } from '../helpers/controllers.js';
import { TestRepo } from '../helpers/git.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';
import { closeTempStore, openTempStore, type TempStore } from '../helpers/store.js';

const QUOTA = { group: '', kind: 'ResourceQuota' };
const quota = (namespace: string, hard: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ResourceQuota',
  metadata: { name: 'compute', namespace },
  spec: { hard },
});
const limits = (namespace: string) => ({
  apiVersion: 'v1',
  kind: 'LimitRange',
  metadata: { name: 'defaults', namespace },
  spec: {
    limits: [
      {
        type: 'Container',
        default: { cpu: '200m', memory: '128Mi' },
        defaultRequest: { cpu: '100m', memory: '64Mi' },
        max: { cpu: '1' },
      },
    ],
  },
});
const pod = (name: string, resources?: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { containers: [{ name: 'app', image: 'busybox', ...(resources ? { resources } : {}) }] },
});

describe('quotas at the API', () => {
  let server: TestServer;
  const post = (p: string, body: unknown) => api(server, 'POST', p, { token: server.adminToken, body });
  beforeAll(async () => {
    server = await startTestServer();
    await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    await post('/api/v1/namespaces/team/limitranges', limits('team'));
    await post(
      '/api/v1/namespaces/team/resourcequotas',
      quota('team', { pods: '2', 'requests.cpu': '250m', configmaps: '1' }),
    );
  });
  afterAll(() => server?.stop());

  it("fills in LimitRange defaults, charges the quota, and refuses the create past it with Kubernetes' message", async () => {
    const first = await post('/api/v1/namespaces/team/pods', pod('a'));
    expect(first.status).toBe(201);
    expect(first.body.spec.containers[0].resources).toEqual({
      limits: { cpu: '200m', memory: '128Mi' },
      requests: { cpu: '100m', memory: '64Mi' },
    });
    expect((await post('/api/v1/namespaces/team/pods', pod('b'))).status).toBe(201);
    const used = (
      await api(server, 'GET', '/api/v1/namespaces/team/resourcequotas/compute', { token: server.adminToken })
    ).body.status.used;
    expect(used).toEqual({ pods: '2', 'requests.cpu': '200m', configmaps: '0' });
    const third = await post('/api/v1/namespaces/team/pods', pod('c', { requests: { cpu: '100m' } }));
    expect({ status: third.status, reason: third.body.reason, message: third.body.message }).toEqual({
      status: 403,
      reason: 'Forbidden',
      message:
        'pods "c" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=100m, used: pods=2,requests.cpu=200m, limited: pods=2,requests.cpu=250m',
    });
    expect((await api(server, 'GET', '/api/v1/namespaces/team/pods/c', { token: server.adminToken })).status).toBe(404);
  });

  it('refuses a container over the LimitRange maximum, and counts objects', async () => {
    const big = await post('/api/v1/namespaces/team/pods', pod('big', { limits: { cpu: '2' } }));
    expect({ status: big.status, message: big.body.message }).toEqual({
      status: 403,
      message: 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2',
    });
    expect(
      (
        await post('/api/v1/namespaces/team/configmaps', {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'one' },
        })
      ).status,
    ).toBe(201);
    const two = await post('/api/v1/namespaces/team/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'two' },
    });
    expect(two.body.message).toBe(
      'configmaps "two" is forbidden: exceeded quota: compute, requested: configmaps=1, used: configmaps=1, limited: configmaps=1',
    );
  });
});

describe('quotas for controllers and at sync', () => {
  let temp: TempStore;
  let store: RevisionedStore;
  beforeEach(async () => {
    temp = await openTempStore('berth-quota-');
    ({ store } = temp);
    for (const name of ['default', 'team'])
      await store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  });
  afterEach(() => closeTempStore(temp));

  it('a ReplicaSet stops at the quota (FailedCreate), and the quota controller keeps status.used', async () => {
    const h: Harness = startHarness(store);
    try {
      await h.create(quota('team', { pods: '3' }));
      await h.create({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: 'web', namespace: 'team' },
        spec: {
          replicas: 5,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
        },
      });
      await h.until('FailedCreate for the pods past the quota', async () =>
        (await store.list({ group: '', kind: 'Event', namespace: 'team' })).items.find(
          (e) => (e as { reason?: string }).reason === 'FailedCreate',
        ),
      );
      expect((await h.list(POD, 'team')).length).toBe(3);
      const event = (await store.list({ group: '', kind: 'Event', namespace: 'team' })).items.find(
        (e) => (e as { reason?: string }).reason === 'FailedCreate',
      ) as { message?: string };
      expect(event.message).toMatch(/exceeded quota: compute, requested: pods=\d+, used: pods=3, limited: pods=3/);
      await h.until(
        'status.used counted',
        async () =>
          (
            (await store.get(QUOTA && { ...QUOTA, namespace: 'team', name: 'compute' })).status as
              { used?: { pods?: string } } | undefined
          )?.used?.pods === '3',
      );
      // A pod that goes away gives its share back, and the ReplicaSet gets its next one.
      const [gone] = await h.list(POD, 'team');
      await store.delete({ ...POD, namespace: 'team', name: gone!.metadata.name });
      await h.until(
        'a replacement within the quota',
        async () => (await h.list(POD, 'team')).filter((p) => p.metadata.name !== gone!.metadata.name).length === 3,
      );
    } finally {
      await h.stop();
    }
  });

  describe('sync', () => {
    let repo: TestRepo;
    let source: GitSource;
    let memo: Map<string, AppMemo>;
    beforeEach(() => {
      repo = new TestRepo();
      source = new GitSource({ dataDir: temp.dir });
      memo = new Map();
    });
    afterEach(() => repo.remove());
    const everything = async () =>
      (await Promise.all(['ConfigMap', 'Pod', 'Service'].map((kind) => store.list({ group: '', kind }))))
        .flatMap((l) =>
          l.items.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`),
        )
        .sort();
    const sync = async () => {
      const app =
        (await store
          .get<ApplicationObject>({ group: 'berth.dev', kind: 'Application', namespace: 'team', name: 'shop' })
          .catch(() => undefined)) ??
        (await store.create<ApplicationObject>({
          apiVersion: 'berth.dev/v1',
          kind: 'Application',
          metadata: { name: 'shop', namespace: 'team' },
          spec: {
            source: { repoURL: repo.bare, path: 'app' },
            destination: { namespace: 'team' },
            syncPolicy: { automated: { prune: true } },
          },
        }));
      return reconcileApplication({ store, source, memo }, app);
    };
    const condition = async () =>
      (
        await store.get<ApplicationObject>({ group: 'berth.dev', kind: 'Application', namespace: 'team', name: 'shop' })
      ).status?.conditions?.find((c) => c.type === 'ComparisonError');

    it("refuses a commit whose workloads alone ask for more than the namespace's quota", async () => {
      await store.create(quota('team', { 'requests.cpu': '1', pods: '10' }) as unknown as KubeObject);
      repo.write({
        'app/web.yaml':
          'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx, resources: {requests: {cpu: 300m}}}]\n',
      });
      repo.commit('too big');
      const before = await everything();
      expect(await sync()).toMatchObject({ result: 'invalid', written: 0 });
      expect(await everything()).toEqual(before);
      expect((await condition())?.message).toBe(
        'app/web.yaml:1: Deployment team/web: 4 pods would be forbidden: exceeded quota: compute, requested: requests.cpu=1200m, used: requests.cpu=0, limited: requests.cpu=1',
      );
    });

    it('charges the objects a sync creates, and refuses the commit whole past the quota', async () => {
      await store.create(quota('team', { configmaps: '2' }) as unknown as KubeObject);
      const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;
      repo.write({ 'app/a.yaml': cm('a'), 'app/b.yaml': cm('b'), 'app/c.yaml': cm('c') });
      repo.commit('three');
      const before = await everything();
      expect(await sync()).toMatchObject({ result: 'invalid', written: 0 });
      expect(await everything()).toEqual(before);
      expect((await condition())?.message).toMatch(
        /^app\/a\.yaml:1: configmaps "a" is forbidden: exceeded quota: compute, requested: configmaps=3, used: configmaps=0, limited: configmaps=2$/,
      );
      repo.write({ 'app/c.yaml': null });
      repo.commit('two');
      expect(await sync()).toMatchObject({ result: 'synced', written: 2 });
    });
  });
});
