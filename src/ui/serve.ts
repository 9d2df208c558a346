/**
 * The dashboard's server side: its page and assets under /ui/, and the sign-in that keeps a pasted
 * token in a cookie. Everything the page loads comes from this server (preact and htm from
 * node_modules, the UI's own code from its build, made by `npm install`): no other host is asked
 * for anything. The UI reads and acts through the ordinary API, where the cookie stands in for the
 * bearer header (sessionToken), so each role sees and may do exactly what its API calls allow.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../api/errors.js';

export const UI_PATH = '/ui';
export const SESSION_COOKIE = 'berth_session';
/**
 * Requests the cookie signs that change something must carry this header: a page of another site
 * cannot set it without a CORS preflight, which this server never grants (with SameSite=Strict,
 * the cookie is not even sent from there).
 */
export const CSRF_HEADER = 'x-berth-csrf';
const SESSION_SECONDS = 12 * 3600;

interface Session {
  tokenId: string;
  role: string;
}

export type Authenticate = (token: string) => Promise<Session>;

/** The token a browser's cookie carries, if any; a write without the CSRF header is refused. */
export function sessionToken(req: IncomingMessage): string | undefined {
  const token = cookieOf(req.headers.cookie, SESSION_COOKIE);
  if (token === undefined) return undefined;
  const method = req.method ?? 'GET';
  if (!['GET', 'HEAD', 'OPTIONS'].includes(method) && req.headers[CSRF_HEADER] === undefined)
    throw new BerthError('Forbidden', `a ${method} signed by the dashboard's cookie needs the ${CSRF_HEADER} header`);
  return token;
}

function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export const isUiPath = (pathname: string): boolean => pathname === UI_PATH || pathname.startsWith(`${UI_PATH}/`);

/** Both the sources (src/ui/serve.ts) and the build (.build/ui/serve.js) are two folders below the checkout. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);

/** What the import map names, and where each file is. */
const VENDOR: Record<string, { specifier: string; file: () => string }> = {
  'preact.js': { specifier: 'preact', file: () => path.join(preactDir(), 'dist/preact.module.js') },
  'hooks.js': { specifier: 'preact/hooks', file: () => path.join(preactDir(), 'hooks/dist/hooks.module.js') },
  'htm.js': { specifier: 'htm', file: () => path.join(htmDir(), 'dist/htm.module.js') },
  'htm-preact.js': { specifier: 'htm/preact', file: () => path.join(htmDir(), 'preact/index.module.js') },
};
const preactDir = () => path.dirname(require.resolve('preact/package.json'));
// htm exports no package.json: its main file is in dist/.
const htmDir = () => path.resolve(path.dirname(require.resolve('htm')), '..');

const IMPORT_MAP = JSON.stringify({
  imports: Object.fromEntries(Object.entries(VENDOR).map(([file, v]) => [v.specifier, `${UI_PATH}/vendor/${file}`])),
});
const IMPORT_MAP_HASH = createHash('sha256').update(IMPORT_MAP).digest('base64');

