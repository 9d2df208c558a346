/**
 * Bad input never crashes the server or changes the store: malformed JSON, invalid objects,
 * oversized bodies, unknown kinds, wrong query types — then 5,000 random requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const NS = '/api/v1/namespaces/default';

describe('API input', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it.each<
    [string, string, string, { body?: unknown; rawBody?: string; headers?: Record<string, string> }, number, string]
  >([
    ['malformed JSON', 'POST', `${NS}/configmaps`, { rawBody: '{"apiVersion": "v1", ' }, 400, 'BadRequest'],
    ['a JSON array body', 'POST', `${NS}/configmaps`, { body: [1, 2] }, 400, 'BadRequest'],
    [
      'an invalid object',
      'POST',
      '/apis/apps/v1/namespaces/default/deployments',
      {
        body: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'Bad_Name' },
          spec: { replicas: 'three' },
        },
      },
      422,
      'Invalid',
    ],
    [
      'a kind that does not match the path',
      'POST',
      `${NS}/configmaps`,
      { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } } },
      400,
      'BadRequest',
    ],
    [
      'a namespace that does not match the path',
      'POST',
      `${NS}/configmaps`,
      { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'other' } } },
      400,
      'BadRequest',
    ],
    [
      'a namespace that does not exist',
      'POST',
      '/api/v1/namespaces/nowhere/configmaps',
      { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } } },
      404,
      'NotFound',
    ],
    [
      'an oversized body',
      'POST',
      `${NS}/configmaps`,
      {
        rawBody: JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'big' },
          data: { x: 'y'.repeat(3 * 1024 * 1024) },
        }),
      },
      413,
      'RequestEntityTooLarge',
    ],
    ['an unknown kind', 'GET', '/api/v1/namespaces/default/widgets', {}, 404, 'NotFound'],
    ['an unknown group', 'GET', '/apis/example.com/v1/things', {}, 404, 'NotFound'],
    ['a bad label selector', 'GET', `${NS}/configmaps?labelSelector=a%20in%20(`, {}, 400, 'BadRequest'],
    ['an unsupported field selector', 'GET', `${NS}/configmaps?fieldSelector=spec.foo%3Dbar`, {}, 400, 'BadRequest'],
    ['a non-numeric limit', 'GET', `${NS}/configmaps?limit=ten`, {}, 400, 'BadRequest'],
    ['a non-numeric resourceVersion', 'GET', `${NS}/configmaps?watch=1&resourceVersion=abc`, {}, 400, 'BadRequest'],
    [
      'an unknown patch type',
      'PATCH',
      `${NS}/configmaps/kept`,
      { body: {}, headers: { 'Content-Type': 'text/plain' } },
      415,
      'UnsupportedMediaType',
    ],
    [
      'a broken JSON patch',
      'PATCH',
      `${NS}/configmaps/kept`,
      { body: [{ op: 'remove', path: '/nope' }], headers: { 'Content-Type': 'application/json-patch+json' } },
      400,
      'BadRequest',
    ],
    [
      'a stale resourceVersion',
      'PUT',
      `${NS}/configmaps/kept`,
      { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept', resourceVersion: '1' }, data: {} } },
      409,
      'Conflict',
    ],
    ['a method the path does not take', 'POST', `${NS}/configmaps/kept`, { body: {} }, 405, 'MethodNotAllowed'],
  ])('%s → %i %s', async (_, method, path, options, status, reason) => {
    if (
      !(await api(server, 'GET', `${NS}/configmaps/kept`, { token: server.adminToken })).status
        .toString()
        .startsWith('2')
    ) {
      await api(server, 'POST', `${NS}/configmaps`, {
        token: server.adminToken,
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept' }, data: { a: '1' } },
      });
    }
    const res = await api(server, method, path, { token: server.adminToken, ...options });
    expect({ status: res.status, reason: res.body?.reason, kind: res.body?.kind }).toEqual({
      status,
      reason,
      kind: 'Status',
    });
    expect(res.body.message.length).toBeGreaterThan(0);
  });

  it("selects by Kubernetes' pod field labels and a Secret's type", async () => {
    const post = (path: string, body: unknown) => api(server, 'POST', path, { token: server.adminToken, body });
    await post(`${NS}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'fs-a' },
      spec: { restartPolicy: 'Never', serviceAccountName: 'builder', containers: [{ name: 'c', image: 'busybox' }] },
    });
    await post(`${NS}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'fs-b' },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    await post(`${NS}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'fs-tls' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': '', 'tls.key': '' },
    });
    const names = async (path: string) =>
      (await api(server, 'GET', path, { token: server.adminToken })).body.items
        .map((i: { metadata: { name: string } }) => i.metadata.name)
        .filter((n: string) => n.startsWith('fs-'));
    expect(await names(`${NS}/pods?fieldSelector=spec.restartPolicy%3DNever`)).toEqual(['fs-a']);
    expect(
      await names(`${NS}/pods?fieldSelector=spec.serviceAccountName%3Dbuilder,spec.schedulerName%3Ddefault-scheduler`),
    ).toEqual(['fs-a']);
    expect(await names(`${NS}/pods?fieldSelector=status.podIP%3D,status.nominatedNodeName%3D`)).toEqual([
      'fs-a',
      'fs-b',
    ]);
    expect(await names(`${NS}/secrets?fieldSelector=type%3Dkubernetes.io%2Ftls`)).toEqual(['fs-tls']);
  });

  it('accepts a container status without image, ready or restartCount, as Kubernetes does', async () => {
    await api(server, 'POST', `${NS}/pods`, {
      token: server.adminToken,
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'bare-status' },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    });
    const res = await api(server, 'PATCH', `${NS}/pods/bare-status/status`, {
      token: server.adminToken,
      body: { status: { containerStatuses: [{ name: 'c', state: { waiting: { reason: 'ContainerCreating' } } }] } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    expect(res.status).toBe(200);
    expect(res.body.status.containerStatuses).toEqual([
      { name: 'c', state: { waiting: { reason: 'ContainerCreating' } } },
    ]);
  });

  it('reports field errors as Kubernetes causes', async () => {
    const res = await api(server, 'POST', '/apis/apps/v1/namespaces/default/deployments', {
      token: server.adminToken,
      body: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web' },
        spec: {
          replicas: 'three',
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
        },
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.details).toMatchObject({
      name: 'web',
      kind: 'Deployment',
      causes: [
        { field: 'spec.replicas', reason: 'FieldValueInvalid', message: 'expected integer, got string "three"' },
      ],
    });
  });

  it('5,000 random requests leave the server up and the store changed only by valid writes', async () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const paths = [
      '/api/v1/namespaces/default/configmaps',
      '/api/v1/namespaces/default/configmaps/fz',
      '/api/v1/namespaces/default/pods',
      '/apis/apps/v1/namespaces/default/deployments/fz',
      '/api/v1/nodes/fz',
      '/api/v1/namespaces/../secrets',
      '/apis/',
      '/api/v1/namespaces/default/pods/fz/status',
      '/nonsense',
      '/api/v1/namespaces/default/configmaps?labelSelector=!!',
      '/api/v1/namespaces/default/configmaps?limit=-1',
      '/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=999999999&timeoutSeconds=0',
    ];
    const bodies = [
      '',
      '{',
      'null',
      '[]',
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fz"},"data":{"a":1}}',
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fz"},"data":{"a":"1"}}',
      '{"metadata":{"name":"fz"}}',
      '"string"',
      '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"fz"},"spec":{"containers":[]}}',
      '\u0000\u0001',
      '[{"op":"add","path":"/data/x","value":"1"}]',
      '{"data":{"x":null}}',
    ];
    const types = [
      'application/json',
      'application/merge-patch+json',
      'application/json-patch+json',
      'application/strategic-merge-patch+json',
      'text/plain',
    ];
    const statuses = new Map<number, number>();
    let valid = 0;
    for (let i = 0; i < 5000; i++) {
      const method = pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
      const body = method === 'GET' || method === 'DELETE' ? undefined : pick(bodies);
      const res = await api(server, method, pick(paths), {
        token: server.adminToken,
        ...(body !== undefined ? { rawBody: body } : {}),
        headers: { 'Content-Type': pick(types) },
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status).toBeLessThan(500);
      if (res.status >= 400) expect(res.body.kind).toBe('Status');
      if (res.status === 200 || res.status === 201) valid++;
    }
    expect((await api(server, 'GET', '/healthz')).status).toBe(200);
    // Whatever was written is valid: every stored ConfigMap's data values are strings.
    const list = await api(server, 'GET', '/api/v1/namespaces/default/configmaps', { token: server.adminToken });
    for (const item of list.body.items) for (const v of Object.values(item.data ?? {})) expect(typeof v).toBe('string');
    expect(valid).toBeGreaterThan(0);
    expect(statuses.size).toBeGreaterThan(4);
  }, 120_000);
});
