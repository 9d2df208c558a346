/**
 * The HTTP API: Kubernetes paths and objects, bearer-token auth, Table output for `get`, watch
 * streams, Status errors. One handler function; everything it calls is in its own module.
 */
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { BerthError, isBerthError, type ErrorCode } from '../api/errors.js';
import { apiVersionOf } from '../api/kinds.js';
import { BACKUP_PATH } from '../api/paths.js';
import type { KubeObject, ListResult, Store } from '../store/types.js';
import { authorize, nodeMayWrite } from './authz.js';
import { NODE_LEASE_NAMESPACE, NODE_TOKEN_HEADER, getLease, heartbeat, listLeases, registerNode } from './nodes.js';
import { SERVER_LEASE_NAMESPACE, listServerLeases } from './server-leases.js';
import { proxyLogs } from './podproxy.js';
import { evict } from './eviction.js';
import { discovery, openapiDocument, openapiIndex, versionInfo } from './discovery.js';
import type { ServerMetrics } from './metrics.js';
import { CUSTOM_METRICS_PREFIX, METRICS_PREFIX, NODE_PROXY, type MetricsApi } from './metrics-api.js';
import { DEFAULT_MANAGER, InvalidObjectError, Registry, type WriteOptions } from './registry.js';
import { STREAM_SUBRESOURCES, parentRequest, route, type ResourceRequest } from './routes.js';
import { toTable } from './tables.js';
import type { Principal, TokenBook } from './tokens.js';
import { WEBHOOK_PATH, parsePush, verifyWebhook, type GitPush } from './webhook.js';
import { PATCH_TYPES, applyPatch } from './patch.js';
import { SCALABLE_KINDS, scaleOf, scaled, type Scale } from './scale.js';
import { ACCESS_REVIEW_PATH, SUBJECT_REVIEW_PATH, accessReview, subjectReview } from './review.js';
import { admissionFor } from './admission.js';
import { isUiPath, serveUi, sessionToken } from '../ui/serve.js';
import type { PodSecurityOptions } from '../api/pod-security.js';
import type { QuotaAdmission } from '../runtime/quota.js';
import { APPLY_MEDIA_TYPES, mediaType, readApplyBody, readCreateBody, readJsonBody, readRawBody } from './body.js';

const BOOKMARK_INTERVAL_MS = 30_000;
/** Kinds whose DELETE answers the object itself, as their Kubernetes registries do. */
const RETURN_DELETED_OBJECT = new Set(['Pod', 'Namespace']);

export interface ApiContext {
  store: Store;
  tokens: TokenBook;
  registry: Registry;
  metrics: ServerMetrics;
  log: Logger;
  /** host:port clients reach this server at (for discovery). */
  serverAddress: () => string;
  /** Aborted when the server shuts down: ends every watch. */
  shutdown: AbortSignal;
  /** The shared secret webhooks are signed with; undefined disables them. */
  webhookSecret?: string;
  /** Called for each verified push; answers how many Applications it refreshed. */
  onGitPush?: (push: GitPush) => number | Promise<number>;
  /** Pod Security Admission: the default level and the folders no pod may mount. */
  podSecurity: PodSecurityOptions;
  /** Quota and LimitRange admission of creates. */
  quotas: QuotaAdmission;
  /** What syncing an Application at a revision would change (`berth app diff`). */
  onDiff?: (app: KubeObject, revision: string | undefined) => Promise<unknown>;
  /** GET applications/NAME/manifests?revision=R: what a sync of R would apply. */
  onManifests?: (app: KubeObject, revision: string | undefined) => Promise<unknown>;
  /** The server that runs the controllers now (the berth-controller-manager Lease's holder). */
  leader?: () => Promise<string | undefined>;
  /** Writes a backup of the store to a file (`berth backup create` downloads it). */
  backup?: (file: string) => Promise<{ revision: number }>;
  /** metrics.k8s.io: the agents' newest resource usage. */
  metricsApi: MetricsApi;
}

