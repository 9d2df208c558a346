/**
 * The typed API client (undici): get/list/watch/create/update/patch/delete on Kubernetes-shaped
 * paths, errors as BerthErrors from the server's Status, retries with backoff when the connection
 * fails, and a watch that resumes from its last revision and re-lists after 410 Gone.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { BerthError, type ErrorCode } from '../api/errors.js';
import { apiVersionOf, type KindInfo } from '../api/kinds.js';
import type { Connection } from './config.js';
import { Informer, type ListWatch } from '../informer/index.js';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

const CODES: Record<string, ErrorCode> = {
  NotFound: 'NotFound',
  AlreadyExists: 'AlreadyExists',
  Conflict: 'Conflict',
  Invalid: 'Invalid',
  BadRequest: 'BadRequest',
  Unauthorized: 'Unauthorized',
  Forbidden: 'Forbidden',
  Expired: 'Compacted',
  Gone: 'Compacted',
  RequestEntityTooLarge: 'RequestEntityTooLarge',
  MethodNotAllowed: 'MethodNotAllowed',
  UnsupportedMediaType: 'UnsupportedMediaType',
  ServiceUnavailable: 'Unavailable',
  Timeout: 'Timeout',
  TooManyRequests: 'TooManyRequests',
};
const RETRIES = 4;

export function resourcePath(info: KindInfo, namespace?: string, name?: string, subresource?: string): string {
  const base = info.group ? `/apis/${apiVersionOf(info)}` : '/api/v1';
  const ns = info.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${info.plural}${name !== undefined ? `/${encodeURIComponent(name)}` : ''}${subresource ? `/${subresource}` : ''}`;
}

/** The servers of a connection: `--server URL1,URL2,…` names several (servers of one cluster on etcd). */
export function serversOf(connection: Pick<Connection, 'server'>): string[] {
  return connection.server
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean);
}

export class BerthClient {
  private readonly dispatcher: Dispatcher;
  /** Which of serversOf(connection) requests go to: the next one after a connection failure. */
  private current = 0;

  /** The server requests go to now. */
  get server(): string {
    const servers = serversOf(this.connection);
    return servers[this.current % servers.length] ?? this.connection.server;
  }

  /** After `failed` could not be reached: the next server, if there are several (and no one moved on already). */
  private failover(failed: string): void {
    if (this.server === failed) this.current = (this.current + 1) % Math.max(1, serversOf(this.connection).length);
  }

