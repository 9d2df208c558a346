/**
 * The built-in ingress router: HTTP (and HTTPS with SNI) in front of the Services the route table
 * names, forwarding over keep-alive connection pools (undici) to ready endpoints in turn. A
 * request that could not reach an endpoint (refused, or reset before it was sent) goes to the
 * next one, so a pod that just stopped costs no failed request. The route table is swapped whole
 * on changes: requests in flight finish where they started.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { Pool } from 'undici';
import { createHttpsServer } from '../transport/https.js';
import { matchRoute, normalizeHost, tlsFor } from './routes.js';
import type { LoadCounter, Series } from './load.js';
import { Turns } from './turns.js';
import type { ClusterView, Target } from './view.js';

type RouteSeries = { ingress: Series; service: Series };

export interface RouterOptions {
  /** Time allowed for an endpoint's response headers (504 after it). */
  responseTimeoutMs?: number;
  connectTimeoutMs?: number;
  log?: { warn(o: object, m: string): void; info?(o: object, m: string): void };
  /** Counts each request for its Ingress, Service and pod (the HPA's requests_per_second). */
  load?: LoadCounter;
  /** Told of each request once answered (Prometheus: requests by host and status, latency). */
  observe?: (host: string, status: number, seconds: number) => void;
}

export interface Listen {
  host: string;
  port: number;
}