/** Takes a backup into a private temporary file, sends it (its revision in a header), removes it. */
async function sendBackup(res: ServerResponse, backup: (file: string) => Promise<{ revision: number }>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-backup-'));
  const file = path.join(dir, 'backup');
  try {
    const { revision } = await backup(file);
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': statSync(file).size,
      'X-Berth-Backup-Revision': String(revision),
    });
    await pipeline(createReadStream(file), res);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const REASONS: Record<ErrorCode, string> = {
  NotFound: 'NotFound',
  AlreadyExists: 'AlreadyExists',
  Unauthorized: 'Unauthorized',
  Forbidden: 'Forbidden',
  BadRequest: 'BadRequest',
  RequestEntityTooLarge: 'RequestEntityTooLarge',
  MethodNotAllowed: 'MethodNotAllowed',
  UnsupportedMediaType: 'UnsupportedMediaType',
  Conflict: 'Conflict',
  Invalid: 'Invalid',
  Compacted: 'Expired',
  Unavailable: 'ServiceUnavailable',
  NotLeader: 'ServiceUnavailable',
  Timeout: 'Timeout',
  TooManyRequests: 'TooManyRequests',
  Usage: 'BadRequest',
  Internal: 'InternalError',
};

export function statusObject(e: BerthError, details: Record<string, unknown> = {}) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: e.message,
    reason: REASONS[e.code],
    details: {
      ...details,
      ...(e instanceof InvalidObjectError ? { name: e.objectName, kind: e.kind } : {}),
      ...(e.causes ? { causes: e.causes } : {}),
    },
    code: e.httpStatus,
  };
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

const wantsTable = (req: IncomingMessage): boolean => /as=Table/.test(String(req.headers.accept ?? ''));

/**
 * readonly sees Secrets without their values: data and stringData blanked, and the copies of them
 * that `kubectl apply` leaves in the last-applied annotation and managedFields.
 */
function redact(p: Principal, o: KubeObject): KubeObject {
  if (o.kind !== 'Secret' || p.role === 'admin' || p.role === 'node') return o;
  const blank = (m: unknown) =>
    m && typeof m === 'object' ? Object.fromEntries(Object.keys(m).map((k) => [k, ''])) : m;
  const { managedFields: _, ...metadata } = o.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  const annotations =
    metadata.annotations && LAST_APPLIED in metadata.annotations
      ? { ...metadata.annotations, [LAST_APPLIED]: '' }
      : metadata.annotations;
  return {
    ...o,
    metadata: { ...metadata, ...(annotations ? { annotations } : {}) },
    ...(o.data ? { data: blank(o.data) } : {}),
    ...(o.stringData ? { stringData: blank(o.stringData) } : {}),
  };
}
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Events are found by what they are about: `involvedObject.*`, `type` and `reason` selectors. */
function splitEventSelector(selector: string | null): { storeSelector: string; match: (o: KubeObject) => boolean } {
  const terms = (selector ?? '').split(',').filter(Boolean);
  const local = terms.filter((t) => /^(involvedObject\.[a-zA-Z]+|type|reason|source)!?==?/.test(t));
  const rest = terms.filter((t) => !local.includes(t));
  const checks = local.map((t) => {
    const [, path, neg, value] = /^([^!=]+)(!?)==?(.*)$/.exec(t)!;
    return (o: KubeObject) => {
      let cur: unknown = o;
      for (const part of path!.split('.'))
        cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
      return ((cur ?? '') === value) !== (neg === '!');
    };
  });
  return { storeSelector: rest.join(','), match: (o) => checks.every((c) => c(o)) };
}

/** Who writes: `?fieldManager=`, else the client's user agent up to its first '/' (as Kubernetes names it). */
function fieldManagerOf(q: URLSearchParams, req: IncomingMessage): string {
  const named = q.get('fieldManager');
  if (named !== null) {
    if (named.length > 128 || !/^[\x20-\x7e]*$/.test(named))
      throw new BerthError('BadRequest', 'fieldManager must be at most 128 printable characters');
    return named;
  }
  return (
    String(req.headers['user-agent'] ?? '')
      .split('/')[0]!
      .slice(0, 128) || DEFAULT_MANAGER
  );
}

/** `dryRun=All` (Kubernetes' only value): the write is checked and answered, not stored. */
function dryRunOf(q: URLSearchParams): boolean {
  const values = q.getAll('dryRun');
  if (values.some((v) => v !== 'All'))
    throw new BerthError('BadRequest', `dryRun must be All, not ${JSON.stringify(values.find((v) => v !== 'All'))}`);
  const validation = q.get('fieldValidation');
  if (validation !== null && !['Strict', 'Warn', 'Ignore'].includes(validation))
    throw new BerthError(
      'BadRequest',
      `fieldValidation must be Strict, Warn or Ignore, not ${JSON.stringify(validation)}`,
    );
  return values.length > 0;
}

