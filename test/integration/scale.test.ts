/** The scale subresource (autoscaling/v1 Scale) of Deployments, ReplicaSets, StatefulSets and ReplicationControllers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const DEPLOY = '/apis/apps/v1/namespaces/default/deployments';

describe('scale', () => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    api(server, method, path, {
      token: server.adminToken,
      ...(body !== undefined ? { body } : {}),
      ...(headers ? { headers } : {}),
    });
  beforeAll(async () => {
    server = await startTestServer();
    await call('POST', DEPLOY, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
      },
    });
  });
  afterAll(() => server?.stop());

  it("reads a Deployment's Scale, patches and replaces it, and refuses a stale one", async () => {
    const read = await call('GET', `${DEPLOY}/web/scale`);
    expect(read.body).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: 'web', namespace: 'default' },
      spec: { replicas: 2 },
      status: { replicas: 0, selector: 'app=web' },
    });
    const patched = await call(
      'PATCH',
      `${DEPLOY}/web/scale`,
      { spec: { replicas: 5 } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    expect({ status: patched.status, replicas: patched.body.spec?.replicas }).toEqual({ status: 200, replicas: 5 });
    expect((await call('GET', `${DEPLOY}/web`)).body.spec.replicas).toBe(5);
    const put = await call('PUT', `${DEPLOY}/web/scale`, {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: 'web', resourceVersion: patched.body.metadata.resourceVersion },
      spec: { replicas: 1 },
    });
    expect(put.body.spec.replicas).toBe(1);
    const stale = await call('PUT', `${DEPLOY}/web/scale`, {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: 'web', resourceVersion: read.body.metadata.resourceVersion },
      spec: { replicas: 9 },
    });
    expect(stale.status).toBe(409);
    expect(
      (
        await call(
          'PATCH',
          `${DEPLOY}/web/scale`,
          { spec: { replicas: -1 } },
          { 'Content-Type': 'application/merge-patch+json' },
        )
      ).status,
    ).toBe(422);
    expect((await call('GET', '/api/v1/namespaces/default/configmaps/x/scale')).status).toBe(404);
    const discovery = (await call('GET', '/apis/apps/v1')).body.resources.map((r: { name: string }) => r.name);
    expect(discovery).toEqual(expect.arrayContaining(['deployments/scale', 'replicasets/scale', 'statefulsets/scale']));
  });

  it("a ReplicationController's Scale carries its map selector as a label selector string", async () => {
    const RC = '/api/v1/namespaces/default/replicationcontrollers';
    const created = await call('POST', RC, {
      apiVersion: 'v1',
      kind: 'ReplicationController',
      metadata: { name: 'legacy' },
      spec: {
        replicas: 2,
        template: {
          metadata: { labels: { app: 'legacy', tier: 'be' } },
          spec: { containers: [{ name: 'c', image: 'nginx' }] },
        },
      },
    });
    expect(created.body.spec.selector).toEqual({ app: 'legacy', tier: 'be' });
    expect((await call('GET', `${RC}/legacy/scale`)).body).toMatchObject({
      spec: { replicas: 2 },
      status: { selector: 'app=legacy,tier=be' },
    });
    await call(
      'PATCH',
      `${RC}/legacy/scale`,
      { spec: { replicas: 4 } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    expect((await call('GET', `${RC}/legacy`)).body.spec.replicas).toBe(4);
    expect((await call('GET', '/api/v1')).body.resources.map((r: { name: string }) => r.name)).toContain(
      'replicationcontrollers/scale',
    );
  });
});
