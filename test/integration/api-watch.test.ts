/** Watches over HTTP: resume from a resourceVersion, 410 when compacted, nothing leaks when a client dies. */
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const NS = '/api/v1/namespaces/default';
const cm = (name: string, v = '1') => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v } });

/** Opens a watch and collects its events; `close()` ends it from the client side. */
function openWatch(server: TestServer, path: string) {
  const events: any[] = [];
  let status = 0;
  let buffer = '';
  const req = request(
    new URL(path, server.url),
    { ca: server.ca, headers: { Authorization: `Bearer ${server.adminToken}` } },
    (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.trim()) events.push(JSON.parse(line));
        }
      });
      res.on('error', () => {});
    },
  );
  req.on('error', () => {});
  req.end();
  return {
    events,
    status: () => status,
    close: () => req.destroy(),
    async waitFor(n: number, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (events.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return events;
    },
  };
}

async function watches(server: TestServer): Promise<number> {
  const text = (await api(server, 'GET', '/metrics', { token: server.adminToken })).text;
  return [...text.matchAll(/^berth_api_watches\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

describe('API watch', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it('starts with the current objects, then streams changes; resumes from a resourceVersion', async () => {
    const post = (name: string) =>
      api(server, 'POST', `${NS}/configmaps`, { token: server.adminToken, body: cm(name) });
    await post('a');
    const w = openWatch(server, `${NS}/configmaps?watch=true`);
    await w.waitFor(1);
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED a']);
    await post('b');
    await api(server, 'DELETE', `${NS}/configmaps/a`, { token: server.adminToken });
    await w.waitFor(3);
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED a', 'ADDED b', 'DELETED a']);
    const resumeFrom = w.events[1].object.metadata.resourceVersion;
    w.close();

    // A client that reconnects with the last resourceVersion it saw misses nothing and repeats nothing.
    await post('c');
    const again = openWatch(server, `${NS}/configmaps?watch=1&resourceVersion=${resumeFrom}`);
    await again.waitFor(2);
    expect(again.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['DELETED a', 'ADDED c']);
    again.close();
  });

  it('answers 410 Gone for a compacted resourceVersion', async () => {
    for (let i = 0; i < 5; i++)
      await api(server, 'POST', `${NS}/configmaps`, { token: server.adminToken, body: cm(`old-${i}`) });
    await server.store.compact({ keep: 1 });
    const res = await api(server, 'GET', `${NS}/configmaps?watch=1&resourceVersion=1`, { token: server.adminToken });
    expect(res.status).toBe(410);
    expect(res.body).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
  });

  it('a client killed mid-watch leaks no watch', async () => {
    const before = await watches(server);
    const ws = Array.from({ length: 5 }, () => openWatch(server, `${NS}/configmaps?watch=1`));
    await Promise.all(ws.map((w) => w.waitFor(1)));
    expect(await watches(server)).toBe(before + 5);
    for (const w of ws) w.close();
    const deadline = Date.now() + 5000;
    while ((await watches(server)) !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await watches(server)).toBe(before);
  });

  it('timeoutSeconds ends the stream', async () => {
    const started = Date.now();
    const res = await api(server, 'GET', `${NS}/configmaps?watch=1&timeoutSeconds=1`, { token: server.adminToken });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });
});
