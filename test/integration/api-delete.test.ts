/** DELETE with propagationPolicy over ownerReferences, and the client's resuming, re-listing watch. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveKind } from '../../src/api/kinds.js';
import { BerthClient, type KubeObject } from '../../src/client/index.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const NS = 'default';

describe('API delete propagation and the client watch', () => {
  let server: TestServer;
  let client: BerthClient;
  beforeAll(async () => {
    server = await startTestServer();
    client = new BerthClient({ server: server.url, token: server.adminToken, ca: server.ca, namespace: NS });
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  const CM = resolveKind('cm')!;
  const owned = (name: string, owner: { kind: string; name: string; uid: string }) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace: NS,
      ownerReferences: [{ apiVersion: 'v1', kind: owner.kind, name: owner.name, uid: owner.uid, controller: true }],
    },
  });
  async function family(prefix: string) {
    const root: KubeObject = await client.create<KubeObject>(CM, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${prefix}-root`, namespace: NS },
    });
    const child: KubeObject = await client.create<KubeObject>(
      CM,
      owned(`${prefix}-child`, { kind: 'ConfigMap', name: root.metadata.name, uid: root.metadata.uid! }),
    );
    await client.create(
      CM,
      owned(`${prefix}-grandchild`, { kind: 'ConfigMap', name: child.metadata.name, uid: child.metadata.uid! }),
    );
    await client.create(CM, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${prefix}-stranger`, namespace: NS },
    });
  }
  const names = async (prefix: string) =>
    (await client.list(CM, { namespace: NS })).items
      .map((o) => o.metadata.name)
      .filter((n) => n.startsWith(prefix))
      .sort();

  it.each(['Background', 'Foreground'])('%s deletes dependents, and theirs', async (policy) => {
    await family(policy.toLowerCase());
    const res = await api(
      server,
      'DELETE',
      `/api/v1/namespaces/${NS}/configmaps/${policy.toLowerCase()}-root?propagationPolicy=${policy}`,
      { token: server.adminToken },
    );
    expect(res.status).toBe(200);
    expect(await names(policy.toLowerCase())).toEqual([`${policy.toLowerCase()}-stranger`]);
  });

  it('Orphan keeps dependents and drops their ownerReference', async () => {
    await family('orphan');
    const res = await api(server, 'DELETE', `/api/v1/namespaces/${NS}/configmaps/orphan-root`, {
      token: server.adminToken,
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Orphan' },
    });
    expect(res.status).toBe(200);
    expect(await names('orphan')).toEqual(['orphan-child', 'orphan-grandchild', 'orphan-stranger']);
    expect((await client.get(CM, NS, 'orphan-child')).metadata.ownerReferences).toEqual([]);
    expect((await client.get(CM, NS, 'orphan-grandchild')).metadata.ownerReferences).toHaveLength(1);
  });

  it('answers a delete with a Success Status, as Kubernetes does (a Pod or Namespace with the object)', async () => {
    await api(server, 'POST', '/apis/apps/v1/namespaces/default/deployments', {
      token: server.adminToken,
      body: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'gone' },
        spec: {
          selector: { matchLabels: { app: 'gone' } },
          template: { metadata: { labels: { app: 'gone' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
        },
      },
    });
    const res = await api(server, 'DELETE', '/apis/apps/v1/namespaces/default/deployments/gone', {
      token: server.adminToken,
    });
    expect(res.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: 'gone', group: 'apps', kind: 'deployments', uid: expect.any(String) },
    });
    await api(server, 'POST', '/api/v1/namespaces', {
      token: server.adminToken,
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'short-lived' } },
    });
    expect(
      (await api(server, 'DELETE', '/api/v1/namespaces/short-lived', { token: server.adminToken })).body,
    ).toMatchObject({ kind: 'Namespace', metadata: { name: 'short-lived' } });
  });

  it('a Namespace goes Terminating, its contents go, then it goes; no new content while it terminates', async () => {
    await api(server, 'POST', '/api/v1/namespaces', {
      token: server.adminToken,
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } },
    });
    await api(server, 'POST', '/api/v1/namespaces/doomed/configmaps', {
      token: server.adminToken,
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'inside' } },
    });
    const from = await server.store.revision();
    const res = await api(server, 'DELETE', '/api/v1/namespaces/doomed', { token: server.adminToken });
    expect(res.body).toMatchObject({
      kind: 'Namespace',
      metadata: { name: 'doomed', deletionTimestamp: expect.any(String) },
      status: { phase: 'Terminating' },
    });
    // In the store's history: Terminating first, then the contents deleted, then the Namespace.
    const changes: string[] = [];
    const ac = new AbortController();
    const to = await server.store.revision();
    for await (const e of server.store.watch({ fromRevision: from, signal: ac.signal })) {
      if (e.object.metadata.name === 'doomed' || e.object.metadata.namespace === 'doomed')
        changes.push(
          `${e.type} ${e.object.kind} ${(e.object.status as { phase?: string } | undefined)?.phase ?? ''}`.trim(),
        );
      if (e.revision >= to) ac.abort();
    }
    expect(changes).toEqual(['MODIFIED Namespace Terminating', 'DELETED ConfigMap', 'DELETED Namespace Terminating']);
    // Content for a namespace marked Terminating is refused.
    await api(server, 'POST', '/api/v1/namespaces', {
      token: server.adminToken,
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'closing' } },
    });
    const closing = await server.store.get({ group: '', kind: 'Namespace', namespace: '', name: 'closing' });
    await server.store.update({
      ...closing,
      metadata: { ...closing.metadata, deletionTimestamp: new Date().toISOString() },
    });
    const refused = await api(server, 'POST', '/api/v1/namespaces/closing/configmaps', {
      token: server.adminToken,
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late' } },
    });
    expect({ status: refused.status, message: refused.body.message }).toEqual({
      status: 403,
      message: 'unable to create new content in namespace closing because it is being terminated',
    });
  });

  it('an object with finalizers is marked, not removed, and goes when its last finalizer is taken off', async () => {
    const token = { token: server.adminToken };
    await client.create(CM, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'held', namespace: NS, finalizers: ['example.com/hold', 'example.com/audit'] },
    });
    const path = `/api/v1/namespaces/${NS}/configmaps/held`;
    const deleting = await api(server, 'DELETE', path, token);
    expect(deleting.status).toBe(200);
    expect(deleting.body.metadata).toMatchObject({
      deletionTimestamp: expect.any(String),
      deletionGracePeriodSeconds: 0,
    });
    // Deleting again changes nothing; no finalizer may be added while it waits.
    expect((await api(server, 'DELETE', path, token)).body.metadata.deletionTimestamp).toBe(
      deleting.body.metadata.deletionTimestamp,
    );
    const added = await api(server, 'PATCH', path, {
      ...token,
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { metadata: { finalizers: ['example.com/hold', 'example.com/audit', 'example.com/more'] } },
    });
    expect({ status: added.status, message: added.body.message }).toMatchObject({
      status: 422,
      message: expect.stringContaining('no new finalizers can be added if the object is being deleted'),
    });
    const one = await api(server, 'PATCH', path, {
      ...token,
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { metadata: { finalizers: ['example.com/audit'] } },
    });
    expect(one.status).toBe(200);
    expect((await api(server, 'GET', path, token)).status).toBe(200);
    const last = await api(server, 'PATCH', path, {
      ...token,
      headers: { 'Content-Type': 'application/json-patch+json' },
      body: [{ op: 'remove', path: '/metadata/finalizers' }],
    });
    expect(last.status).toBe(200);
    expect((await api(server, 'GET', path, token)).status).toBe(404);
  });

  it('refuses an unknown policy', async () => {
    await client.create(CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept', namespace: NS } });
    const res = await api(server, 'DELETE', `/api/v1/namespaces/${NS}/configmaps/kept?propagationPolicy=Sometimes`, {
      token: server.adminToken,
    });
    expect(res.status).toBe(400);
  });

  it('the client watch re-lists after 410 and carries on', async () => {
    await client.create(CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w1', namespace: NS } });
    await server.store.compact({ keep: 1 });
    const ac = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      // From a compacted revision: the server answers 410, the client re-lists and reports the state.
      for await (const e of client.watch(CM, { namespace: NS, resourceVersion: '1', signal: ac.signal }))
        seen.push(`${e.type} ${e.object.metadata.name}`);
    })();
    const deadline = Date.now() + 10_000;
    while (!seen.includes('ADDED w1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await client.create(CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w2', namespace: NS } });
    while (!seen.includes('ADDED w2') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await watching;
    expect(seen).toContain('ADDED w1');
    expect(seen).toContain('ADDED w2');
    expect(new Set(seen).size).toBe(seen.length);
  });
});
