/**
 * `berth server`: the HTTPS API over a store. The caller (the composition root) opens the store
 * and passes it in; this module makes the data directory ready, serves, and shuts down cleanly.
 */
import { setMaxListeners } from 'node:events';
import type { Server } from 'node:https';
import { createHttpsServer } from '../transport/https.js';
import type { Logger } from 'pino';
import { BerthError, isBerthError } from '../api/errors.js';
import { reapEvents } from '../runtime/events.js';
import { storeEventSink } from '../runtime/store-events.js';
import type { KubeObject, Store } from '../store/types.js';
import {
  ensureDataDir,
  ensureTls,
  isInitialised,
  kubeconfig,
  readAdminToken,
  writeAdminToken,
  writeKubeconfig,
} from './datadir.js';
import { createHandler, type ApiContext } from './http.js';
import { upgradeHandler } from './upgrade.js';
import { ServerMetrics } from './metrics.js';
import { MetricsApi } from './metrics-api.js';
import { certificateSha256 } from './pki.js';
import { Registry, timestamp } from './registry.js';
import { BUILTIN_NAMESPACES } from '../api/namespaces.js';
import { DEFAULT_CLASS_ANNOTATION, LOCAL_PATH_CLASS, LOCAL_PATH_PROVISIONER } from '../api/storage.js';
import { TokenBook, parseToken } from './tokens.js';
import type { GitPush } from './webhook.js';
import path from 'node:path';
import type { Cidr } from '../api/cidr.js';
import { DATA_DIR_ANNOTATION, type PodSecurityOptions } from '../api/pod-security.js';
import { PolicyIndex, QuotaAdmission } from '../runtime/quota.js';

export { defaultDataDir } from './datadir.js';
export { normalizeRepoURL, type GitPush } from './webhook.js';
export { TokenBook, ROLES, joinToken, type Role, type TokenRecord } from './tokens.js';
export { runWhileLeading, type LeadershipOptions } from './leadership.js';
export { lockSqliteStore } from './server-lock.js';
export { scheduleBackups } from './backups.js';
export { encryptionAtRest, readEncryptionConfig } from './encryption-config.js';
export { serverLeaseName } from './server-leases.js';
export { MetricsApi } from './metrics-api.js';
export { ServerMetrics } from './metrics.js';

export interface ServerOptions {
  dataDir: string;
  /** host:port; port 0 picks a free one. */
  listen: string;
  tlsSans: string[];
  tls?: { cert: string; key: string };
  log: Logger;
  webhookSecret?: string;
  /** Start on an empty store in a data directory that had one, on purpose (`--reset`). */
  reset?: boolean;
  /** Pod Security Admission (default: baseline, and this data directory and the agents' protected). */
  podSecurity?: PodSecurityOptions;
  /** Where ClusterIPs come from (default: Kubernetes' 10.96.0.0/12). */
  serviceCidr?: Cidr;
  onGitPush?: (push: GitPush) => number | Promise<number>;
  onDiff?: (app: KubeObject, revision: string | undefined) => Promise<unknown>;
  onManifests?: (app: KubeObject, revision: string | undefined) => Promise<unknown>;
  /** The server that runs the controllers now (see server-leases.ts). */
  leader?: () => Promise<string | undefined>;
  /** Writes a backup of the store to a file (GET /berth/v1/backup). */
  backup?: (file: string) => Promise<{ revision: number }>;
}