/** Headers that belong to one connection, not to the request (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'http2-settings',
]);
/** Errors that mean the request never reached the endpoint: another may take it. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNRESET',
  'UND_ERR_SOCKET',
  'EPIPE',
]);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export class IngressRouter {
  private readonly pools = new Map<string, Pool>();
  private readonly turns = new Turns();
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly contexts = new Map<string, { pair: unknown; context: SecureContext }>();
  private readonly routeSeries = new WeakMap<object, RouteSeries>();

  constructor(
    private readonly view: ClusterView,
    private readonly o: RouterOptions = {},
  ) {
    // Pools of endpoints that left every Service are closed (after their requests finish).
    view.onChange(() => this.prunePools());
  }

  /** Starts listening; returns the ports bound (port 0 picks one). */
  async listen(http: Listen | undefined, https?: Listen): Promise<{ http?: number; https?: number }> {
    const out: { http?: number; https?: number } = {};
    if (http) out.http = await this.serve(createHttpServer({ keepAliveTimeout: 65_000 }), http, false);
    if (https) {
      const server = createHttpsServer({
        SNICallback: (name, cb) => cb(null, this.contextFor(name)),
        keepAliveTimeout: 65_000,
      });
      out.https = await this.serve(server, https, true);
    }
    return out;
  }

  private async serve(server: Server, at: Listen, secure: boolean): Promise<number> {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      try {
        this.handle(req, res, secure);
      } catch (e) {
        this.refuse(e, () =>
          res.headersSent
            ? res.destroy()
            : fail(res, statusFor(e), `the request could not be routed: ${(e as Error).message}`),
        );
      }
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      try {
        this.upgrade(req, socket, head, secure);
      } catch (e) {
        const status = statusFor(e);
        this.refuse(e, () =>
          socket.end(`HTTP/1.1 ${status} ${REASONS[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`),
        );
      }
    });
    server.on(secure ? 'secureConnection' : 'connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    // A request Node's parser refuses is answered as Node itself would (400, 431, 408), then closed.
    server.on('clientError', (e: Error & { code?: string }, socket: Socket) => {
      if (!socket.writable || socket.bytesWritten > 0) return void socket.destroy();
      const [code, text] =
        e.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large']
          : e.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'Request Timeout']
            : [400, 'Bad Request'];
      socket.end(`HTTP/1.1 ${code} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => resolve());
    });
    this.servers.push(server);
    return (server.address() as { port: number }).port;
  }

  /** A request that could not be handled is answered, never left to take the process down. */
  private refuse(e: unknown, answer: () => void): void {
    if (statusFor(e) >= 500) this.o.log?.warn({ err: e }, 'ingress request failed');
    answer();
  }

  /** Stops accepting, lets requests in flight finish (up to `graceMs`), then closes everything. */
  async close(graceMs = 5000): Promise<void> {
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of this.servers) s.closeIdleConnections?.();
    const timer = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => {})));
    this.pools.clear();
  }

  private handle(req: IncomingMessage, res: ServerResponse, secure: boolean): void {
    const host = normalizeHost(req.headers.host);
    // One listener for what is counted when the response is over: the route's load, the observation.
    const observe = this.o.observe;
    const started = observe ? performance.now() : 0;
    let counted: RouteSeries | undefined;
    if (observe || this.o.load)
      res.once('close', () => {
        if (counted) {
          this.o.load!.finish(counted.ingress);
          this.o.load!.finish(counted.service);
        }
        observe?.(host, res.statusCode, (performance.now() - started) / 1000);
      });
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const match = matchRoute(this.view.routes, host, path);
    if (!match) return fail(res, 404, `no Ingress rule matches host "${host}" and path "${path}"`);
    const resolved = this.view.resolve(match.backend);
    if (!resolved.ok) return fail(res, resolved.status, resolved.reason);
    const load = this.o.load;
    if (load) {
      counted = this.seriesOf(load, match.backend, match.ingress);
      const now = Date.now();
      load.start(counted.ingress, now);
      load.start(counted.service, now);
    }
    const headers = forwardedHeaders(req, secure);
    const key = `${match.backend.namespace}/${match.backend.service}:${match.backend.port}`;
    const first = this.turns.take(key, resolved.targets.length);
    const hasBody =
      req.headers['content-length'] !== undefined
        ? req.headers['content-length'] !== '0'
        : req.headers['transfer-encoding'] !== undefined;
    this.forward(
      req,
      res,
      headers,
      hasBody,
      resolved.targets,
      first,
      0,
      `${match.backend.namespace}/${match.backend.service}`,
    );
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    headers: string[],
    hasBody: boolean,
    targets: Target[],
    first: number,
    attempt: number,
    service: string,
  ): void {
    const target = targets[(first + attempt) % targets.length]!;
    let answered = false;
    const load = this.o.load;
    const pod =
      load && target.pod ? load.seriesOf('Pod', service.slice(0, service.indexOf('/')), target.pod) : undefined;
    if (pod) load!.start(pod);
    let podCounted = pod !== undefined;
    const podEnds = () => {
      if (podCounted) load!.finish(pod!);
      podCounted = false;
    };
    // undici's dispatch API: no stream objects between the two sockets, backpressure by hand.
    this.pool(target).dispatch(
      {
        path: req.url ?? '/',
        method: req.method as 'GET',
        headers,
        body: hasBody ? req : null,
        headersTimeout: this.o.responseTimeoutMs ?? 60_000,
        bodyTimeout: 0,
      },
      {
        onRequestStart: (controller) => {
          // A client that leaves takes its request to the endpoint with it.
          res.once('close', () => {
            if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
          });
        },
        onResponseStart: (_c, statusCode, upstream) => {
          answered = true;
          res.writeHead(statusCode, responseHeaders(upstream as Record<string, string | string[] | undefined>));
        },
        onResponseData: (controller, chunk) => {
          if (!res.write(chunk)) {
            controller.pause();
            res.once('drain', () => controller.resume());
          }
        },
        onResponseEnd: () => {
          podEnds();
          res.end();
        },
        onResponseError: (_c, err) => {
          podEnds();
          const code = (err as { code?: string }).code ?? '';
          if (!answered && !res.headersSent) {
            const retry =
              attempt + 1 < Math.min(targets.length, 3) &&
              NOT_SENT.has(code) &&
              (code === 'ECONNREFUSED' || (!hasBody && IDEMPOTENT.has(req.method ?? '')));
            if (retry) return this.forward(req, res, headers, hasBody, targets, first, attempt + 1, service);
            if (code === 'UND_ERR_HEADERS_TIMEOUT')
              return fail(
                res,
                504,
                `Service ${service}: endpoint ${target.ip}:${target.port} did not answer in ${(this.o.responseTimeoutMs ?? 60_000) / 1000} s`,
              );
            return fail(
              res,
              502,
              `Service ${service}: endpoint ${target.ip}:${target.port} failed: ${err.message}${code ? ` (${code})` : ''}`,
            );
          }
          // The response had begun: all that can be done is to end it abruptly.
          res.destroy(err);
        },
      },
    );
  }

  /** A route's Ingress and Service series, kept per backend of the route table (swapped whole on changes). */
  private seriesOf(load: LoadCounter, backend: object & { namespace: string; service: string }, ingress: string) {
    let s = this.routeSeries.get(backend);
    if (!s) {
      const slash = ingress.indexOf('/');
      s = {
        ingress: load.seriesOf('Ingress', ingress.slice(0, slash), ingress.slice(slash + 1)),
        service: load.seriesOf('Service', backend.namespace, backend.service),
      };
      this.routeSeries.set(backend, s);
    }
    return s;
  }

  /** WebSocket and other upgrades: the request head is replayed to an endpoint, then bytes flow both ways. */
  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer, secure: boolean): void {
    const host = normalizeHost(req.headers.host);
    const path = (req.url ?? '/').split('?')[0]!;
    const match = matchRoute(this.view.routes, host, path);
    const resolved = match && this.view.resolve(match.backend);
    if (!match || !resolved?.ok) {
      const status = match ? 503 : 404;
      socket.end(
        `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Service Unavailable'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
      );
      return;
    }
    const targets = resolved.targets;
    const first = this.turns.take(
      `${match.backend.namespace}/${match.backend.service}:${match.backend.port}`,
      targets.length,
    );
    const headers = forwardedHeaders(req, secure);
    let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    text += `connection: ${req.headers.connection ?? 'upgrade'}\r\nupgrade: ${req.headers.upgrade}\r\n\r\n`;
    socket.once('error', () => socket.destroy());
    // As for requests: an endpoint that refuses the connection passes it on to the next one.
    const attempt = (n: number): void => {
      const target = targets[(first + n) % targets.length]!;
      const upstream = connect(target.port, target.ip);
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        upstream.on('error', () => socket.destroy());
        upstream.write(text);
        if (head.length) upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
        socket.once('close', () => upstream.destroy());
        upstream.once('close', () => socket.destroy());
      });
      upstream.once('error', () => {
        upstream.destroy();
        if (n + 1 < Math.min(targets.length, 3) && !socket.destroyed) attempt(n + 1);
        else if (!socket.destroyed)
          socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      });
    };
    attempt(0);
  }

  private pool(t: Target): Pool {
    const origin = `http://${t.ip.includes(':') ? `[${t.ip}]` : t.ip}:${t.port}`;
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        connect: { timeout: this.o.connectTimeoutMs ?? 5000 },
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  private prunePools(): void {
    const live = new Set<string>();
    for (const e of this.view.endpoints.values()) {
      for (const s of e.subsets ?? [])
        for (const a of [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])])
          for (const p of s.ports ?? []) live.add(`http://${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${p.port}`);
    }
    for (const [origin, pool] of this.pools) {
      if (live.has(origin)) continue;
      this.pools.delete(origin);
      void pool.close().catch(() => {});
    }
  }

  private contextFor(serverName: string): SecureContext | undefined {
    const routes = this.view.routes;
    const entry = tlsFor(routes, serverName) ?? routes.tls.values().next().value;
    if (!entry) return undefined;
    const key = `${entry.namespace}/${entry.secretName}`;
    const pair = this.view.secrets.get(key);
    if (!pair) return undefined;
    const cached = this.contexts.get(key);
    if (cached?.pair === pair) return cached.context;
    try {
      const context = createSecureContext({ cert: pair.cert, key: pair.key });
      this.contexts.set(key, { pair, context });
      return context;
    } catch (e) {
      this.o.log?.warn({ err: e, secret: key }, 'TLS Secret does not hold a usable certificate and key');
      return undefined;
    }
  }
}