  constructor(readonly connection: Connection) {
    this.dispatcher = new Agent({
      connect: { ...(connection.ca ? { ca: connection.ca } : {}), rejectUnauthorized: !connection.insecure },
      keepAliveTimeout: 10_000,
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** One request; JSON in and out; Status errors become BerthErrors with the server's code. */
  async request<T = unknown>(
    method: string,
    path: string,
    options: {
      body?: unknown;
      contentType?: string;
      accept?: string;
      onHeaders?: (headers: Record<string, string | string[] | undefined>) => void;
    } = {},
  ): Promise<T> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    // Each server gets its retries: a server that is down costs one attempt before the next is tried.
    const attempts = RETRIES + serversOf(this.connection).length - 1;
    for (let attempt = 0; ; attempt++) {
      const server = this.server;
      try {
        const res = await request(server + path, {
          method: method as Dispatcher.HttpMethod,
          dispatcher: this.dispatcher,
          body,
          headers: {
            authorization: `Bearer ${this.connection.token}`,
            accept: options.accept ?? 'application/json',
            ...(body !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
          },
        });
        const text = await res.body.text();
        const parsed = text ? safeJson(text) : undefined;
        if (res.statusCode >= 400) throw statusError(res.statusCode, parsed, text);
        options.onHeaders?.(res.headers);
        return parsed as T;
      } catch (e) {
        if (!retriable(e, method) || attempt >= attempts) throw connectionError(e, server);
        this.failover(server);
        if (this.server === server) await sleep(200 * 2 ** Math.min(attempt, RETRIES));
      }
    }
  }

  /** A streamed GET (logs -f): each chunk of text as it arrives, until the body ends or the signal aborts. */
  async stream(path: string, onText: (text: string) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.openGet(path, 'text/plain', signal);
    try {
      for await (const chunk of res.body) onText((chunk as Buffer).toString('utf8'));
    } catch (e) {
      if (!signal?.aborted) throw e;
    }
  }

  /** A GET whose answer is a file (a backup): written to `file`, private; answers the response headers. */
  async download(path: string, file: string): Promise<Record<string, string | string[] | undefined>> {
    const res = await this.openGet(path, 'application/octet-stream');
    await pipeline(res.body, createWriteStream(file, { mode: 0o600 }));
    return res.headers;
  }

  /** A GET whose body the caller reads as it comes (not retried: it may be long); Status errors thrown. */
  private async openGet(path: string, accept: string, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
    const server = this.server;
    const res = await request(server + path, {
      method: 'GET',
      dispatcher: this.dispatcher,
      ...(signal ? { signal } : {}),
      headers: { authorization: `Bearer ${this.connection.token}`, accept },
    }).catch((e) => {
      this.failover(server);
      throw connectionError(e, server);
    });
    if (res.statusCode >= 400) {
      const text = await res.body.text();
      throw statusError(res.statusCode, text ? safeJson(text) : undefined, text);
    }
    return res;
  }

  get<T extends KubeObject = KubeObject>(info: KindInfo, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>('GET', resourcePath(info, namespace, name));
  }

  list<T extends KubeObject = KubeObject>(
    info: KindInfo,
    options: ListOptions = {},
  ): Promise<{ items: T[]; metadata: { resourceVersion: string; continue?: string } }> {
    return this.request('GET', resourcePath(info, options.namespace) + query(options));
  }

  /** kubectl's server-side printing: a meta.k8s.io Table. */
  table(
    info: KindInfo,
    options: ListOptions & { name?: string } = {},
  ): Promise<{
    metadata?: { resourceVersion?: string };
    columnDefinitions: { name: string; priority: number }[];
    rows: { cells: unknown[]; object: { metadata: { name: string; namespace?: string } } }[];
  }> {
    return this.request('GET', resourcePath(info, options.namespace, options.name) + query(options), {
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
    });
  }

  /** `dryRun`: the server checks and answers the write (dryRun=All) and stores nothing. */
  create<T extends KubeObject>(info: KindInfo, obj: T, options: { dryRun?: boolean } = {}): Promise<T> {
    return this.request<T>('POST', resourcePath(info, obj.metadata.namespace) + (options.dryRun ? '?dryRun=All' : ''), {
      body: obj,
    });
  }

  update<T extends KubeObject>(
    info: KindInfo,
    obj: T,
    subresource?: string,
    options: { dryRun?: boolean } = {},
  ): Promise<T> {
    return this.request<T>(
      'PUT',
      resourcePath(info, obj.metadata.namespace, obj.metadata.name, subresource) +
        (options.dryRun ? '?dryRun=All' : ''),
      { body: obj },
    );
  }

  patch<T extends KubeObject = KubeObject>(
    info: KindInfo,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type: 'merge' | 'json' | 'strategic' = 'merge',
    subresource?: string,
  ): Promise<T> {
    const contentType = {
      merge: 'application/merge-patch+json',
      json: 'application/json-patch+json',
      strategic: 'application/strategic-merge-patch+json',
    }[type];
    return this.request<T>('PATCH', resourcePath(info, namespace, name, subresource), { body: patch, contentType });
  }

  delete<T extends KubeObject = KubeObject>(info: KindInfo, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>('DELETE', resourcePath(info, namespace, name));
  }

  /**
   * Changes to a kind, forever (until the signal): from `resourceVersion`, or from a fresh list
   * (reported as ADDED). An informer (src/informer/) keeps it: a dropped stream resumes from the
   * last revision seen; 410 Gone re-lists, reporting what changed meanwhile (ADDED/MODIFIED/DELETED).
   * An error the server means (403, 404) ends it; an unreachable server is waited for.
   */
  async *watch(
    info: KindInfo,
    options: ListOptions & { resourceVersion?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<WatchEvent> {
    const stop = new AbortController();
    const abort = () => stop.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    if (options.signal?.aborted) stop.abort();
    const queue: WatchEvent[] = [];
    let wake: (() => void) | undefined;
    let failure: unknown;
    const listWatch = this.listWatch(info, options);
    const from = options.resourceVersion;
    // From a given revision, nothing is listed first (the caller has its list): the cache starts empty there.
    const source: ListWatch<KubeObject> = from
      ? { ...listWatch, list: once(() => Promise.resolve({ items: [], revision: Number(from) }), listWatch.list) }
      : listWatch;
    const informer = new Informer(source, { group: info.group, kind: info.kind }, (e) => {
      if (!(e instanceof BerthError)) return;
      failure = e;
      stop.abort();
    });
    informer.on((e) => {
      queue.push({ type: e.type, object: e.object });
      wake?.();
    });
    const running = informer.start(stop.signal).finally(() => wake?.());
    try {
      for (;;) {
        if (queue.length) yield queue.shift()!;
        else if (stop.signal.aborted) break;
        else await new Promise<void>((r) => (wake = r));
      }
      if (failure) throw failure;
    } finally {
      stop.abort();
      options.signal?.removeEventListener('abort', abort);
      await running;
    }
  }

  /** A kind as an informer lists and watches it: the agent's and the data plane's caches. */
  listWatch<T extends KubeObject = KubeObject>(info: KindInfo, options: ListOptions = {}): ListWatch<T> {
    return {
      list: async () => {
        const list = await this.list<T>(info, options);
        return { items: list.items, revision: Number(list.metadata.resourceVersion) };
      },
      watch: (fromRevision, signal) => this.watchFrom<T>(info, options, String(fromRevision), signal),
    };
  }

  /** One watch stream from a revision, until it ends; 410 Gone is a Compacted error. */
  private async *watchFrom<T extends KubeObject>(
    info: KindInfo,
    options: ListOptions,
    resourceVersion: string,
    signal: AbortSignal,
  ): AsyncGenerator<{ type: WatchEvent['type']; object: T; revision: number }> {
    const server = this.server;
    const res = await request(
      `${server}${resourcePath(info, options.namespace)}${query({ ...options, watch: true, resourceVersion })}`,
      {
        method: 'GET',
        dispatcher: this.dispatcher,
        headers: { authorization: `Bearer ${this.connection.token}` },
        signal,
      },
    ).catch((e: unknown) => {
      // The informer watches again (or lists) after a failure: from the next server.
      if (!signal.aborted) this.failover(server);
      throw e;
    });
    if (res.statusCode === 410) {
      await res.body.dump();
      throw new BerthError('Compacted', `revision ${resourceVersion} of ${info.plural} is compacted`);
    }
    if (res.statusCode >= 400) throw statusError(res.statusCode, safeJson(await res.body.text()), '');
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += chunk.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.trim()) continue;
        const e = JSON.parse(line) as { type: string; object: T & { code?: number; message?: string } };
        if (e.type === 'ERROR') {
          throw new BerthError(
            e.object.code === 410 ? 'Compacted' : 'Unavailable',
            String(e.object.message ?? 'watch error'),
          );
        }
        if (e.type === 'BOOKMARK') continue;
        yield {
          type: e.type as WatchEvent['type'],
          object: e.object,
          revision: Number(e.object.metadata.resourceVersion),
        };
      }
    }
  }
}

function query(o: ListOptions & { watch?: boolean; resourceVersion?: string }): string {
  const q = new URLSearchParams();
  if (o.labelSelector) q.set('labelSelector', o.labelSelector);
  if (o.fieldSelector) q.set('fieldSelector', o.fieldSelector);
  if (o.limit) q.set('limit', String(o.limit));
  if (o.watch) q.set('watch', '1');
  if (o.resourceVersion) q.set('resourceVersion', o.resourceVersion);
  const s = q.toString();
  return s ? `?${s}` : '';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function statusError(status: number, body: unknown, text: string): BerthError {
  const s = (body && typeof body === 'object' ? body : {}) as { reason?: string; message?: string };
  const code = CODES[s.reason ?? ''] ?? (status === 404 ? 'NotFound' : status >= 500 ? 'Unavailable' : 'BadRequest');
  const err = new BerthError(code, s.message ?? (text || `HTTP ${status}`));
  (err as BerthError & { status?: unknown }).status = body;
  return err;
}

const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'EAI_AGAIN',
]);

function retriable(e: unknown, method: string): boolean {
  if (e instanceof BerthError) return false;
  const code =
    (e as { code?: string; cause?: { code?: string } }).code ?? (e as { cause?: { code?: string } }).cause?.code ?? '';
  if (!CONNECTION_ERRORS.has(code)) return false;
  // A refused connection never reached the server; other failures might have, so only
  // idempotent requests are retried after them.
  return code === 'ECONNREFUSED' || method !== 'POST';
}

function connectionError(e: unknown, server: string): unknown {
  if (e instanceof BerthError) return e;
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const code = (e as { code?: string }).code ?? cause?.code;
  if (e instanceof undiciErrors.UndiciError || code) {
    const hint = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(String(code))
      ? ' (the server certificate is not trusted: use a kubeconfig with its CA, or --certificate-authority)'
      : '';
    return new BerthError('Unavailable', `cannot reach ${server}: ${cause?.message ?? (e as Error).message}${hint}`, {
      cause: e,
    });
  }
  return e;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `first` on the first call, `rest` on every later one. */
function once<T>(first: () => T, rest: () => T): () => T {
  let called = false;
  return () => {
    if (called) return rest();
    called = true;
    return first();
  };
}