/** The request target as a URL; one that does not parse is a bad request, not a crash. */
export function requestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'https://berth');
  } catch {
    throw new BerthError(
      'BadRequest',
      `the request target ${JSON.stringify(String(target).slice(0, 200))} is not a valid URL`,
    );
  }
}

export function createHandler(ctx: ApiContext) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const method = req.method ?? 'GET';
    let verb = method.toLowerCase();
    let resource = 'nonresource';
    let pathname = '';
    // Everything about the request, its URL first, is read inside the one error path below.
    try {
      const url = requestUrl(req.url);
      pathname = url.pathname;
      if (url.pathname === '/healthz' || url.pathname === '/livez') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
        return;
      }
      if (url.pathname === WEBHOOK_PATH) {
        if (method !== 'POST') throw new BerthError('MethodNotAllowed', `only POST is allowed on ${WEBHOOK_PATH}`);
        const body = await readRawBody(req);
        verifyWebhook(req.headers, body, ctx.webhookSecret);
        const refreshed = (await ctx.onGitPush?.(parsePush(body))) ?? 0;
        return send(res, 202, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          message: `${refreshed} application${refreshed === 1 ? '' : 's'} refreshed`,
          code: 202,
        });
      }
      if (isUiPath(url.pathname)) return await serveUi(req, res, url, (token) => ctx.tokens.authenticate(token));
      const auth = String(req.headers.authorization ?? '');
      // A bearer header, else the dashboard's cookie (sessionToken refuses its writes without the CSRF header).
      const token = /^Bearer\s+\S/i.test(auth) ? auth.replace(/^Bearer\s+/i, '') : sessionToken(req);
      if (token === undefined) throw new BerthError('Unauthorized', 'Unauthorized: a bearer token is required');
      const principal = await ctx.tokens.authenticate(token);

      if (url.pathname === '/readyz') {
        await ctx.store.revision();
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
        return;
      }
      if (url.pathname === '/version') return send(res, 200, versionInfo());
      if (url.pathname === '/metrics') {
        if (principal.role !== 'admin' && principal.role !== 'readonly')
          throw new BerthError('Forbidden', `role ${principal.role} may not read metrics`);
        res
          .writeHead(200, { 'Content-Type': ctx.metrics.registry.contentType })
          .end(await ctx.metrics.registry.metrics());
        return;
      }
      if (url.pathname === BACKUP_PATH) {
        if (principal.role !== 'admin')
          throw new BerthError('Forbidden', `role ${principal.role} may not take backups`);
        if (method !== 'GET') throw new BerthError('MethodNotAllowed', `only GET is allowed on ${BACKUP_PATH}`);
        if (!ctx.backup) throw new BerthError('NotFound', 'this server takes no backups');
        return sendBackup(res, ctx.backup);
      }
      if (url.pathname === '/openapi/v3') return send(res, 200, openapiIndex());
      if (url.pathname.startsWith('/openapi/v3/')) {
        const doc = openapiDocument(url.pathname.slice('/openapi/v3/'.length));
        if (!doc) throw new BerthError('NotFound', `no OpenAPI document at ${url.pathname}`);
        return send(res, 200, doc);
      }

      if (url.pathname === ACCESS_REVIEW_PATH || url.pathname === SUBJECT_REVIEW_PATH) {
        if (method !== 'POST') throw new BerthError('MethodNotAllowed', `only POST is allowed on ${url.pathname}`);
        // kubectl sends these only as protobuf.
        const body = await readCreateBody(req);
        return send(
          res,
          201,
          url.pathname === ACCESS_REVIEW_PATH
            ? await accessReview(principal, body, ctx.store)
            : subjectReview(principal),
        );
      }
      const nodeProxy = NODE_PROXY.exec(url.pathname);
      if (nodeProxy) {
        resource = 'nodes/proxy';
        if (principal.role !== 'admin' && principal.role !== 'readonly')
          throw new BerthError('Forbidden', `role ${principal.role} may not read nodes/proxy`);
        if (method !== 'GET') throw new BerthError('MethodNotAllowed', `only GET is allowed on ${url.pathname}`);
        return await ctx.metricsApi.serveNodeProxy(decodeURIComponent(nodeProxy[1]!), nodeProxy[2]!, res);
      }
      const metricsApi = url.pathname.startsWith(METRICS_PREFIX)
        ? 'metrics.k8s.io'
        : url.pathname.startsWith(CUSTOM_METRICS_PREFIX)
          ? 'custom.metrics.k8s.io'
          : undefined;
      if (metricsApi) {
        resource = metricsApi;
        if (principal.role !== 'admin' && principal.role !== 'readonly')
          throw new BerthError('Forbidden', `role ${principal.role} may not read ${metricsApi}`);
        if (method !== 'GET') throw new BerthError('MethodNotAllowed', `only GET is allowed on ${url.pathname}`);
        return metricsApi === 'metrics.k8s.io'
          ? await ctx.metricsApi.serve(url.pathname, url.searchParams, res)
          : await ctx.metricsApi.serveCustom(url.pathname, url.searchParams, res);
      }
      const match = route(method, url.pathname, url.searchParams);
      if (!match)
        throw new BerthError(
          'NotFound',
          `the server could not find the requested resource (${method} ${url.pathname})`,
        );
      if (match.type === 'discovery') {
        const body = discovery(match.path, ctx.serverAddress());
        if (!body)
          throw new BerthError('NotFound', `the server could not find the requested resource (${url.pathname})`);
        return send(res, 200, body);
      }
      verb = match.verb;
      resource = match.info.plural + (match.subresource ? `/${match.subresource}` : '');
      const decision = await authorize(principal, match, url.searchParams, ctx.store);
      if (!decision.allowed) throw new BerthError('Forbidden', `${decision.reason}`);
      await serveResource(ctx, principal, match, req, res, url);
    } catch (e) {
      const err = isBerthError(e)
        ? e
        : new BerthError('Internal', `internal error: ${(e as Error).message}`, { cause: e });
      if (err.code === 'Internal') ctx.log.error({ err: e, method, path: pathname }, 'request failed');
      if (!res.headersSent) send(res, err.httpStatus, statusObject(err));
      else res.destroy();
    } finally {
      if (verb !== 'watch') {
        ctx.metrics.requests.inc({ verb, resource, code: String(res.statusCode) });
        ctx.metrics.latency.observe({ verb, resource }, (performance.now() - started) / 1000);
      }
    }
  };
}

