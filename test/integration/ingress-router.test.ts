/**
 * The built-in router over real sockets, its view filled by hand (no server): X-Forwarded-*
 * headers, retry to the next endpoint when one refuses, the 502/503/504 bodies, WebSocket-style
 * upgrades, and a route change that leaves a request in flight alone.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngressRouter } from '../../src/network/router.js';
import { buildRouteTable } from '../../src/network/routes.js';
import { ClusterView } from '../../src/network/view.js';
import { freePort } from '../helpers/ports.js';

describe('IngressRouter', () => {
  const view = new ClusterView({} as never);
  const router = new IngressRouter(view, { responseTimeoutMs: 500 });
  const backends: Server[] = [];
  let port = 0;
  let echo = 0;
  let slow = 0;
  let refused = 0;

  const service = (name: string, ports: number[]) => {
    view.services.set(`default/${name}`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'default' },
      spec: { ports: [{ port: 80 }] },
    } as never);
    view.endpoints.set(`default/${name}`, {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace: 'default' },
      subsets: ports.map((p) => ({ addresses: [{ ip: '127.0.0.1' }], ports: [{ port: p }] })),
    } as never);
  };
  const route = (host: string, svc: string) => ({
    host,
    http: {
      paths: [{ path: '/', pathType: 'Prefix' as const, backend: { service: { name: svc, port: { number: 80 } } } }],
    },
  });

  beforeAll(async () => {
    const listen = async (handler: (q: IncomingMessage, s: import('node:http').ServerResponse) => void) => {
      const server = createServer(handler);
      const p = await freePort();
      await new Promise<void>((r) => server.listen(p, '127.0.0.1', () => r()));
      backends.push(server);
      return { server, p };
    };
    const e = await listen((q, s) => s.end(JSON.stringify({ url: q.url, headers: q.headers })));
    e.server.on('upgrade', (q, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(`echo:${d}`));
    });
    echo = e.p;
    slow = (await listen((_q, s) => setTimeout(() => s.end('late'), 1500))).p;
    refused = await freePort();
    service('echo', [refused, echo]);
    service('slow', [slow]);
    service('empty', []);
    view.routes = buildRouteTable([
      {
        metadata: { name: 'i', namespace: 'default' },
        spec: {
          rules: [
            route('echo.test', 'echo'),
            route('slow.test', 'slow'),
            route('empty.test', 'empty'),
            route('gone.test', 'missing'),
          ],
        },
      } as never,
    ]);
    port = (await router.listen({ host: '127.0.0.1', port: 0 })).http!;
  });
  afterAll(async () => {
    await router.close();
    for (const b of backends) b.close();
  });

  const get = (host: string, path = '/', headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on('error', reject)
        .end();
    });

  it('forwards with X-Forwarded-* and retries the next endpoint when one refuses', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await get('echo.test', '/a?b=1', { 'x-forwarded-for': '10.0.0.9' });
      expect(r.status).toBe(200);
      const seen = JSON.parse(r.body);
      expect(seen.url).toBe('/a?b=1');
      expect(seen.headers).toMatchObject({
        host: 'echo.test',
        'x-forwarded-for': '10.0.0.9, 127.0.0.1',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'echo.test',
        'x-real-ip': '127.0.0.1',
      });
    }
  });

  it('says why it cannot route: 404, 503, 504', async () => {
    expect(await get('nowhere.test', '/x')).toEqual({
      status: 404,
      body: '404 Not Found: no Ingress rule matches host "nowhere.test" and path "/x"\n',
    });
    expect(await get('empty.test')).toEqual({
      status: 503,
      body: '503 Service Unavailable: Service default/empty has no ready endpoints\n',
    });
    expect(await get('gone.test')).toEqual({
      status: 503,
      body: '503 Service Unavailable: Service default/missing does not exist\n',
    });
    const late = await get('slow.test');
    expect(late.status).toBe(504);
    expect(late.body).toMatch(/did not answer in 0.5 s/);
  });

  it('passes upgrades through, both ways', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.write('GET /ws HTTP/1.1\r\nhost: echo.test\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n');
    let got = '';
    socket.on('data', (d) => {
      got += d;
      if (got.includes('\r\n\r\n') && !got.includes('echo:')) socket.write('ping');
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no echo: ${got}`)), 5000);
      socket.on('data', () => {
        if (got.includes('echo:ping')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    expect(got).toMatch(/^HTTP\/1.1 101/);
    socket.destroy();
  });

  it('keeps a request in flight on its endpoint when the routes change', async () => {
    const inFlight = get('slow.test');
    await new Promise((r) => setTimeout(r, 100));
    view.routes = buildRouteTable([]);
    expect((await get('slow.test')).status).toBe(404);
    expect((await inFlight).status).toBe(504); // answered by the old route (its 0.5 s limit), not dropped
  });
});
