/** The commit ledger over the API, in a commit status's shape, readable by the ci role. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

describe('GET …/applications/NAME/revisions/SHA', () => {
  let server: TestServer;
  const sha = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
  beforeAll(async () => {
    server = await startTestServer();
    await server.store.create({
      apiVersion: 'berth.dev/v1',
      kind: 'Application',
      metadata: { name: 'shop', namespace: 'default' },
      spec: { source: { repoURL: 'https://git.example.com/shop.git' } },
      status: {
        ledger: [
          {
            revision: sha,
            seenAt: '2026-11-22T10:00:00Z',
            syncedAt: '2026-11-22T10:00:01Z',
            healthyAt: '2026-11-22T10:00:09Z',
            state: 'success',
            description: 'synced and healthy',
          },
        ],
      },
    });
  });
  afterAll(() => server?.stop());

  it('answers with the state of a commit the app has seen (a prefix will do), for the ci role too', async () => {
    const ci = (await server.tokens.create({ role: 'ci' })).token;
    for (const token of [server.adminToken, ci]) {
      const res = await api(
        server,
        'GET',
        `/apis/berth.dev/v1/namespaces/default/applications/shop/revisions/${sha.slice(0, 7)}`,
        { token },
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        revision: sha,
        state: 'success',
        description: 'synced and healthy',
        context: 'berth/shop',
        healthyAt: '2026-11-22T10:00:09Z',
      });
    }
  });

  it('is 404 for a commit the app has not seen, and for other kinds', async () => {
    expect(
      (
        await api(server, 'GET', '/apis/berth.dev/v1/namespaces/default/applications/shop/revisions/ffffff', {
          token: server.adminToken,
        })
      ).status,
    ).toBe(404);
    expect(
      (await api(server, 'GET', '/api/v1/namespaces/default/configmaps/x/revisions/abc', { token: server.adminToken }))
        .status,
    ).toBe(404);
  });
});
