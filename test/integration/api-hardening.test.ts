/**
 * Requests that used to take the server down or slip past its input checks (security issue,
 * items 1–3): a request target that is not a URL, prototype keys in patches and bodies, deep
 * nesting, bad percent-encoding, bodies that are not JSON, invalid UTF-8. Each answers a 4xx
 * Status, and the server goes on serving.
 */
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const NS = '/api/v1/namespaces/default';

/** Sends raw bytes over TLS and returns what came back before the server closed or 5 s passed. */
function rawTls(server: TestServer, bytes: string): Promise<string> {
  const port = Number(new URL(server.url).port);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: server.ca, servername: 'localhost' }, () =>
      socket.write(bytes),
    );
    let out = '';
    socket.on('data', (d) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      resolve(out);
    }, 5000);
  });
}

describe('API hardening', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await api(server, 'POST', `${NS}/configmaps`, {
      token: server.adminToken,
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept' }, data: { a: '1' } },
    });
  });
  afterAll(() => server?.stop());

  it('a request target that is not a URL answers 400, unauthenticated, and the server goes on', async () => {
    const answer = await rawTls(server, 'GET http://[bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).toContain('"kind":"Status"');
    expect(answer).toContain('is not a valid URL');
    expect((await api(server, 'GET', '/healthz')).status).toBe(200);
  });

  it.each<[string, string, unknown, string]>([
    [
      'a JSON patch through __proto__',
      'application/json-patch+json',
      [{ op: 'add', path: '/__proto__/polluted', value: '1' }],
      '__proto__',
    ],
    [
      'a JSON patch through constructor/prototype',
      'application/json-patch+json',
      [{ op: 'add', path: '/metadata/constructor/prototype/polluted', value: '1' }],
      'constructor',
    ],
    [
      'a JSON patch moving from __proto__',
      'application/json-patch+json',
      [{ op: 'copy', from: '/__proto__', path: '/data/x' }],
      '__proto__',
    ],
  ])('%s is refused with 422 and pollutes nothing', async (_, type, patch, key) => {
    const res = await api(server, 'PATCH', `${NS}/configmaps/kept`, {
      token: server.adminToken,
      rawBody: JSON.stringify(patch),
      headers: { 'Content-Type': type },
    });
    expect({ status: res.status, reason: res.body.reason }).toEqual({ status: 422, reason: 'Invalid' });
    expect(res.body.message).toContain(key);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await api(server, 'GET', '/metrics', { token: server.adminToken })).status).toBe(200);
  });

  it.each<[string, string, string, string]>([
    ['a merge patch with __proto__', 'PATCH', 'application/merge-patch+json', '{"__proto__":{"polluted":"1"}}'],
    [
      'a strategic merge patch with a nested __proto__',
      'PATCH',
      'application/strategic-merge-patch+json',
      '{"data":{"__proto__":{"polluted":"1"}}}',
    ],
    [
      'a strategic merge directive naming __proto__',
      'PATCH',
      'application/strategic-merge-patch+json',
      '{"$setElementOrder/__proto__":[{"polluted":"1"}]}',
    ],
    [
      'a body with a constructor key',
      'PUT',
      'application/json',
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kept"},"data":{"constructor":"x"}}',
    ],
    [
      'a create with prototype in labels',
      'POST',
      'application/json',
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p","labels":{"prototype":"x"}}}',
    ],
  ])('%s is refused with 422', async (_, method, type, body) => {
    const path = method === 'POST' ? `${NS}/configmaps` : `${NS}/configmaps/kept`;
    const before = await api(server, 'GET', `${NS}/configmaps/kept`, { token: server.adminToken });
    const res = await api(server, method, path, {
      token: server.adminToken,
      rawBody: body,
      headers: { 'Content-Type': type },
    });
    expect({ status: res.status, reason: res.body.reason, kind: res.body.kind }).toEqual({
      status: 422,
      reason: 'Invalid',
      kind: 'Status',
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const after = await api(server, 'GET', `${NS}/configmaps/kept`, { token: server.adminToken });
    expect(after.body.metadata.resourceVersion).toBe(before.body.metadata.resourceVersion);
  });

  it.each(['default', 'berth-system'])(
    'the %s namespace may not be deleted (the fuzz suite deleted it, and every token with it)',
    async (name) => {
      const res = await api(server, 'DELETE', `/api/v1/namespaces/${name}`, { token: server.adminToken });
      expect({ status: res.status, message: res.body.message }).toEqual({
        status: 403,
        message: `namespaces "${name}" is forbidden: this namespace may not be deleted`,
      });
      expect(
        (await api(server, 'GET', '/api/v1/namespaces/berth-system/secrets', { token: server.adminToken })).status,
      ).toBe(200);
    },
  );

  it.each<[string, string, string, { rawBody?: string | Buffer; headers?: Record<string, string> }, number, string]>([
    [
      '100,000-deep JSON',
      'POST',
      `${NS}/configmaps`,
      { rawBody: '['.repeat(100_000) + ']'.repeat(100_000) },
      400,
      'nests',
    ],
    ['a path that is not percent-encoding', 'GET', `${NS}/configmaps/%zz`, {}, 400, 'percent-encoding'],
    [
      'a text/plain create',
      'POST',
      `${NS}/configmaps`,
      {
        rawBody: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"t"}}',
        headers: { 'Content-Type': 'text/plain' },
      },
      415,
      'text/plain',
    ],
    [
      'a protobuf create',
      'POST',
      `${NS}/configmaps`,
      { rawBody: 'k8s\u0000', headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' } },
      415,
      'protobuf',
    ],
    [
      'invalid UTF-8',
      'POST',
      `${NS}/configmaps`,
      {
        rawBody: Buffer.concat([
          Buffer.from('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"a":"'),
          Buffer.from([0xff, 0xfe]),
          Buffer.from('"}}'),
        ]),
      },
      400,
      'UTF-8',
    ],
  ])('%s → %i', async (_, method, path, options, status, words) => {
    const res = await api(server, method, path, { token: server.adminToken, ...options });
    expect({ status: res.status, kind: res.body.kind }).toEqual({ status, kind: 'Status' });
    expect(res.body.message).toContain(words);
    const list = await api(server, 'GET', `${NS}/configmaps`, { token: server.adminToken });
    expect(list.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['kept']);
  });
});
