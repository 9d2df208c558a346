/**
 * Revocation (security issue, item 17): a token revoked through the API (as `berth token revoke`
 * does) stops working at once on the server that revoked it, and within one watch round-trip on
 * another server sharing the store (real etcd) — not after the 5 s validation cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

describe('token revocation', () => {
  let etcd: EtcdCluster;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    etcd = await startEtcd(1);
    a = await startTestServer({ storeUrl: etcd.url('revocation') });
    b = await startTestServer({ storeUrl: etcd.url('revocation') });
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await etcd?.stop();
  });

  it('a revoked token is refused at once here and within a watch round-trip on every server', async () => {
    const { token, record } = await a.tokens.create({ role: 'readonly' });
    // Both servers have validated (and cached) it.
    for (const s of [a, b]) expect((await api(s, 'GET', '/api/v1/namespaces', { token })).status).toBe(200);
    const revoked = await api(a, 'DELETE', `/api/v1/namespaces/berth-system/secrets/token-${record.id}`, {
      token: a.adminToken,
    });
    expect(revoked.status).toBe(200);
    const at = Date.now();
    expect((await api(a, 'GET', '/api/v1/namespaces', { token })).status).toBe(401);
    for (;;) {
      const status = (await api(b, 'GET', '/api/v1/namespaces', { token })).status;
      if (status === 401) break;
      expect(Date.now() - at, 'the other server still accepts the revoked token').toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('a token whose Secret is replaced (a new secret under the same id) is re-checked at once', async () => {
    const { token, record } = await a.tokens.create({ role: 'readonly' });
    expect((await api(b, 'GET', '/api/v1/namespaces', { token })).status).toBe(200);
    await a.tokens.revoke(record.id);
    await a.tokens.create({ role: 'readonly', id: record.id });
    const at = Date.now();
    while ((await api(b, 'GET', '/api/v1/namespaces', { token })).status !== 401) {
      expect(Date.now() - at).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});