export interface RunningServer {
  url: string;
  port: number;
  kubeconfigPath: string;
  adminToken: string;
  caSha256: string;
  tokens: TokenBook;
  metrics: ServerMetrics;
  /** Every node's newest resource usage (metrics.k8s.io; the HPA reads it too). */
  metricsApi: MetricsApi;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):([0-9]+)$/.exec(listen);
  if (!m || Number(m[2]) > 65535)
    throw new BerthError('Usage', `--listen must be host:port, not ${JSON.stringify(listen)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0', port: Number(m[2]) };
}

export async function startServer(store: Store, options: ServerOptions): Promise<RunningServer> {
  const { host, port } = parseListen(options.listen);
  for (const file of ensureDataDir(options.dataDir))
    options.log.warn({ path: file }, 'other users could read this; narrowed to the owner only');
  await refuseLostStore(store, options);
  const tls = ensureTls(options.dataDir, options.tlsSans, options.tls);
  const tokens = new TokenBook(store);
  const registry = new Registry(store, undefined, options.serviceCidr);
  const metrics = new ServerMetrics(() => store.revision());

  // What every cluster has: its built-in namespaces, and the default StorageClass, as k3s ships
  // rancher's local-path (a claim that names no class gets a directory on the node its first pod
  // runs on: see controllers/volume).
  const builtins: KubeObject[] = [
    ...BUILTIN_NAMESPACES.map((name) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, uid: name, creationTimestamp: timestamp(new Date()) },
      status: { phase: 'Active' },
    })),
    localPathClass(),
  ];
  for (const o of builtins)
    await store.create(o).catch((e) => {
      if (!isBerthError(e, 'AlreadyExists')) throw e;
    });
  const adminToken = await ensureAdminToken(options.dataDir, tokens);
  const allocated = await registry.allocateMissingClusterIPs();
  if (allocated) options.log.info({ services: allocated }, 'gave ClusterIPs to Services stored without one');

  const shutdown = new AbortController();
  // Every API watch (each agent holds several) listens on it: many is expected, not a leak.
  setMaxListeners(0, shutdown.signal);
  // Which namespaces have quotas or limit ranges, so that admission in the others reads nothing more.
  const policies = new PolicyIndex(store);
  // Events age out as on Kubernetes (--event-ttl 1h): swept once a minute.
  const events = storeEventSink(store);
  const reaper = setInterval(() => {
    reapEvents(events).catch((e) => options.log.warn({ err: e }, 'event cleanup failed'));
  }, 60_000);
  reaper.unref();
  const sockets = new Set<import('node:net').Socket>();
  // The cluster CA goes with the serving certificate, so that an agent holding only a join token
  // (which pins the CA's hash) can read the CA from the handshake and check it.
  const server: Server = createHttpsServer({
    cert: options.tls ? tls.serving.cert : `${tls.serving.cert.trimEnd()}\n${tls.ca.cert}`,
    key: tls.serving.key,
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const serverAddress = () =>
    `${host === '0.0.0.0' ? '127.0.0.1' : host}:${(server.address() as { port: number }).port}`;
  const api: ApiContext = {
    store,
    tokens,
    registry,
    metrics,
    log: options.log,
    serverAddress,
    shutdown: shutdown.signal,
    ...(options.webhookSecret ? { webhookSecret: options.webhookSecret } : {}),
    ...(options.onGitPush ? { onGitPush: options.onGitPush } : {}),
    ...(options.onDiff ? { onDiff: options.onDiff } : {}),
    ...(options.onManifests ? { onManifests: options.onManifests } : {}),
    ...(options.leader ? { leader: options.leader } : {}),
    ...(options.backup ? { backup: options.backup } : {}),
    podSecurity: options.podSecurity ?? {
      defaultLevel: 'baseline',
      protectedDirs: protectedDirs(store, options.dataDir),
    },
    quotas: new QuotaAdmission(store, policies),
    metricsApi: new MetricsApi(store),
  };
  const handle = createHandler(api);
  // The handler answers every failure itself (its one error path): nothing is left to reject.
  server.on('request', (req, res) => void handle(req, res));
  server.on('upgrade', upgradeHandler(api));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const followingTokens = tokens.follow(shutdown.signal, (e) =>
    options.log.warn({ err: e }, 'following token changes failed; retrying'),
  );
  const followingPolicies = policies.run(shutdown.signal, (e) =>
    options.log.warn({ err: e }, 'following quotas and limit ranges failed; retrying'),
  );
  const actualPort = (server.address() as { port: number }).port;
  const url = `https://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  const kubeconfigPath = writeKubeconfig(options.dataDir, kubeconfig(url, tls.ca.cert, adminToken));
  options.log.info({ url, kubeconfig: kubeconfigPath }, 'berth server listening');

  return {
    url,
    port: actualPort,
    kubeconfigPath,
    adminToken,
    caSha256: certificateSha256(tls.ca.cert),
    tokens,
    metrics,
    metricsApi: api.metricsApi,
    async close() {
      clearInterval(reaper);
      shutdown.abort();
      await followingTokens;
      await followingPolicies;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections would hold close() open; in-flight requests have ended.
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/**
 * The folders no pod may mount: this server's data directory and every agent's, as its Node
 * announces it. Asked on every pod write, so read from the store at most every PROTECTED_DIRS_MS
 * (an agent also refuses such pods itself, from the moment it runs).
 */
export function protectedDirs(store: Store, dataDir: string): () => Promise<string[]> {
  let cached: { at: number; dirs: Promise<string[]> } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at > PROTECTED_DIRS_MS) {
      const dirs = store
        .list({ group: '', kind: 'Node' })
        .then(({ items }) => [
          path.resolve(dataDir),
          ...items
            .map((n) => n.metadata.annotations?.[DATA_DIR_ANNOTATION])
            .filter((d): d is string => typeof d === 'string' && d.startsWith('/')),
        ]);
      cached = { at: Date.now(), dirs };
      dirs.catch(() => (cached = undefined));
    }
    return cached.dirs;
  };
}
const PROTECTED_DIRS_MS = 2000;

function localPathClass(): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: {
      name: LOCAL_PATH_CLASS,
      uid: LOCAL_PATH_CLASS,
      creationTimestamp: timestamp(new Date()),
      annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' },
    },
    provisioner: LOCAL_PATH_PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  };
}

/**
 * A data directory that has run a server before, over a store with no Namespaces at all (a
 * truncated or replaced state.db, a wrong --store), would start as an empty cluster the old admin
 * token still opens: refused, unless the operator says --reset.
 */
async function refuseLostStore(store: Store, options: ServerOptions): Promise<void> {
  if (options.reset || !isInitialised(options.dataDir)) return;
  const { items } = await store.list({ group: '', kind: 'Namespace', limit: 1 });
  if (items.length > 0) return;
  throw new BerthError(
    'Unavailable',
    `the store is empty, but the data directory ${options.dataDir} belongs to a cluster that had one: restore the store from a backup, or start with --reset to start an empty cluster on purpose`,
  );
}

/** The admin token in DIR/admin.token, recreated in the store when a new store is used. */
async function ensureAdminToken(dir: string, tokens: TokenBook): Promise<string> {
  const existing = readAdminToken(dir);
  if (existing) {
    const parsed = parseToken(existing);
    if (parsed) {
      try {
        await tokens.authenticate(existing);
        return existing;
      } catch (e) {
        if (!isBerthError(e, 'Unauthorized')) throw e;
        await tokens.revoke(parsed.id).catch(() => {});
        await tokens.create({
          role: 'admin',
          description: 'administrator (admin.token)',
          id: parsed.id,
          secret: parsed.secret,
        });
        return existing;
      }
    }
  }
  const { token } = await tokens.create({ role: 'admin', description: 'administrator (admin.token)' });
  writeAdminToken(dir, token);
  return token;
}
