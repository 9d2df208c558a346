/**
 * dryRun=All (kubectl issue, item 1) at the API: create, update, patch and delete are validated,
 * defaulted and admitted, and answered as a real write would be — and nothing is stored: no new
 * object, no resourceVersion or generation moved, no quota charged, no Event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const NS = '/api/v1/namespaces/default';
const deploy = (image: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } },
  },
});

describe('dryRun=All', () => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    api(server, method, path, {
      token: server.adminToken,
      ...(body !== undefined ? { body } : {}),
      ...(headers ? { headers } : {}),
    });
  let revision = async () => await server.store.revision();
  beforeAll(async () => {
    server = await startTestServer();
    await call('POST', '/apis/apps/v1/namespaces/default/deployments', deploy('nginx:1.25'));
    await call('POST', `${NS}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kept' },
      data: { a: '1' },
    });
    await call('POST', `${NS}/resourcequotas`, {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'q' },
      spec: { hard: { configmaps: '5' } },
    });
    revision = async () => await server.store.revision();
  });
  afterAll(() => server?.stop());

  it('a create is answered (201, defaults, a uid) and not stored; an invalid one is refused as a real one would be', async () => {
    const before = await revision();
    const res = await call(
      'POST',
      `${NS}/configmaps?dryRun=All&fieldManager=kubectl-client-side-apply&fieldValidation=Strict`,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'new' }, data: { b: '2' } },
    );
    expect(res.status).toBe(201);
    expect(res.body.metadata).toMatchObject({
      name: 'new',
      namespace: 'default',
      uid: expect.any(String),
      creationTimestamp: expect.any(String),
    });
    expect((await call('GET', `${NS}/configmaps/new`)).status).toBe(404);
    expect(
      (
        await call('POST', `${NS}/configmaps?dryRun=All`, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'kept' },
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await call('POST', `${NS}/configmaps?dryRun=All`, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'Bad_Name' },
        })
      ).status,
    ).toBe(422);
    expect(
      (
        await call('POST', `${NS}/pods?dryRun=All`, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'root' },
          spec: { containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'r', hostPath: { path: '/srv' } }] },
        })
      ).status,
    ).toBe(403);
    expect(await revision()).toBe(before);
    expect((await call('GET', `${NS}/resourcequotas/q`)).body.status?.used?.configmaps ?? '1').toBe('1');
  });

  it('an update and each patch type answer the new object and change nothing', async () => {
    const live = (await call('GET', '/apis/apps/v1/namespaces/default/deployments/web')).body;
    const before = await revision();
    const put = await call('PUT', '/apis/apps/v1/namespaces/default/deployments/web?dryRun=All', {
      ...deploy('nginx:1.26'),
      metadata: { name: 'web', resourceVersion: live.metadata.resourceVersion },
    });
    expect({
      status: put.status,
      image: put.body.spec.template.spec.containers[0].image,
      generation: put.body.metadata.generation,
    }).toEqual({ status: 200, image: 'nginx:1.26', generation: 2 });
    for (const [type, body] of [
      ['application/merge-patch+json', { spec: { replicas: 5 } }],
      [
        'application/strategic-merge-patch+json',
        { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } } },
      ],
      ['application/json-patch+json', [{ op: 'replace', path: '/spec/replicas', value: 7 }]],
    ] as const) {
      const res = await call('PATCH', '/apis/apps/v1/namespaces/default/deployments/web?dryRun=All', body, {
        'Content-Type': type,
      });
      expect(res.status, type).toBe(200);
    }
    const stale = await call('PUT', '/apis/apps/v1/namespaces/default/deployments/web?dryRun=All', {
      ...deploy('nginx:1.26'),
      metadata: { name: 'web', resourceVersion: '1' },
    });
    expect(stale.status).toBe(409);
    const after = (await call('GET', '/apis/apps/v1/namespaces/default/deployments/web')).body;
    expect({
      rv: after.metadata.resourceVersion,
      generation: after.metadata.generation,
      image: after.spec.template.spec.containers[0].image,
      replicas: after.spec.replicas,
    }).toEqual({ rv: live.metadata.resourceVersion, generation: 1, image: 'nginx:1.25', replicas: 2 });
    expect(await revision()).toBe(before);
  });

  it('generateName: a create without a name gets the prefix and five random characters', async () => {
    const made = await call('POST', `${NS}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { generateName: 'job-run-' },
    });
    expect(made.status).toBe(201);
    expect(made.body.metadata.name).toMatch(/^job-run-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect((await call('GET', `${NS}/configmaps/${made.body.metadata.name}`)).status).toBe(200);
  });

  it('a delete answers the object and deletes nothing; dryRun takes only All', async () => {
    const before = await revision();
    const res = await call('DELETE', `${NS}/configmaps/kept?dryRun=All`);
    expect({ status: res.status, kind: res.body.kind, result: res.body.status, name: res.body.details?.name }).toEqual({
      status: 200,
      kind: 'Status',
      result: 'Success',
      name: 'kept',
    });
    expect((await call('GET', `${NS}/configmaps/kept`)).status).toBe(200);
    expect(
      (await call('DELETE', '/apis/apps/v1/namespaces/default/deployments/web?dryRun=All&propagationPolicy=Foreground'))
        .status,
    ).toBe(200);
    expect((await call('GET', '/apis/apps/v1/namespaces/default/deployments/web')).status).toBe(200);
    expect(await revision()).toBe(before);
    expect(
      (await call('DELETE', `${NS}/configmaps/kept`, { kind: 'DeleteOptions', apiVersion: 'v1', dryRun: ['All'] }))
        .status,
    ).toBe(200);
    expect((await call('GET', `${NS}/configmaps/kept`)).status).toBe(200);
    expect(await revision()).toBe(before);
    expect((await call('DELETE', `${NS}/configmaps/kept?dryRun=true`)).status).toBe(400);
  });
});