async function serveResource(
  ctx: ApiContext,
  p: Principal,
  r: ResourceRequest,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const q = url.searchParams;
  const strict = q.get('fieldValidation') === 'Strict';
  const dryRun = dryRunOf(q);
  const admit = admissionFor(p, ctx.store, ctx.podSecurity, ctx.quotas);
  const fieldManager = fieldManagerOf(q, req);
  const warn = (warnings: string[]): Record<string, string> =>
    warnings.length ? { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') } : {};
  if (isNodeLease(r) && !['get', 'list'].includes(r.verb)) {
    throw new BerthError(
      'MethodNotAllowed',
      `node leases are read-only here: each agent's heartbeat (PUT /api/v1/nodes/NAME/heartbeat) renews its own`,
    );
  }
  switch (r.verb) {
    case 'get': {
      if (r.subresource && STREAM_SUBRESOURCES.includes(r.subresource))
        throw new BerthError(
          'BadRequest',
          `Upgrade request required: ${r.subresource} speaks WebSocket (subprotocols ${r.subresource === 'portforward' ? 'SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io' : 'v5.channel.k8s.io, v4.channel.k8s.io'})`,
        );
      if (r.subresource === 'scale') return send(res, 200, scaleOf(await ctx.registry.get(scalable(r))));
      if (r.subresource === 'log') {
        if (r.info.kind !== 'Pod') throw new BerthError('NotFound', `${r.info.plural} have no log subresource`);
        return proxyLogs(ctx.store, await ctx.registry.get(r), q, res);
      }
      if (r.subresource === 'revisions') {
        // The commit ledger, as a commit status: what a pull request's check shows.
        const app = await ctx.registry.get(r);
        const ledger =
          (app.status as { ledger?: { revision: string; state: string; description?: string }[] } | undefined)
            ?.ledger ?? [];
        const entry = r.item ? [...ledger].reverse().find((e) => e.revision.startsWith(r.item!)) : undefined;
        if (!r.item || !entry)
          throw new BerthError(
            'NotFound',
            `application "${r.name}" has not seen revision ${JSON.stringify(r.item ?? '')}`,
          );
        return send(res, 200, { ...entry, context: `berth/${r.name}` });
      }
      if (r.subresource === 'heartbeat') {
        if (r.info.kind !== 'Node') throw new BerthError('NotFound', `${r.info.plural} have no heartbeat subresource`);
        return send(res, 200, await getLease(ctx.store, r.name!));
      }
      if (r.subresource === 'diff') {
        if (r.info.kind !== 'Application' || !ctx.onDiff)
          throw new BerthError('NotFound', `${r.info.plural} have no diff subresource`);
        return send(res, 200, await ctx.onDiff(await ctx.registry.get(r), q.get('revision') || undefined));
      }
      if (r.subresource === 'manifests') {
        if (r.info.kind !== 'Application' || !ctx.onManifests)
          throw new BerthError('NotFound', `${r.info.plural} have no manifests subresource`);
        return send(res, 200, await ctx.onManifests(await ctx.registry.get(r), q.get('revision') || undefined));
      }
      if (isNodeLease(r)) return send(res, 200, await getLease(ctx.store, r.name!));
      if (isServerLease(r)) {
        const lease = (await listServerLeases(ctx.store, await ctx.leader?.())).find((l) => l.metadata.name === r.name);
        if (!lease) throw new BerthError('NotFound', `leases.coordination.k8s.io "${r.name}" not found`);
        return send(res, 200, lease);
      }
      const obj = redact(p, await ctx.registry.get(r));
      return send(
        res,
        200,
        wantsTable(req) ? toTable(r.info.kind, [obj], { resourceVersion: obj.metadata.resourceVersion }) : obj,
      );
    }
    case 'list': {
      if (isNodeLease(r) || isServerLease(r)) {
        const items = isNodeLease(r)
          ? await listLeases(ctx.store)
          : await listServerLeases(ctx.store, await ctx.leader?.());
        const meta = { resourceVersion: String(await ctx.store.revision()) };
        return send(
          res,
          200,
          wantsTable(req)
            ? toTable('Lease', items, meta)
            : { kind: 'LeaseList', apiVersion: 'coordination.k8s.io/v1', metadata: meta, items },
        );
      }
      const events = r.info.kind === 'Event' ? splitEventSelector(q.get('fieldSelector')) : undefined;
      if (events) q.set('fieldSelector', events.storeSelector);
      const list = await ctx.registry.list(r, q);
      const items = list.items.filter((o) => !events || events.match(o)).map((o) => redact(p, o));
      const meta = { resourceVersion: String(list.revision), ...(list.continue ? { continue: list.continue } : {}) };
      if (wantsTable(req)) return send(res, 200, toTable(r.info.kind, items, meta));
      return send(res, 200, { kind: `${r.info.kind}List`, apiVersion: apiVersionOf(r.info), metadata: meta, items });
    }
    case 'watch':
      return watch(ctx, p, r, req, res, q);
    case 'create': {
      if (r.subresource && STREAM_SUBRESOURCES.includes(r.subresource))
        throw new BerthError(
          'BadRequest',
          `Upgrade request required: ${r.subresource} speaks WebSocket (see server/upgrade)`,
        );
      const body = await readCreateBody(req);
      if (r.subresource === 'eviction') {
        if (r.info.kind !== 'Pod') throw new BerthError('NotFound', `${r.info.plural} have no eviction subresource`);
        return send(res, 201, await evict(ctx.store, ctx.registry, r, body, dryRun));
      }
      if (body && typeof body === 'object' && !nodeMayWrite(p, body as KubeObject))
        throw new BerthError('Forbidden', `node ${p.node} may only register itself`);
      if (r.info.kind === 'Node' && p.role === 'node') {
        // Registering takes a lease and issues a token: nothing a dry run could leave undone.
        if (dryRun) throw new BerthError('BadRequest', 'a node registration cannot be a dry run');
        const registered = await registerNode(ctx, p, r, body, { strict, admit });
        return send(res, 201, registered.object, {
          ...warn(registered.warnings),
          ...(registered.token ? { [NODE_TOKEN_HEADER]: registered.token } : {}),
        });
      }
      const { object, warnings } = await ctx.registry.create(r, body, { strict, admit, dryRun, fieldManager });
      return send(res, 201, object, warn(warnings));
    }
    case 'update': {
      if (r.subresource === 'heartbeat') {
        if (r.info.kind !== 'Node') throw new BerthError('NotFound', `${r.info.plural} have no heartbeat subresource`);
        return send(res, 200, await heartbeat(ctx.store, p, r.name!, await readJsonBody(req)));
      }
      if (r.subresource === 'scale') {
        const body = await readJsonBody(req);
        return writeScale(ctx, r, () => body, false, res, { admit, dryRun });
      }
      const { object, warnings } = await ctx.registry.update(r, await readJsonBody(req), {
        strict,
        admit,
        dryRun,
        fieldManager,
      });
      return send(res, 200, object, warn(warnings));
    }
    case 'patch': {
      const contentType = String(req.headers['content-type'] ?? '');
      if ((APPLY_MEDIA_TYPES as readonly string[]).includes(mediaType(contentType))) {
        if (r.subresource)
          throw new BerthError(
            'BadRequest',
            `server-side apply is for ${r.info.plural} themselves, not their ${r.subresource}`,
          );
        if (!q.get('fieldManager'))
          throw new BerthError(
            'BadRequest',
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
          );
        const force = ['1', 'true'].includes(q.get('force') ?? '');
        const { object, warnings, created } = await ctx.registry.apply(
          r,
          await readApplyBody(req),
          fieldManager,
          force,
          { strict, admit, dryRun },
        );
        return send(res, created ? 201 : 200, object, warn(warnings));
      }
      const body = await readJsonBody(req, Object.values(PATCH_TYPES));
      if (r.subresource === 'scale')
        return writeScale(ctx, r, (scale) => applyPatch(contentType, scale, body), true, res, { admit, dryRun });
      const { object, warnings } = await ctx.registry.patch(r, contentType, body, {
        strict,
        admit,
        dryRun,
        fieldManager,
      });
      return send(res, 200, object, warn(warnings));
    }
    case 'delete': {
      const deleted = await ctx.registry.delete(r, await readJsonBody(req), q, dryRun);
      // As Kubernetes: an object that is gone is answered with a Success Status; one whose deletion
      // is still under way (a pod stopping, a namespace emptying) and Pods and Namespaces, with the object.
      if (deleted.metadata.deletionTimestamp || RETURN_DELETED_OBJECT.has(r.info.kind)) return send(res, 200, deleted);
      return send(res, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: {
          name: deleted.metadata.name,
          group: r.info.group,
          kind: r.info.plural,
          ...(deleted.metadata.uid ? { uid: deleted.metadata.uid } : {}),
        },
      });
    }
  }
}