/** Every module the page imports, announced up front: fetched at once instead of import by import. */
function preloads(): string {
  let built: string[] = [];
  try {
    built = readdirSync(path.join(ROOT, '.build/ui-web')).filter((f) => f.endsWith('.js'));
  } catch {
    // not built: the page says nothing more than its entry point
  }
  const modules = [
    ...Object.keys(VENDOR).map((f) => `${UI_PATH}/vendor/${f}`),
    ...built.map((f) => `${UI_PATH}/assets/${f}`),
  ];
  return modules.map((m) => `<link rel="modulepreload" href="${m}">`).join('\n');
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Berth</title>
<link rel="stylesheet" href="${UI_PATH}/assets/style.css">
<script type="importmap">${IMPORT_MAP}</script>
${preloads()}
<script type="module" src="${UI_PATH}/assets/main.js"></script>
</head>
<body><div id="root"></div></body>
</html>
`;

const HEADERS = {
  'Content-Security-Policy': [
    "default-src 'none'",
    `script-src 'self' 'sha256-${IMPORT_MAP_HASH}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

/** Files are read once: they do not change while the server runs. */
const files = new Map<string, { body: Buffer; etag: string }>();
function fileOf(file: string): { body: Buffer; etag: string } {
  let f = files.get(file);
  if (!f) {
    const body = readFileSync(file);
    f = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
    files.set(file, f);
  }
  return f;
}

/** Where an asset of /ui/assets/ is: the UI's build for code, its sources for the stylesheet. */
function assetFile(name: string): string | undefined {
  if (!/^[a-z0-9-]+\.(js|css|js\.map)$/.test(name)) return undefined;
  return name.endsWith('.css') ? path.join(ROOT, 'src/ui/web', name) : path.join(ROOT, '.build/ui-web', name);
}

export async function serveUi(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  authenticate: Authenticate,
): Promise<void> {
  const method = req.method ?? 'GET';
  const sub = url.pathname.slice(UI_PATH.length);
  if (sub === '/login' || sub === '/logout' || sub === '/session') return session(req, res, sub, authenticate);
  if (method !== 'GET' && method !== 'HEAD')
    throw new BerthError('MethodNotAllowed', `only GET is allowed on ${url.pathname}`);
  if (sub === '') {
    res.writeHead(308, { Location: `${UI_PATH}/` }).end();
    return;
  }
  const [, folder, name] = /^\/(assets|vendor)\/(.+)$/.exec(sub) ?? [];
  if (folder) {
    const file =
      folder === 'vendor' ? (Object.hasOwn(VENDOR, name!) ? VENDOR[name!]!.file() : undefined) : assetFile(name!);
    if (!file) throw new BerthError('NotFound', `no dashboard asset ${url.pathname}`);
    let f: { body: Buffer; etag: string };
    try {
      f = fileOf(file);
    } catch {
      throw new BerthError('NotFound', `no dashboard asset ${url.pathname} (is the UI built? run npm run build)`);
    }
    const headers = {
      ...HEADERS,
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      ETag: f.etag,
    };
    if (req.headers['if-none-match'] === f.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': f.body.length });
    res.end(method === 'HEAD' ? undefined : f.body);
    return;
  }
  // Every other path is a page of the dashboard (deep links): the same document, which routes itself.
  res
    .writeHead(200, { ...HEADERS, 'Content-Type': 'text/html; charset=utf-8' })
    .end(method === 'HEAD' ? undefined : PAGE);
}

async function session(
  req: IncomingMessage,
  res: ServerResponse,
  sub: string,
  authenticate: Authenticate,
): Promise<void> {
  const json = (code: number, body: unknown, cookie?: string): void =>
    void res
      .writeHead(code, { ...HEADERS, 'Content-Type': 'application/json', ...(cookie ? { 'Set-Cookie': cookie } : {}) })
      .end(JSON.stringify(body));
  if (sub === '/session') {
    const token = sessionToken(req);
    if (!token) throw new BerthError('Unauthorized', 'Unauthorized: not signed in');
    const who = await authenticate(token);
    return json(200, { tokenId: who.tokenId, role: who.role });
  }
  if (req.method !== 'POST') throw new BerthError('MethodNotAllowed', `only POST is allowed on ${UI_PATH}${sub}`);
  // Both change the cookie: neither may come from another site's form (login CSRF included).
  if (req.headers[CSRF_HEADER] === undefined)
    throw new BerthError('Forbidden', `${UI_PATH}${sub} needs the ${CSRF_HEADER} header`);
  const cookie = (value: string, maxAge: number) =>
    `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=Strict`;
  if (sub === '/logout') return json(200, { signedOut: true }, cookie('', 0));
  const body = await readSmallJson(req);
  const token = typeof body.token === 'string' ? body.token.trim() : '';
  if (!token) throw new BerthError('BadRequest', 'token: a token is required (berth token create --role readonly)');
  const who = await authenticate(token);
  return json(200, { tokenId: who.tokenId, role: who.role }, cookie(token, SESSION_SECONDS));
}

async function readSmallJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 16_384) throw new BerthError('RequestEntityTooLarge', 'the sign-in body is over 16 KiB');
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // said below
  }
  throw new BerthError('BadRequest', 'the sign-in body must be a JSON object: {"token": "…"}');
}
