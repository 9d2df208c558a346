/**
 * The role matrix: every verb for every role, and for node tokens both their own node's objects
 * and another node's, against the expected 2xx / 401 / 403.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KINDS } from '../../src/api/kinds.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

type Role = 'admin' | 'readonly' | 'node' | 'ci';
const ROLES: Role[] = ['admin', 'readonly', 'node', 'ci'];

const cm = (name: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { k: 'v' },
});
const pod = (name: string, node: string, configMap: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: {
    nodeName: node,
    containers: [{ name: 'c', image: 'busybox:1.36', envFrom: [{ configMapRef: { name: configMap } }] }],
  },
});
const nodeObj = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});

interface Row {
  name: string;
  request: (role: Role) => { method: string; path: string; body?: unknown; headers?: Record<string, string> };
  expect: Record<Role, number>;
}

const NS = '/api/v1/namespaces/default';
const rows: Row[] = [
  {
    name: 'get a ConfigMap its node uses',
    request: () => ({ method: 'GET', path: `${NS}/configmaps/cm-a` }),
    expect: { admin: 200, readonly: 200, node: 200, ci: 403 },
  },
  {
    name: "get another node's ConfigMap",
    request: () => ({ method: 'GET', path: `${NS}/configmaps/cm-b` }),
    expect: { admin: 200, readonly: 200, node: 403, ci: 403 },
  },
  {
    name: 'list ConfigMaps',
    request: () => ({ method: 'GET', path: `${NS}/configmaps` }),
    expect: { admin: 200, readonly: 200, node: 403, ci: 403 },
  },
  {
    name: 'watch ConfigMaps',
    request: () => ({ method: 'GET', path: `${NS}/configmaps?watch=1&timeoutSeconds=1` }),
    expect: { admin: 200, readonly: 200, node: 403, ci: 403 },
  },
  {
    name: 'create a ConfigMap',
    request: (r) => ({ method: 'POST', path: `${NS}/configmaps`, body: cm(`new-${r}`) }),
    expect: { admin: 201, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'update a ConfigMap',
    request: (r) => ({
      method: 'PUT',
      path: `${NS}/configmaps/target-${r}`,
      body: { ...cm(`target-${r}`), data: { k: 'x' } },
    }),
    expect: { admin: 200, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'patch a ConfigMap',
    request: (r) => ({
      method: 'PATCH',
      path: `${NS}/configmaps/target-${r}`,
      body: { data: { p: '1' } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'delete a ConfigMap',
    request: (r) => ({ method: 'DELETE', path: `${NS}/configmaps/doomed-${r}` }),
    expect: { admin: 200, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'get its own Node',
    request: () => ({ method: 'GET', path: '/api/v1/nodes/node-a' }),
    expect: { admin: 200, readonly: 200, node: 200, ci: 403 },
  },
  {
    name: "get another node's Node",
    request: () => ({ method: 'GET', path: '/api/v1/nodes/node-b' }),
    expect: { admin: 200, readonly: 200, node: 403, ci: 403 },
  },
  {
    name: 'update its own Node status',
    request: () => ({
      method: 'PATCH',
      path: '/api/v1/nodes/node-a/status',
      body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }] } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 200, ci: 403 },
  },
  {
    name: "update another node's status",
    request: () => ({
      method: 'PATCH',
      path: '/api/v1/nodes/node-b/status',
      body: { status: {} },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'register another Node name',
    request: (r) => ({ method: 'POST', path: '/api/v1/nodes', body: nodeObj(`imposter-${r}`) }),
    expect: { admin: 201, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'list pods on its node',
    request: () => ({ method: 'GET', path: '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a' }),
    expect: { admin: 200, readonly: 200, node: 200, ci: 403 },
  },
  {
    name: 'list all pods',
    request: () => ({ method: 'GET', path: '/api/v1/pods' }),
    expect: { admin: 200, readonly: 200, node: 403, ci: 403 },
  },
  {
    name: 'get a pod bound to it',
    request: () => ({ method: 'GET', path: `${NS}/pods/pa` }),
    expect: { admin: 200, readonly: 200, node: 200, ci: 403 },
  },
  {
    name: "get another node's pod",
    request: () => ({ method: 'GET', path: `${NS}/pods/pb` }),
    expect: { admin: 200, readonly: 200, node: 403, ci: 403 },
  },
  {
    name: 'write the status of its pod',
    request: () => ({
      method: 'PATCH',
      path: `${NS}/pods/pa/status`,
      body: { status: { phase: 'Running' } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 200, ci: 403 },
  },
  {
    name: "write the status of another node's pod",
    request: () => ({
      method: 'PATCH',
      path: `${NS}/pods/pb/status`,
      body: { status: { phase: 'Running' } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'change the spec of its pod',
    request: () => ({
      method: 'PATCH',
      path: `${NS}/pods/pa`,
      body: { metadata: { labels: { x: 'y' } } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'record an Event',
    request: (r) => ({
      method: 'POST',
      path: `${NS}/events`,
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `ev-${r}`, namespace: 'default' },
        involvedObject: { kind: 'Pod', name: 'pa', namespace: 'default' },
        reason: 'Started',
        message: 'started',
        type: 'Normal',
      },
    }),
    expect: { admin: 201, readonly: 403, node: 201, ci: 403 },
  },
  // NodeRestriction: a node changes its status and its own labels, nothing an admin decides.
  // The admin (first) cordons; the node then tries to uncordon.
  {
    name: 'uncordon its own Node',
    request: (r) => ({
      method: 'PATCH',
      path: '/api/v1/nodes/node-a',
      body: { spec: { unschedulable: r === 'admin' } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'replace the taints of its own Node',
    request: (r) => ({
      method: 'PATCH',
      path: '/api/v1/nodes/node-a',
      body: { spec: { taints: [{ key: `set-by-${r}`, effect: 'NoSchedule' }] } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'give its own Node a node-role label',
    request: (r) => ({
      method: 'PATCH',
      path: '/api/v1/nodes/node-a',
      body: { metadata: { labels: { [`node-role.kubernetes.io/${r}`]: '' } } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'set a node-restriction label by JSON patch',
    request: (r) => ({
      method: 'PATCH',
      path: '/api/v1/nodes/node-a',
      body: [{ op: 'add', path: `/metadata/labels/node-restriction.kubernetes.io~1${r}`, value: 'x' }],
      headers: { 'Content-Type': 'application/json-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'set an ordinary label on its own Node',
    request: (r) => ({
      method: 'PATCH',
      path: '/api/v1/nodes/node-a',
      body: { metadata: { labels: { [`zone-${r}`]: 'a' } } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
    expect: { admin: 200, readonly: 403, node: 200, ci: 403 },
  },
  {
    name: 'record an Event about its Node',
    request: (r) => ({
      method: 'POST',
      path: `${NS}/events`,
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `node-ev-${r}`, namespace: 'default' },
        involvedObject: { kind: 'Node', name: 'node-a' },
        reason: 'Starting',
        message: 'starting',
        type: 'Normal',
      },
    }),
    expect: { admin: 201, readonly: 403, node: 201, ci: 403 },
  },
  {
    name: "record an Event about another node's pod",
    request: (r) => ({
      method: 'POST',
      path: `${NS}/events`,
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `pb-ev-${r}`, namespace: 'default' },
        involvedObject: { kind: 'Pod', name: 'pb', namespace: 'default' },
        reason: 'Killing',
        message: 'lies',
        type: 'Warning',
      },
    }),
    expect: { admin: 201, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'record an Event about a ConfigMap',
    request: (r) => ({
      method: 'POST',
      path: `${NS}/events`,
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `cm-ev-${r}`, namespace: 'default' },
        involvedObject: { kind: 'ConfigMap', name: 'cm-a', namespace: 'default' },
        reason: 'X',
        message: 'x',
        type: 'Normal',
      },
    }),
    expect: { admin: 201, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'read Applications',
    request: () => ({ method: 'GET', path: '/apis/berth.dev/v1/namespaces/default/applications' }),
    expect: { admin: 200, readonly: 200, node: 403, ci: 200 },
  },
  {
    name: 'read one Application',
    request: () => ({ method: 'GET', path: '/apis/berth.dev/v1/namespaces/default/applications/shop' }),
    expect: { admin: 200, readonly: 200, node: 403, ci: 200 },
  },
  {
    name: 'create an Application',
    request: (r) => ({
      method: 'POST',
      path: '/apis/berth.dev/v1/namespaces/default/applications',
      body: {
        apiVersion: 'berth.dev/v1',
        kind: 'Application',
        metadata: { name: `app-${r}` },
        spec: { source: { repoURL: 'https://example.com/x.git' } },
      },
    }),
    expect: { admin: 201, readonly: 403, node: 403, ci: 403 },
  },
  {
    name: 'read a Secret',
    request: () => ({ method: 'GET', path: `${NS}/secrets/db` }),
    expect: { admin: 200, readonly: 200, node: 403, ci: 403 },
  },
  {
    name: 'read metrics',
    request: () => ({ method: 'GET', path: '/metrics' }),
    expect: { admin: 200, readonly: 200, node: 403, ci: 403 },
  },
  {
    name: 'discovery',
    request: () => ({ method: 'GET', path: '/apis' }),
    expect: { admin: 200, readonly: 200, node: 200, ci: 200 },
  },
];

describe('API roles', () => {
  let server: TestServer;
  const tokens: Record<Role, string> = {} as Record<Role, string>;

  beforeAll(async () => {
    server = await startTestServer();
    const admin = server.adminToken;
    const post = async (path: string, body: unknown) => {
      const r = await api(server, 'POST', path, { token: admin, body });
      if (r.status !== 201) throw new Error(`setup ${path}: ${r.status} ${r.text}`);
    };
    await post(`${NS}/configmaps`, cm('cm-a'));
    await post(`${NS}/configmaps`, cm('cm-b'));
    for (const r of ROLES) {
      await post(`${NS}/configmaps`, cm(`target-${r}`));
      await post(`${NS}/configmaps`, cm(`doomed-${r}`));
    }
    await post('/api/v1/nodes', nodeObj('node-a'));
    await post('/api/v1/nodes', nodeObj('node-b'));
    await post(`${NS}/pods`, pod('pa', 'node-a', 'cm-a'));
    await post(`${NS}/pods`, pod('pb', 'node-b', 'cm-b'));
    await post(`${NS}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db' },
      stringData: { password: 's3cret' },
    });
    await post('/apis/berth.dev/v1/namespaces/default/applications', {
      apiVersion: 'berth.dev/v1',
      kind: 'Application',
      metadata: { name: 'shop' },
      spec: { source: { repoURL: 'https://example.com/shop.git' } },
    });
    tokens.admin = admin;
    tokens.readonly = (await server.tokens.create({ role: 'readonly' })).token;
    tokens.node = (await server.tokens.create({ role: 'node', node: 'node-a' })).token;
    tokens.ci = (await server.tokens.create({ role: 'ci' })).token;
  }, 60_000);
  afterAll(() => server?.stop());

  for (const row of rows) {
    it(`${row.name}: ${ROLES.map((r) => `${r} ${row.expect[r]}`).join(', ')}, no token 401, bad token 401`, async () => {
      for (const role of ROLES) {
        const req = row.request(role);
        const res = await api(server, req.method, req.path, {
          token: tokens[role],
          body: req.body,
          headers: req.headers,
        });
        expect({ role, status: res.status, reason: res.status >= 400 ? res.body?.reason : undefined }).toEqual({
          role,
          status: row.expect[role],
          reason: row.expect[role] === 403 ? 'Forbidden' : undefined,
        });
      }
      const req = row.request('admin');
      const none = await api(server, req.method, req.path, { body: req.body, headers: req.headers });
      expect(none.status).toBe(401);
      const bad = await api(server, req.method, req.path, {
        token: 'abcdef.0000000000000000',
        body: req.body,
        headers: req.headers,
      });
      expect({ status: bad.status, reason: bad.body.reason }).toEqual({ status: 401, reason: 'Unauthorized' });
    });
  }

  it('readonly sees Secret keys but not their values', async () => {
    const res = await api(server, 'GET', `${NS}/secrets/db`, { token: tokens.readonly });
    expect(res.body.data).toEqual({ password: '' });
    const admin = await api(server, 'GET', `${NS}/secrets/db`, { token: tokens.admin });
    expect(Buffer.from(admin.body.data.password, 'base64').toString()).toBe('s3cret');
  });

  it('readonly reads no Secret value through the last-applied annotation or managedFields (get, list, watch, Table)', async () => {
    const applied = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'applied', namespace: 'default' },
      stringData: { password: 'hunter2' },
    });
    await api(server, 'POST', `${NS}/secrets`, {
      token: tokens.admin,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'applied',
          annotations: { 'kubectl.kubernetes.io/last-applied-configuration': applied, team: 'a' },
        },
        stringData: { password: 'hunter2' },
      },
    });
    const reads = [
      await api(server, 'GET', `${NS}/secrets/applied`, { token: tokens.readonly }),
      await api(server, 'GET', `${NS}/secrets`, { token: tokens.readonly }),
      await api(server, 'GET', `${NS}/secrets?watch=1&timeoutSeconds=1`, { token: tokens.readonly }),
      await api(server, 'GET', `${NS}/secrets/applied`, {
        token: tokens.readonly,
        headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
      }),
    ];
    for (const r of reads) {
      expect(r.status).toBe(200);
      expect(r.text).not.toContain('hunter2');
      expect(r.text).not.toContain(Buffer.from('hunter2').toString('base64'));
    }
    expect(reads[0]!.body.metadata.annotations).toEqual({
      'kubectl.kubernetes.io/last-applied-configuration': '',
      team: 'a',
    });
    const admin = await api(server, 'GET', `${NS}/secrets/applied`, { token: tokens.admin });
    expect(admin.body.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toBe(applied);
  });

  it("a node registering again keeps the admin's cordon, taints and restricted labels", async () => {
    const patch = (body: unknown) =>
      api(server, 'PATCH', '/api/v1/nodes/node-a', {
        token: tokens.admin,
        body,
        headers: { 'Content-Type': 'application/merge-patch+json' },
      });
    expect(
      (
        await patch({
          metadata: { labels: { 'node-role.kubernetes.io/edge': '' } },
          spec: { unschedulable: true, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] },
        })
      ).status,
    ).toBe(200);
    const again = await api(server, 'POST', '/api/v1/nodes', {
      token: tokens.node,
      body: {
        ...nodeObj('node-a'),
        metadata: { name: 'node-a', labels: { rack: 'r1', 'node-role.kubernetes.io/control-plane': '' } },
        spec: {},
      },
    });
    expect(again.status).toBe(201);
    const node = (await api(server, 'GET', '/api/v1/nodes/node-a', { token: tokens.admin })).body;
    expect(node.spec).toMatchObject({
      unschedulable: true,
      taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }],
    });
    expect(node.metadata.labels).toMatchObject({ rack: 'r1', 'node-role.kubernetes.io/edge': '' });
    expect(node.metadata.labels['node-role.kubernetes.io/control-plane']).toBeUndefined();
  });

  it('a node may read volumes, and only take the clean-up finalizer off its own deleted local-path ones', async () => {
    const admin = { token: tokens.admin };
    const volume = (name: string, node: string) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name, finalizers: ['berth.dev/local-path-cleanup'] },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Delete',
        hostPath: { path: `/var/lib/berth/agent-${node}/claims/default/${name}` },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] },
            ],
          },
        },
      },
    });
    for (const [name, node] of [
      ['lp-a', 'node-a'],
      ['lp-b', 'node-b'],
    ] as const) {
      expect(
        (await api(server, 'POST', '/api/v1/persistentvolumes', { ...admin, body: volume(name, node) })).status,
      ).toBe(201);
      expect((await api(server, 'DELETE', `/api/v1/persistentvolumes/${name}`, admin)).status).toBe(200);
    }
    const asNode = (method: string, path: string, body?: unknown) =>
      api(server, method, path, { token: tokens.node, ...(body ? { body } : {}) });
    expect((await asNode('GET', '/api/v1/persistentvolumes')).status).toBe(200);
    expect((await asNode('DELETE', '/api/v1/persistentvolumes/lp-a')).status).toBe(403);
    const current = async (name: string) => (await asNode('GET', `/api/v1/persistentvolumes/${name}`)).body;
    const a = await current('lp-a');
    const moved = await asNode('PUT', '/api/v1/persistentvolumes/lp-a', {
      ...a,
      metadata: { ...a.metadata, finalizers: [] },
      spec: { ...a.spec, hostPath: { path: '/etc' } },
    });
    expect({ status: moved.status, message: moved.body.message }).toEqual({
      status: 403,
      message: expect.stringContaining('may only take the berth.dev/local-path-cleanup finalizer off'),
    });
    const b = await current('lp-b');
    expect(
      (await asNode('PUT', '/api/v1/persistentvolumes/lp-b', { ...b, metadata: { ...b.metadata, finalizers: [] } }))
        .status,
    ).toBe(403);
    expect(
      (await asNode('PUT', '/api/v1/persistentvolumes/lp-a', { ...a, metadata: { ...a.metadata, finalizers: [] } }))
        .status,
    ).toBe(200);
    expect((await api(server, 'GET', '/api/v1/persistentvolumes/lp-a', admin)).status).toBe(404);
    expect((await api(server, 'GET', '/api/v1/persistentvolumes/lp-b', admin)).status).toBe(200);
  });

  it('a join token (node role, no node yet) may only register a Node', async () => {
    const join = (await server.tokens.create({ role: 'node' })).token;
    expect((await api(server, 'POST', '/api/v1/nodes', { token: join, body: nodeObj('node-c') })).status).toBe(201);
    expect((await api(server, 'GET', '/api/v1/nodes/node-c', { token: join })).status).toBe(403);
  });

  it('revoked and expired tokens are refused', async () => {
    const { token, record } = await server.tokens.create({ role: 'readonly' });
    expect((await api(server, 'GET', '/api/v1/namespaces', { token })).status).toBe(200);
    await server.tokens.revoke(record.id);
    expect((await api(server, 'GET', '/api/v1/namespaces', { token })).status).toBe(401);
    const short = await server.tokens.create({ role: 'readonly', ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 10));
    expect((await api(server, 'GET', '/api/v1/namespaces', { token: short.token })).status).toBe(401);
  });

  it('every object has a uid and a creationTimestamp (token Secrets, Events, agent endpoints too)', async () => {
    await api(server, 'POST', `${NS}/events`, {
      token: tokens.node,
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'stamped', namespace: 'default' },
        involvedObject: { kind: 'Node', name: 'node-a' },
        reason: 'X',
        message: 'x',
        type: 'Normal',
      },
    });
    const missing: string[] = [];
    for (const k of KINDS) {
      for (const o of (await server.store.list({ group: k.group, kind: k.kind })).items) {
        if (!o.metadata.creationTimestamp || !o.metadata.uid)
          missing.push(`${k.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('/healthz needs no token', async () => {
    expect((await api(server, 'GET', '/healthz')).status).toBe(200);
  });
});