/** The node leases of kube-node-lease: views of the heartbeats, which live outside the object log. */
const isNodeLease = (r: ResourceRequest): boolean => r.info.kind === 'Lease' && r.namespace === NODE_LEASE_NAMESPACE;
/** The servers' leases of berth-system (see server-leases.ts), views too. */
const isServerLease = (r: ResourceRequest): boolean =>
  r.info.kind === 'Lease' && r.namespace === SERVER_LEASE_NAMESPACE && (r.verb === 'get' || r.verb === 'list');

/** A request for the scale subresource of a kind that has one; NotFound for any other. */
function scalable(r: ResourceRequest): ResourceRequest {
  if (!SCALABLE_KINDS.includes(r.info.kind))
    throw new BerthError('NotFound', `${r.info.plural} have no scale subresource`);
  return parentRequest(r);
}

/**
 * Writes a Scale: `change` gives the Scale wanted from the current one (a PUT's body, or the
 * current one patched); the parent is updated with its replicas. Answers the parent's new Scale.
 * A patch is applied again to a fresh read when the parent moved meanwhile (`retryOnConflict`);
 * a PUT's conflict is the client's to see.
 */
async function writeScale(
  ctx: ApiContext,
  r: ResourceRequest,
  change: (current: Scale) => unknown,
  retryOnConflict: boolean,
  res: ServerResponse,
  options: WriteOptions,
): Promise<void> {
  const parentReq = scalable(r);
  for (let attempt = 0; ; attempt++) {
    const parent = await ctx.registry.get(parentReq);
    // The Scale carries the parent's resourceVersion: a patched one is a write of what was read.
    const wanted = change(scaleOf(parent));
    try {
      const { object } = await ctx.registry.update(parentReq, scaled(parent, wanted), options);
      return send(res, 200, scaleOf(object));
    } catch (e) {
      if (!retryOnConflict || !isBerthError(e, 'Conflict') || attempt >= 5) throw e;
    }
  }
}

