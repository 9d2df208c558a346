/**
 * The nginx data plane routes as the route table does: one route table (the Kubernetes docs'
 * path examples across exact, wildcard and host-less rules, and a defaultBackend) rendered for a
 * real nginx (Debian's), every (host, path) request answered by the backend matchRoute names.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderNginxConfig } from '../../src/network/nginx.js';
import { buildRouteTable, matchRoute, type IngressObject } from '../../src/network/routes.js';
import { freePort } from '../helpers/ports.js';

const rule = (host: string | undefined, paths: [string, 'Exact' | 'Prefix' | 'ImplementationSpecific', string][]) => ({
  ...(host ? { host } : {}),
  http: {
    paths: paths.map(([p, pathType, service]) => ({
      path: p,
      pathType,
      backend: { service: { name: service, port: { number: 80 } } },
    })),
  },
});
const INGRESSES = [
  {
    metadata: { name: 'a', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      defaultBackend: { service: { name: 'fallback', port: { number: 80 } } },
      rules: [
        rule('docs.example.com', [
          ['/', 'Prefix', 'root'],
          ['/aaa', 'Prefix', 'aaa'],
          ['/aaa/bbb', 'Prefix', 'aaabbb'],
          ['/foo', 'Exact', 'foo-exact'],
          ['/foo', 'Prefix', 'foo-prefix'],
          ['/x/y/', 'Prefix', 'xy'],
        ]),
        rule('*.wild.com', [
          ['/api', 'Prefix', 'wild-api'],
          ['/z', 'Exact', 'wild-z'],
        ]),
        rule('exact.wild.com', [['/api/v2', 'Prefix', 'exact-v2']]),
        rule(undefined, [
          ['/shared', 'ImplementationSpecific', 'shared'],
          ['/api/v3', 'Prefix', 'anyhost-v3'],
        ]),
      ],
    },
  },
] as IngressObject[];
const HOSTS = ['docs.example.com', 'a.wild.com', 'exact.wild.com', 'a.b.wild.com', 'other.com'];
const PATHS = [
  '/',
  '/aaa',
  '/aaa/',
  '/aaa/ccc',
  '/aaa/bbb',
  '/aaa/bbbxyz',
  '/aaa/bbb/ccc',
  '/foo',
  '/foo/',
  '/foo/bar',
  '/foobar',
  '/x/y',
  '/x/y/z',
  '/x/yz',
  '/api',
  '/api/v2/x',
  '/api/v3',
  '/z',
  '/z/',
  '/shared/1',
  '/sharedx',
  '/ccc',
];

describe('nginx routes as the route table does', () => {
  const table = buildRouteTable(INGRESSES);
  const services = [...table.services].map((s) => s.split('/')[1]!);
  const backends = new Map<string, { server: Server; port: number }>();
  let nginx: ChildProcess | undefined;
  let dir = '';
  let port = 0;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-nginx-routes-'));
    mkdirSync(path.join(dir, 'tmp'));
    for (const name of services) {
      const server = createServer((_q, s) => s.end(name));
      const p = await freePort();
      await new Promise<void>((r) => server.listen(p, '127.0.0.1', () => r()));
      backends.set(name, { server, port: p });
    }
    port = await freePort();
    const conf = renderNginxConfig(table, {
      prefix: dir,
      http: { host: '127.0.0.1', port },
      certificates: new Map(),
      resolve: (b) => ({
        ok: true,
        targets: [{ ip: '127.0.0.1', port: backends.get(b.service)!.port }],
        service: {} as never,
        portName: undefined,
        proxyPort: undefined,
      }),
    });
    writeFileSync(path.join(dir, 'nginx.conf'), conf);
    nginx = spawn('nginx', ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    while (
      !(await ask('other.com', '/').then(
        () => true,
        () => false,
      ))
    ) {
      if (Date.now() > deadline || nginx.exitCode !== null) throw new Error('nginx did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGQUIT');
      await new Promise((r) => nginx!.once('exit', r));
    }
    for (const { server } of backends.values()) server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function ask(host: string, p: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: p, headers: { host } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it.each(HOSTS.flatMap((h) => PATHS.map((p) => [h, p] as const)))('%s%s', async (host, p) => {
    const expected = matchRoute(table, host, p)?.backend.service;
    const got = await ask(host, p);
    if (expected) expect(got.body, `${host}${p}`).toBe(expected);
    else expect(got.status).toBe(404);
  });
});