/** The request's headers as a flat [name, value, …] list, less hop-by-hop ones, plus X-Forwarded-*. */
function forwardedHeaders(req: IncomingMessage, secure: boolean): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let prior: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    if (name === 'x-forwarded-for') {
      prior = prior ? `${prior}, ${raw[i + 1]}` : raw[i + 1];
      continue;
    }
    if (
      name === 'x-forwarded-proto' ||
      name === 'x-forwarded-host' ||
      name === 'x-forwarded-port' ||
      name === 'x-real-ip'
    )
      continue;
    out.push(name, raw[i + 1]!);
  }
  const client = req.socket.remoteAddress ?? '';
  out.push(
    'x-forwarded-for',
    prior ? `${prior}, ${client}` : client,
    'x-forwarded-proto',
    secure ? 'https' : 'http',
    'x-forwarded-port',
    String(req.socket.localPort ?? ''),
    'x-real-ip',
    client,
  );
  if (req.headers.host) out.push('x-forwarded-host', req.headers.host);
  return out;
}

function responseHeaders(upstream: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in upstream) {
    const v = upstream[k];
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/** undici refuses a request it cannot send (a malformed target or header): the client's fault. */
const statusFor = (e: unknown): number => ((e as { code?: string }).code === 'UND_ERR_INVALID_ARG' ? 400 : 500);

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  500: 'Internal Server Error',
  404: 'Not Found',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** A clear error body: what failed and why, for the person reading it in a browser or curl. */
function fail(res: ServerResponse, status: number, reason: string): void {
  const body = `${status} ${REASONS[status] ?? ''}: ${reason}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-berth-error': reason.slice(0, 200).replace(/[^\x20-\x7e]/g, '?'),
  });
  res.end(body);
}