/**
 * A watch stream: newline-delimited `{type, object}` events. With no resourceVersion (or "0") it
 * starts with the current objects as ADDED events, as Kubernetes does; from a revision older than
 * the store keeps, it answers 410 Gone and the client re-lists.
 */
async function watch(
  ctx: ApiContext,
  p: Principal,
  r: ResourceRequest,
  req: IncomingMessage,
  res: ServerResponse,
  q: URLSearchParams,
): Promise<void> {
  const rvParam = q.get('resourceVersion') ?? '';
  if (rvParam !== '' && !/^[0-9]+$/.test(rvParam))
    throw new BerthError('BadRequest', `resourceVersion must be a decimal number, not ${JSON.stringify(rvParam)}`);
  const timeoutParam = q.get('timeoutSeconds');
  if (timeoutParam !== null && !/^[0-9]+$/.test(timeoutParam))
    throw new BerthError('BadRequest', 'timeoutSeconds must be a whole number');
  const events = r.info.kind === 'Event' ? splitEventSelector(q.get('fieldSelector')) : undefined;
  const fieldSelector = events ? events.storeSelector : (q.get('fieldSelector') ?? '');
  const labelSelector = q.get('labelSelector') ?? '';
  const nameFilter = r.name;

  let from: number;
  let initial: KubeObject[] = [];
  if (rvParam === '' || rvParam === '0') {
    const list: ListResult = await ctx.registry.list(r, q);
    from = list.revision;
    initial = list.items.filter((o) => !events || events.match(o));
  } else {
    from = Number(rvParam);
    const oldest = await ctx.store.oldestRevision();
    if (from < oldest) throw new BerthError('Compacted', `too old resource version: ${from} (${oldest})`);
  }

  const ac = new AbortController();
  const stop = (): void => ac.abort();
  req.on('close', stop);
  res.on('close', stop);
  ctx.shutdown.addEventListener('abort', stop, { once: true });
  const timeout = timeoutParam !== null ? setTimeout(stop, Number(timeoutParam) * 1000) : undefined;
  const table = wantsTable(req);
  const bookmarks = q.get('allowWatchBookmarks') === 'true';
  let lastRevision = from;
  const bookmarkTimer = bookmarks
    ? setInterval(
        () =>
          write('BOOKMARK', {
            kind: r.info.kind,
            apiVersion: apiVersionOf(r.info),
            metadata: { resourceVersion: String(lastRevision) },
          } as KubeObject),
        BOOKMARK_INTERVAL_MS,
      )
    : undefined;

  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Transfer-Encoding': 'chunked',
    'Cache-Control': 'no-cache',
  });
  res.flushHeaders();
  ctx.metrics.watches.inc({ resource: r.info.plural });

  function write(type: string, object: KubeObject): void {
    const shown = type === 'BOOKMARK' ? object : redact(p, object);
    const body =
      table && type !== 'BOOKMARK'
        ? toTable(r.info.kind, [shown], { resourceVersion: object.metadata.resourceVersion })
        : shown;
    res.write(JSON.stringify({ type, object: body }) + '\n');
  }

  try {
    for (const o of initial) if (!nameFilter || o.metadata.name === nameFilter) write('ADDED', o);
    for await (const e of ctx.store.watch({
      group: r.info.group,
      kind: r.info.kind,
      fromRevision: from,
      signal: ac.signal,
      ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
      ...(labelSelector ? { labelSelector } : {}),
      ...(fieldSelector ? { fieldSelector } : {}),
    })) {
      lastRevision = e.revision;
      if (nameFilter && e.object.metadata.name !== nameFilter) continue;
      if (events && !events.match(e.object)) continue;
      write(e.type, e.object);
    }
  } catch (e) {
    if (!ac.signal.aborted) {
      const err = isBerthError(e) ? e : new BerthError('Internal', (e as Error).message);
      res.write(JSON.stringify({ type: 'ERROR', object: statusObject(err) }) + '\n');
    }
  } finally {
    if (timeout) clearTimeout(timeout);
    if (bookmarkTimer) clearInterval(bookmarkTimer);
    ctx.shutdown.removeEventListener('abort', stop);
    ctx.metrics.watches.dec({ resource: r.info.plural });
    res.end();
  }
}
