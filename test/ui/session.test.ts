/**
 * The dashboard's server side over real HTTP: its page and assets (nothing from another host, a
 * CSP whose hash is the page's import map), the sign-in that sets the cookie, and the CSRF rule
 * for writes the cookie signs.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBerthError } from '../../src/api/errors.js';
import { CSRF_HEADER, SESSION_COOKIE, serveUi, sessionToken } from '../../src/ui/serve.js';

const GOOD = 'berth-token.good';
const authenticate = async (token: string) => {
  if (token !== GOOD) throw Object.assign(new Error('Unauthorized: unknown token'), { status: 401 });
  return { tokenId: 'abc', role: 'readonly' };
};

const fakeRequest = (method: string, headers: Record<string, string>) =>
  ({ method, headers }) as unknown as IncomingMessage;

describe('dashboard sessions', () => {
  it.each([
    ['GET', {}, undefined],
    ['GET', { cookie: `a=1; ${SESSION_COOKIE}=${encodeURIComponent('x y')}; b=2` }, 'x y'],
    ['HEAD', { cookie: `${SESSION_COOKIE}=t` }, 't'],
    ['POST', { cookie: `${SESSION_COOKIE}=t`, [CSRF_HEADER]: '1' }, 't'],
    ['DELETE', { cookie: `${SESSION_COOKIE}=t`, [CSRF_HEADER]: '1' }, 't'],
    ['POST', { cookie: `other=${SESSION_COOKIE}` }, undefined],
  ])('%s with %j signs as %s', (method, headers, token) =>
    expect(sessionToken(fakeRequest(method, headers))).toBe(token),
  );

  it.each(['POST', 'PUT', 'PATCH', 'DELETE'])('a cookie-signed %s without the CSRF header is refused', (method) => {
    let error: unknown;
    try {
      sessionToken(fakeRequest(method, { cookie: `${SESSION_COOKIE}=t` }));
    } catch (e) {
      error = e;
    }
    expect(isBerthError(error) && error.code).toBe('Forbidden');
  });
});

describe('the dashboard over HTTP', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      serveUi(req, res, url, authenticate).catch((e: Error & { httpStatus?: number; status?: number }) => {
        res.writeHead(e.httpStatus ?? e.status ?? 500).end(e.message);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('serves one page for every address, whose only inline script is the import map its CSP allows', async () => {
    for (const p of ['/ui/', '/ui/apps/default/web', '/ui/logs/ns/pod?container=c', '/ui/cluster']) {
      const res = await fetch(`${base}${p}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      const page = await res.text();
      const importMap = /<script type="importmap">(.*?)<\/script>/s.exec(page)![1]!;
      const hash = createHash('sha256').update(importMap).digest('base64');
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      // Nothing the page loads is on another host.
      for (const [, src] of page.matchAll(/(?:src|href)="([^"]+)"/g)) expect(src).toMatch(/^\/ui\//);
      for (const target of Object.values(JSON.parse(importMap).imports as Record<string, string>))
        expect(target).toMatch(/^\/ui\/vendor\//);
    }
    const bare = await fetch(`${base}/ui`, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).toEqual([308, '/ui/']);
  });

  it('serves the vendored modules and the built code, with ETags; nothing outside them', async () => {
    const page = await (await fetch(`${base}/ui/`)).text();
    const imports = JSON.parse(/<script type="importmap">(.*?)<\/script>/s.exec(page)![1]!).imports as Record<
      string,
      string
    >;
    for (const p of [...Object.values(imports), '/ui/assets/main.js', '/ui/assets/style.css']) {
      const res = await fetch(`${base}${p}`);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/(javascript|css)/);
      const again = await fetch(`${base}${p}`, { headers: { 'if-none-match': res.headers.get('etag')! } });
      expect(again.status).toBe(304);
    }
    for (const p of [
      '/ui/assets/..%2F..%2Fpackage.json',
      '/ui/assets/serve.js',
      '/ui/vendor/ws.js',
      '/ui/vendor/constructor',
      '/ui/vendor/__proto__',
      '/ui/assets/x.ts',
    ])
      expect((await fetch(`${base}${p}`)).status, p).toBe(404);
    expect((await fetch(`${base}/ui/apps`, { method: 'POST' })).status).toBe(405);
  });

  it('signs in: the token is checked, then kept in an HttpOnly, Secure, SameSite=Strict cookie; signing out clears it', async () => {
    const login = (token: string, headers: Record<string, string> = { [CSRF_HEADER]: '1' }) =>
      fetch(`${base}/ui/login`, { method: 'POST', headers, body: JSON.stringify({ token }) });
    expect((await login(GOOD, {})).status).toBe(403); // another site's form cannot sign anyone in
    expect((await login('berth-token.bad')).status).toBe(401);
    expect((await login('')).status).toBe(400);
    const ok = await login(GOOD);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ tokenId: 'abc', role: 'readonly' });
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(
      new RegExp(`^${SESSION_COOKIE}=berth-token.good; Path=/; Max-Age=\\d+; HttpOnly; Secure; SameSite=Strict$`),
    );
    const session = await fetch(`${base}/ui/session`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(await session.json()).toEqual({ tokenId: 'abc', role: 'readonly' });
    expect((await fetch(`${base}/ui/session`)).status).toBe(401);
    const out = await fetch(`${base}/ui/logout`, { method: 'POST', headers: { [CSRF_HEADER]: '1' } });
    expect(out.headers.get('set-cookie')).toMatch(new RegExp(`^${SESSION_COOKIE}=; Path=/; Max-Age=0;`));
  });
});
