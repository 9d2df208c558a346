/**
 * Composition root: the one place that picks concrete implementations (store drivers, the HTTPS
 * server, the logger) and wires them together. The `berth` executable (src/cli/berth.js) starts
 * here; commands that need no concrete parts live in src/cli.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { CONDITION, REASON } from './api/conditions.js';
import { keepPrivate, privateDir } from './api/private-files.js';
import type { Command } from 'commander';
import pino, { type Logger } from 'pino';
import { VERSION, runCli } from './cli/main.js';
import { logDestination } from './cli/log-format.js';
import { UpTerminal, applyApplication, reportProgress, upDataDir, upSource } from './cli/up.js';
import { JOIN_ATTEMPTS, fetchPinnedCa, splitJoinToken, withJoinRetries } from './agent/join.js';
import { NodeCondition } from './agent/node-condition.js';
import { NodeMembership, nodeObject, parseLabels, parseTaints, thisMachine } from './agent/node.js';
import { Agent } from './agent/agent.js';
import { apiEventSink } from './agent/events.js';
import { UsageSampler } from './agent/usage.js';
import { AgentMetrics } from './agent/metrics.js';
import { AgentEndpoint } from './agent/endpoint.js';
import { LocalVolumeCleaner } from './agent/local-volumes.js';
import type { ContainerRuntime } from './agent/runtime.js';
import { ProcessRuntime } from './agent/process/runtime.js';
import type { DockerRuntime } from './agent/docker/runtime.js';
import { DEFAULT_SANDBOX_IMAGE, ensureBusyboxImage } from './agent/docker/sandbox.js';
import { BerthError, isBerthError } from './api/errors.js';
import { POD_SECURITY_LEVELS, type PodSecurityLevel } from './api/pod-security.js';
import { NodeSimulator } from './agent/simulator.js';
import { BerthClient, resolveConnection, serversOf, type Connection, type ConnectionFlags } from './client/index.js';
import {
  copyStore,
  moveStoreAside,
  openStore,
  restoreBackup,
  sqliteFileOf,
  type RevisionedStore,
  type Store,
  type ValueTransformer,
} from './store/index.js';
import {
  defaultDataDir,
  encryptionAtRest,
  lockSqliteStore,
  normalizeRepoURL,
  parseListen,
  protectedDirs,
  runWhileLeading,
  scheduleBackups,
  serverLeaseName,
  startServer,
  type ServerMetrics,
} from './server/index.js';
import { DEFAULT_SERVICE_CIDR } from './api/services.js';
import { parseCidr } from './api/cidr.js';
import { recordedServiceCidr } from './runtime/service-allocation.js';
import { podFilesUnavailable } from './agent/process/runtime.js';
import {
  DEFAULT_CLUSTER_DOMAIN,
  INGRESS_MODES,
  IngressMetrics,
  startNetwork,
  type IngressMode,
  type RunningNetwork,
} from './network/index.js';
import { GitSource, localCheckout } from './source/index.js';
import { warmLoader } from './manifest/index.js';
import {
  ApplicationController,
  applicationManifests,
  diffApplication,
  requestRefresh,
  type ApplicationObject,
} from './sync/index.js';
import { parseDuration } from './api/duration.js';
import { nodeControllers, workloadControllers } from './controllers/index.js';
import { HorizontalPodAutoscalerController, type HpaOptions } from './controllers/hpa/reconcile.js';
import type { ClusterMetricsSource } from './api/metrics.js';
import { Scheduler } from './scheduler/index.js';
import {
  ControllerManager,
  EventBroadcaster,
  EventRecorder,
  involvedObjectOf,
  InformerFactory,
  admittingWriter,
  policiesSeenBy,
  storeEventSink,
} from './runtime/index.js';

/** However many Applications share a repository, it is fetched at most this often (webhooks aside). */
const MIN_FETCH_INTERVAL_MS = 5000;

interface ServerFlags {
  data?: string;
  store?: string;
  listen: string;
  tlsSan: string[];
  tlsCert?: string;
  tlsKey?: string;
  webhookSecretFile?: string;
  logLevel: string;
  nodeGracePeriod: string;
  ingressListen?: string;
  ingressTlsListen?: string;
  ingressMode: string;
  reset?: boolean;
  defaultPodSecurity?: string;
  serviceCidr?: string;
  serverName?: string;
  leaderLease?: string;
  backupSchedule?: string;
  backupKeep?: string;
  backupDir?: string;
  horizontalPodAutoscalerSyncPeriod?: string;
  horizontalPodAutoscalerDownscaleStabilization?: string;
  encryptionConfig?: string;
}

function addServerCommand(program: Command): void {
  program
    .command('server')
    .description('run the Berth API server (HTTPS) over the state store')
    .option('--data <dir>', 'data directory (default $BERTH_DATA or ~/.berth)')
    .option('--store <url>', 'state store: sqlite:PATH (default DATA/state.db), etcd://host:port[,…][/prefix]')
    .option('--listen <host:port>', 'address to serve the API on', '127.0.0.1:7070')
    .option(
      '--tls-san <name>',
      'extra name or IP for the serving certificate (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option('--tls-cert <file>', 'serve this certificate instead of one signed by the cluster CA')
    .option('--tls-key <file>', 'the key of --tls-cert')
    .option('--webhook-secret-file <file>', 'secret that Git push webhooks are signed with (or $BERTH_WEBHOOK_SECRET)')
    .option('--reset', 'start an empty cluster on purpose: a damaged state.db is moved aside, an empty store accepted')
    .option(
      '--default-pod-security <level>',
      'Pod Security level of namespaces without a pod-security.kubernetes.io/enforce label: privileged, baseline or restricted',
      'baseline',
    )
    .option('--log-level <level>', 'log level (trace, debug, info, warn, error)', 'info')
    .option(
      '--node-grace-period <duration>',
      'a node whose lease is older than this is NotReady and its pods are evicted',
      '10s',
    )
    .option('--ingress-listen <host:port>', 'serve Ingresses over HTTP here (the built-in router)')
    .option(
      '--ingress-tls-listen <host:port>',
      'serve Ingresses over HTTPS here, with the certificates of their TLS Secrets',
    )
    .option(
      '--ingress-mode <mode>',
      'builtin (the Node router) or nginx (a Berth-managed nginx, configured from the same routes)',
      'builtin',
    )
    .option(
      '--service-cidr <cidr>',
      "the range ClusterIPs are allocated from (Kubernetes' --service-cluster-ip-range)",
      DEFAULT_SERVICE_CIDR,
    )
    .option(
      '--backup-schedule <cron>',
      'back the store up at these times (cron: "0 */6 * * *"; six fields for seconds), on the leader',
    )
    .option('--backup-keep <n>', 'how many scheduled backups to keep (the oldest go)', '10')
    .option('--backup-dir <dir>', 'where scheduled backups go (default DATA/backups)')
    .option(
      '--encryption-config <file>',
      "encrypt Secrets (and the kinds it names) at rest as this EncryptionConfiguration says; default DATA/encryption-config.yaml for a SQLite store, made with a new key the first time; 'none' stores them in plaintext",
    )
    .option(
      '--horizontal-pod-autoscaler-sync-period <duration>',
      'how often each HorizontalPodAutoscaler reads its metrics and scales',
      '15s',
    )
    .option(
      '--horizontal-pod-autoscaler-downscale-stabilization <duration>',
      'how long an HPA looks back before scaling down (the highest recent recommendation wins)',
      '5m',
    )
    .option('--server-name <name>', "this server's name among several on one etcd (default HOST_UUID)")
    .option(
      '--leader-lease <duration>',
      'on etcd: how long a leader that stopped renewing keeps its lease; a new leader is elected within it',
      DEFAULT_LEADER_LEASE,
    )
    .action(async (flags: ServerFlags) => {
      const plane = await startControlPlane(flags);
      await untilSignal(plane.log);
      await plane.close();
      // Everything is closed and flushed. On etcd, a follower's campaign leaves a watch that the
      // etcd3 client opens again after it is closed (its watch manager reconnects): without this
      // exit that socket would keep the process alive.
      process.exit();
    });
}

/** This server's heartbeat (its berth-server-NAME Lease in berth-system), every third of the lease; returns its end. */
function heartbeatServer(store: Store, identity: string, leaseMs: number, log: Logger): () => Promise<void> {
  const beat = () =>
    store.leases
      .acquire(serverLeaseName(identity), identity, leaseMs)
      .catch((err: unknown) => log.warn({ err }, 'server heartbeat not written'));
  void beat();
  const timer = setInterval(() => void beat(), leaseMs / 3);
  return async () => {
    clearInterval(timer);
    await store.leases.release(serverLeaseName(identity), identity).catch(() => undefined);
  };
}

/** Kubernetes' controllers take 15 s; 10 s elects a new leader within 15 s of a crash, keepalives included. */
const DEFAULT_LEADER_LEASE = '10s';

/** A lease in whole seconds (etcd's unit), at least 2 (a keepalive every TTL/3 must fit). */
function leaseSeconds(text: string): number {
  const seconds = Math.round(parseDuration(text) / 1000);
  if (seconds < 2) throw new Error(`must be at least 2s, not ${JSON.stringify(text)}`);
  return seconds;
}

/** Resolves on SIGTERM or SIGINT (Ctrl-C). */
function untilSignal(log?: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log?.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

interface ControlPlane {
  log: Logger;
  dataDir: string;
  server: Awaited<ReturnType<typeof startServer>>;
  ingress?: RunningNetwork;
  close(): Promise<void>;
}

/**
 * The Docker runtime, loaded by the processes that run pods only: dockerode brings ssh2, whose
 * Poly1305 WebAssembly alone holds 16 MB a server has no use for.
 */
const loadDockerRuntime = async (): Promise<typeof DockerRuntime> =>
  (await import('./agent/docker/runtime.js')).DockerRuntime;

/**
 * A server's heap is a live set of a few hundred MB under a fast stream of short-lived objects
 * (parsed manifests, watch events, requests). V8 lets such a heap grow to up to 4× its live set
 * between full collections: in the sync benchmark (10,000 objects, 4,000 pods) the heap reached
 * 616 MB around a live set near 210 MB, and RSS 912 MB. Growing by half instead held the heap
 * to 277 MB and RSS to 598 MB, at no measurable cost in its timings. A flag given to node by the
 * user (NODE_OPTIONS or the command line) wins.
 */
function tightenHeap(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('heap-growing-percent'));
  if (!given) setFlagsFromString('--heap-growing-percent=50');
}

/** `berth server`: the store, the API, Git sync, the controllers and scheduler, and the ingress. */
async function startControlPlane(
  flags: ServerFlags,
  log = pino({ level: flags.logLevel, base: { component: 'server' } }, logDestination()),
): Promise<ControlPlane> {
  tightenHeap();
  const dataDir = path.resolve(flags.data ?? defaultDataDir());
  const serviceCidr = usageOf(() => parseCidr(flags.serviceCidr ?? DEFAULT_SERVICE_CIDR), '--service-cidr');
  const storeUrl = flags.store ?? `sqlite:${path.join(dataDir, 'state.db')}`;
  // One server per SQLite file (several share an etcd, with an elected leader).
  const unlock = storeUrl.startsWith('sqlite:') ? lockSqliteStore(sqliteFileOf(storeUrl)) : () => undefined;
  const encryption = encryptionAtRest({ file: flags.encryptionConfig, dataDir, storeUrl, log, create: true });
  const store = await openServerStore(storeUrl, flags.reset === true, log, encryption?.transformer).catch(
    (e: unknown) => {
      unlock();
      throw e;
    },
  );
  const recordedCidr = await recordedServiceCidr(store);
  // As kube-apiserver: Services keep the ClusterIPs they have; new ones come from the new range.
  if (recordedCidr && recordedCidr !== serviceCidr.text)
    log.warn(
      { recorded: recordedCidr, serviceCidr: serviceCidr.text },
      'the service CIDR changed: existing Services keep their ClusterIPs, new ones come from the new range',
    );
  const tls =
    flags.tlsCert && flags.tlsKey
      ? { cert: readFileSync(flags.tlsCert, 'utf8'), key: readFileSync(flags.tlsKey, 'utf8') }
      : undefined;
  const webhookSecret = flags.webhookSecretFile
    ? readFileSync(flags.webhookSecretFile, 'utf8').trim()
    : process.env.BERTH_WEBHOOK_SECRET || undefined;
  const source = new GitSource({ dataDir, minFetchIntervalMs: MIN_FETCH_INTERVAL_MS });
  // The manifest loader threads start (and warm up) with the first Application, not in a first large sync.
  // One admission of pods for the API and for syncs: the same level, the same protected folders.
  const podSecurity = {
    defaultLevel: podSecurityLevel(flags.defaultPodSecurity),
    protectedDirs: protectedDirs(store, dataDir),
  };
  // Several servers on one etcd elect the one that runs the controllers (see server/leadership.ts).
  // As kube-controller-manager's identity: the host and a fresh UUID (two servers on one host differ).
  const identity = flags.serverName ?? `${thisMachine().hostname}_${randomUUID()}`;
  const leaseMs = usageOf(() => leaseSeconds(flags.leaderLease ?? DEFAULT_LEADER_LEASE), '--leader-lease') * 1000;
  const election = store.leaderElection(identity, leaseMs / 1000);
  const syncLog = log.child({ subsystem: 'sync' });
  /** The Application controller of this server's term as leader (writing through `writer`). */
  const applicationController = (writer: Store) =>
    new ApplicationController({
      store: writer,
      source,
      podSecurity,
      serviceCidr,
      log: syncLog,
      events: new EventBroadcaster(
        new EventRecorder(storeEventSink(writer), { component: 'berth-application-controller' }),
        Date.now,
        (err) => syncLog.warn({ err }, 'event not recorded'),
      ),
      warmUp: () => void warmLoader(),
      // Reconciles begin once the controllers start, after the server is up.
      reconciled: (seconds, result, app) => {
        server.metrics.appReconciles.observe({ result }, seconds);
        server.metrics.appSyncs.inc({ ...app, result });
        server.metrics.appSyncDuration.set(app, seconds);
      },
    });
  /** While this server leads. */
  let applications: ApplicationController | undefined;
  const server = await startServer(store, {
    dataDir,
    listen: flags.listen,
    tlsSans: flags.tlsSan,
    log,
    reset: flags.reset === true,
    podSecurity,
    serviceCidr,
    ...(tls ? { tls } : {}),
    ...(webhookSecret ? { webhookSecret } : {}),
    // A push refreshes the Applications that track that repository (and branch, when they name one).
    // A follower asks the leader through the store (see requestRefresh).
    onGitPush: (push) => {
      const repos = new Set(push.repoURLs.map(normalizeRepoURL));
      const tracks = (app: ApplicationObject) => {
        const src = app.spec.source;
        return (
          repos.has(normalizeRepoURL(src.repoURL)) &&
          (!push.branch || !src.targetRevision || src.targetRevision === push.branch)
        );
      };
      return applications ? applications.refreshWhere(tracks) : requestRefresh(store, tracks);
    },
    leader: election ? () => election.leader() : async () => identity,
    backup: (file) => store.backup(file),
    onDiff: (app, revision) => diffApplication({ store, source }, app as ApplicationObject, revision),
    onManifests: (app, revision) => applicationManifests({ store, source }, app as ApplicationObject, revision),
  });
  process.stderr.write(
    `berth server listening on ${server.url}\nkubeconfig: ${server.kubeconfigPath}\nadmin token: ${path.join(dataDir, 'admin.token')}\ndashboard: ${server.url}/ui/ (sign in with a token)\n`,
  );
  const controllers = new AbortController();
  const nodeGraceMs = usageOf(() => parseDuration(flags.nodeGracePeriod), '--node-grace-period');
  const autoscaling = {
    syncPeriodMs: usageOf(
      () => parseDuration(flags.horizontalPodAutoscalerSyncPeriod ?? '15s'),
      '--horizontal-pod-autoscaler-sync-period',
    ),
    downscaleStabilizationSeconds:
      usageOf(
        () => parseDuration(flags.horizontalPodAutoscalerDownscaleStabilization ?? '5m'),
        '--horizontal-pod-autoscaler-downscale-stabilization',
      ) / 1000,
  };
  const stopHeartbeat = heartbeatServer(store, identity, leaseMs, log);
  let leading = false;
  const backupDir = path.resolve(flags.backupDir ?? path.join(dataDir, 'backups'));
  if (flags.backupSchedule) mkdirSync(backupDir, { recursive: true, mode: 0o700 });
  const stopBackups = flags.backupSchedule
    ? scheduleBackups({
        schedule: flags.backupSchedule,
        keep: Number(flags.backupKeep ?? 10),
        dir: backupDir,
        extension: storeUrl.startsWith('etcd://') ? '.snapshot' : '.db',
        backup: (file) => store.backup(file),
        leading: () => leading,
        log: log.child({ subsystem: 'backup' }),
      })
    : async () => undefined;
  const managing = runWhileLeading(
    store,
    election,
    controllers.signal,
    {
      identity,
      log,
      onChange: (now) => {
        leading = now;
        server.metrics.leader.set({ server: identity }, now ? 1 : 0);
      },
    },
    async (writer, signal) => {
      applications = applicationController(writer);
      try {
        await startControllers(writer, log, signal, {
          nodeGraceMs,
          applications,
          autoscaling: { ...autoscaling, metrics: server.metricsApi },
          metrics: server.metrics,
        });
      } finally {
        applications = undefined;
      }
    },
  );
  const ingress = await startIngress(
    flags,
    resolveConnection({ kubeconfig: server.kubeconfigPath }),
    log,
    path.join(dataDir, 'nginx'),
    new IngressMetrics(server.metrics.registry),
  );
  // The server's own ingress router counts requests as the agents' do (custom metrics).
  if (ingress) server.metricsApi.addLocalLoad(() => ingress.load.report());
  return {
    log,
    dataDir,
    server,
    ...(ingress ? { ingress } : {}),
    async close() {
      await ingress?.close();
      await stopBackups();
      controllers.abort();
      await managing;
      await stopHeartbeat();
      await server.close();
      await store.close();
      unlock();
      log.flush();
    },
  };
}

/** `berth backup restore FILE`: a SQLite backup in place of a stopped server's store. */
function addBackupRestoreCommand(program: Command): void {
  const backup = program.commands.find((c) => c.name() === 'backup')!;
  backup
    .command('restore')
    .description(
      "put a backup in place of a stopped server's SQLite store (the store it replaces is kept beside it); etcd: etcdctl snapshot restore, see the README",
    )
    .argument('<file>', 'a file `berth backup create` or --backup-schedule wrote')
    .option('--data <dir>', "the server's data directory (default $BERTH_DATA or ~/.berth)")
    .option('--store <url>', 'sqlite:PATH (default DATA/state.db)')
    .action(async (file: string, o: { data?: string; store?: string }) => {
      const dataDir = path.resolve(o.data ?? defaultDataDir());
      const storeUrl = o.store ?? `sqlite:${path.join(dataDir, 'state.db')}`;
      if (!storeUrl.startsWith('sqlite:'))
        throw new BerthError(
          'Usage',
          'an etcd store is restored with etcdctl snapshot restore, on every member (see the README); berth backup restore puts back SQLite stores',
        );
      const storeFile = sqliteFileOf(storeUrl);
      // Refused while a server serves the store.
      const unlock = lockSqliteStore(storeFile);
      try {
        const restored = await restoreBackup(path.resolve(file), storeFile);
        process.stdout.write(
          `restored ${file} into ${storeFile} at revision ${restored.revision}${restored.keptAs ? ` (the store it replaced is kept as ${restored.keptAs})` : ''}: start the server; watchers list again\n`,
        );
      } finally {
        unlock();
      }
    });
}

/** `berth store migrate --from sqlite:PATH --to etcd://…`: a stopped server's state into another store. */
function addStoreMigrateCommand(program: Command): void {
  program
    .command('store')
    .description('the state store')
    .command('migrate')
    .description(
      "copy a stopped server's objects into an empty store (SQLite to etcd, to grow past one machine); then start the servers on the new store",
    )
    .requiredOption('--from <url>', 'the store to copy: sqlite:PATH (its server stopped) or etcd://…')
    .requiredOption('--to <url>', 'an empty store: etcd://host:port[,…][/prefix] or sqlite:PATH')
    .option(
      '--encryption-config <file>',
      'how both stores are encrypted at rest (default: the encryption-config.yaml beside a sqlite: --from store); start the new servers with it',
    )
    .action(async (o: { from: string; to: string; encryptionConfig?: string }) => {
      const fromDir = o.from.startsWith('sqlite:') ? path.dirname(sqliteFileOf(o.from)) : '';
      const encryption = encryptionAtRest({
        file: o.encryptionConfig,
        dataDir: fromDir,
        storeUrl: o.from,
        create: false,
      });
      const options = { encryption: encryption?.transformer };
      // Refused while a server serves the SQLite store: its state would move on after the copy.
      const unlock = o.from.startsWith('sqlite:') ? lockSqliteStore(sqliteFileOf(o.from)) : () => undefined;
      const from = await openStore(o.from, options).catch((e: unknown) => {
        unlock();
        throw e;
      });
      try {
        const to = await openStore(o.to, options);
        try {
          let lastKind = '';
          const result = await copyStore(from, to, (kind, copied) => {
            if (kind !== lastKind) process.stderr.write(`copying ${kind}… (${copied} objects so far)\n`);
            lastKind = kind;
          });
          process.stdout.write(
            `copied ${result.objects} objects of ${result.kinds} kinds from ${o.from} to ${o.to}: start the servers with --store ${o.to}${encryption ? ` --encryption-config ${encryption.file}` : ''}\n`,
          );
        } finally {
          await to.close();
        }
      } finally {
        await from.close();
        unlock();
      }
      // As for the server: the etcd3 client's watch manager may open a socket again after close,
      // which would keep this process alive (seen on CI: the copy done, the command never exited).
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      process.exit();
    });
}

/** Opens the store; with --reset, a damaged SQLite file is moved aside (kept, renamed) and a new one started. */
async function openServerStore(
  url: string,
  reset: boolean,
  log: Logger,
  encryption: ValueTransformer | undefined,
): Promise<RevisionedStore> {
  const options = { encryption };
  try {
    return await openStore(url, options);
  } catch (e) {
    if (!reset || !url.startsWith('sqlite:') || !isBerthError(e, 'Unavailable')) throw e;
    const file = sqliteFileOf(url);
    const aside = moveStoreAside(file, 'damaged');
    log.warn({ damaged: aside }, 'the damaged store was moved aside (--reset); starting with an empty one');
    return openStore(url, options);
  }
}

/** The server's ingress router, when asked for: it reads the cluster through its own API. */
async function startIngress(
  flags: { ingressListen?: string; ingressTlsListen?: string; ingressMode: string },
  connection: Connection,
  log: Logger,
  nginxPrefix: string,
  ingressMetrics: IngressMetrics,
): Promise<(RunningNetwork & { client: BerthClient }) | undefined> {
  if (!flags.ingressListen && !flags.ingressTlsListen) return undefined;
  // The address the ingress is served at (and nginx mode's service proxy listens on).
  const host = parseListen((flags.ingressListen ?? flags.ingressTlsListen)!).host;
  const address = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const mode = ingressMode(flags.ingressMode);
  const client = new BerthClient(connection);
  const network = await startNetwork({
    client,
    address,
    serviceProxy: false,
    ingressMetrics,
    log: log.child({ subsystem: 'ingress' }),
    ingress: {
      ...(flags.ingressListen ? { http: parseListen(flags.ingressListen) } : {}),
      ...(flags.ingressTlsListen ? { https: parseListen(flags.ingressTlsListen) } : {}),
      publishStatus: true,
      mode,
      nginxPrefix,
    },
  });
  log.info({ ports: network.ingressPorts }, 'ingress router listening');
  process.stderr.write(
    `ingress: ${Object.entries(network.ingressPorts)
      .map(([k, v]) => `${k}://${address}:${v}`)
      .join(' ')}\n`,
  );
  return {
    ...network,
    client,
    async close() {
      await network.close();
      await client.close();
    },
  };
}

function podSecurityLevel(value: string | undefined): PodSecurityLevel {
  const level = value ?? 'baseline';
  if (!(POD_SECURITY_LEVELS as readonly string[]).includes(level))
    throw new BerthError(
      'Usage',
      `--default-pod-security must be ${POD_SECURITY_LEVELS.join(', ')}, not ${JSON.stringify(level)}`,
    );
  return level as PodSecurityLevel;
}

/** A flag's value parsed, its error a usage error naming the flag. */
function usageOf<T>(parse: () => T, flag: string): T {
  try {
    return parse();
  } catch (e) {
    throw new BerthError('Usage', `${flag}: ${(e as Error).message}`);
  }
}

function ingressMode(value: string): IngressMode {
  if (!(INGRESS_MODES as readonly string[]).includes(value))
    throw new BerthError('Usage', `--ingress-mode must be ${INGRESS_MODES.join(' or ')}, not ${JSON.stringify(value)}`);
  return value as IngressMode;
}

/** The Application controller and the workload controllers over shared informers, until the signal aborts. */
async function startControllers(
  store: Store,
  log: Logger,
  signal: AbortSignal,
  options: {
    nodeGraceMs: number;
    applications: ApplicationController;
    autoscaling: HpaOptions & { metrics: ClusterMetricsSource };
    metrics: ServerMetrics;
  },
): Promise<void> {
  const controllerLog = log.child({ subsystem: 'controllers' });
  const informers = new InformerFactory(store, (err) => controllerLog.error({ err }, 'informer failed'));
  const events = new EventBroadcaster(
    new EventRecorder(storeEventSink(store), { component: 'berth-controller-manager' }),
    Date.now,
    (err) => controllerLog.warn({ err }, 'event not recorded'),
  );
  // The controllers' pods are held to the namespace's quotas and limit ranges, as a user's are.
  const ctx = {
    informers,
    writer: admittingWriter(store, Date.now, policiesSeenBy(informers)),
    events,
    now: Date.now,
    log: controllerLog,
  };
  const controllers = [
    options.applications,
    ...workloadControllers(ctx),
    ...nodeControllers(ctx, { graceMs: options.nodeGraceMs }),
    new HorizontalPodAutoscalerController(ctx, options.autoscaling.metrics, options.autoscaling),
    new Scheduler(ctx, (result, seconds) => {
      options.metrics.schedulerAttempts.inc({ result });
      options.metrics.schedulerAttemptDuration.observe({ result }, seconds);
    }),
  ];
  const manager = new ControllerManager(informers, controllers, controllerLog, {
    reconciled: (controller, result, seconds) => {
      options.metrics.reconciles.inc({ controller, result });
      options.metrics.reconcileDuration.observe({ controller }, seconds);
    },
  });
  options.metrics.queueDepths = () => manager.depths();
  try {
    await manager.start(signal);
  } finally {
    options.metrics.queueDepths = () => new Map();
  }
  await events.flush();
}

/** The connection an agent or simulator uses: a join token's pinned CA is fetched and checked. */
async function agentConnection(cmd: Command): Promise<Connection> {
  const connection = resolveConnection(cmd.optsWithGlobals() as ConnectionFlags);
  const { token, caSha256 } = splitJoinToken(connection.token);
  if (!caSha256 || connection.ca) return { ...connection, token };
  const attempts = Number((cmd.opts() as { joinAttempts?: string }).joinAttempts ?? JOIN_ATTEMPTS);
  return {
    ...connection,
    token,
    ca: await withJoinRetries(
      "checking the server's CA against the join token's pin",
      () => fetchPinnedCa(serversOf(connection)[0]!, caSha256),
      { attempts },
    ),
  };
}

function addSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('simulated parts for tests, benchmarks and capacity planning')
    .command('nodes')
    .description(
      'register simulated nodes (through the API, with a node join token) that keep their leases and report their pods Running and Ready without running them',
    )
    .option('--count <n>', 'how many nodes', '3')
    .option('--name-prefix <prefix>', 'node names are PREFIX-0, PREFIX-1, …', 'sim')
    .option('--cpu <quantity>', 'cpu of each node', '4')
    .option('--memory <quantity>', 'memory of each node', '8Gi')
    .option('--pods <n>', 'pods each node takes', '110')
    .option('--labels <k=v,…>', 'extra node labels')
    .option('--heartbeat-interval <duration>', 'how often leases are renewed', '2s')
    .action(
      async (
        o: {
          count: string;
          namePrefix: string;
          cpu: string;
          memory: string;
          pods: string;
          labels?: string;
          heartbeatInterval: string;
        },
        cmd: Command,
      ) => {
        const connection = await agentConnection(cmd);
        const abort = new AbortController();
        process.once('SIGTERM', () => abort.abort());
        process.once('SIGINT', () => abort.abort());
        const simulator = new NodeSimulator(
          connection,
          {
            count: Number(o.count),
            namePrefix: o.namePrefix,
            cpu: o.cpu,
            memory: o.memory,
            pods: o.pods,
            labels: parseLabels(o.labels),
            heartbeatMs: usageOf(() => parseDuration(o.heartbeatInterval), '--heartbeat-interval'),
            version: VERSION,
            log: (line) => process.stderr.write(`${line}\n`),
          },
          thisMachine(),
        );
        await simulator.run(abort.signal);
      },
    );
}

interface AgentFlags {
  name?: string;
  labels?: string;
  taints?: string;
  address: string;
  capacity?: string;
  runtime: string;
  data?: string;
  heartbeatInterval: string;
  metricsInterval?: string;
  joinAttempts?: string;
  logLevel: string;
  agentPort: string;
  sandboxImage: string;
  ingress?: boolean;
  ingressListen: string;
  ingressTlsListen?: string;
  ingressMode: string;
  clusterDomain?: string;
  dnsListen?: string;
  stopPodsOnExit?: boolean;
}

function addAgentCommand(program: Command): void {
  program
    .command('agent')
    .description("join a node to the cluster and run the pods bound to it (Berth's kubelet)")
    .option('--name <name>', 'node name (default: the host name)')
    .option('--labels <k=v,…>', 'extra node labels')
    .option('--taints <k=v:Effect,…>', 'taints to register the node with')
    .option('--address <ip>', 'the address pods are published on and the server reaches this node at', '127.0.0.1')
    .option('--capacity <cpu=4,memory=8Gi,pods=110>', 'what the node offers, instead of what the machine has')
    .option('--runtime <runtime>', 'docker, process (pods as local processes), or auto (docker when reachable)', 'auto')
    .option(
      '--sandbox-image <image>',
      "the image holding each pod's network (docker runtime; made from busybox-static when missing)",
      DEFAULT_SANDBOX_IMAGE,
    )
    .option('--data <dir>', 'agent state: tokens, pod volumes, logs (default $BERTH_DATA/agent-NAME)')
    .option('--heartbeat-interval <duration>', 'how often the node lease is renewed', '2s')
    .option(
      '--metrics-interval <duration>',
      "how often each container's CPU and memory are sampled (kubectl top, the HPA)",
      '10s',
    )
    .option(
      '--join-attempts <n>',
      'tries at joining (1, 2, 4, … s apart) before the agent exits 2 with the reason',
      String(JOIN_ATTEMPTS),
    )
    .option(
      '--agent-port <port>',
      'port of the endpoint the server reaches this agent at for logs and exec (0: any free one)',
      '0',
    )
    .option('--ingress', 'run an ingress router on this node too (at --ingress-listen)')
    .option('--ingress-listen <host:port>', "where the node's ingress router listens (with --ingress)", ':8080')
    .option('--ingress-tls-listen <host:port>', 'where it serves HTTPS (with --ingress)')
    .option('--ingress-mode <mode>', 'builtin (the Node router) or nginx (a Berth-managed nginx)', 'builtin')
    .option('--cluster-domain <domain>', 'the DNS domain of Services (svc.NS.svc.DOMAIN)', DEFAULT_CLUSTER_DOMAIN)
    .option(
      '--dns-listen <host:port>',
      "where the node's cluster DNS listens; pods use it only on port 53 ('off': none)",
      'ADDRESS:53',
    )
    .option(
      '--stop-pods-on-exit',
      "stop this node's pods when the agent stops (by default they keep running, as kubelet's do, and a restarted agent adopts them)",
    )
    .option('--log-level <level>', 'log level', 'info')
    .action(async (flags: AgentFlags, cmd: Command) => {
      const log = pino({ level: flags.logLevel, base: { component: 'agent' } }, logDestination());
      const node = await startNode(flags, await agentConnection(cmd), log);
      await untilSignal(log);
      await node.close({ removePods: flags.stopPodsOnExit === true });
    });
}

interface RunningNode {
  name: string;
  runtime: ContainerRuntime;
  /** The nameserver pods on this node use, or why they have none. */
  podDns: { nameserver?: string; unavailable?: string };
  /** Stops the agent; `removePods` also stops and removes every container it runs (berth up). */
  close(options?: { removePods?: boolean }): Promise<void>;
}

/** `berth agent`: joins the node, runs its pods, proxies Services (and Ingresses with --ingress). */
async function startNode(flags: AgentFlags, connection: Connection, log: Logger): Promise<RunningNode> {
  const name = flags.name ?? thisMachine().hostname;
  const dataDir = path.resolve(flags.data ?? path.join(defaultDataDir(), `agent-${name}`));
  if (privateDir(dataDir)) log.warn({ path: dataDir }, 'other users could read this; narrowed to the owner only');
  if (!['process', 'docker', 'auto'].includes(flags.runtime))
    throw new BerthError('Usage', `--runtime must be docker, process or auto, not ${JSON.stringify(flags.runtime)}`);
  // The node's own token, kept from the first join: a restarted agent is still this node.
  const tokenFile = path.join(dataDir, 'node.token');
  if (keepPrivate(tokenFile)) log.warn({ path: tokenFile }, 'other users could read this; narrowed to the owner only');
  if (existsSync(tokenFile)) connection.token = readFileSync(tokenFile, 'utf8').trim();
  const client = new BerthClient(connection);
  const capacity = Object.fromEntries(
    Object.entries(parseLabels(flags.capacity)).filter(([k]) => ['cpu', 'memory', 'pods'].includes(k)),
  );
  // auto: Docker when its daemon answers, else plain processes.
  const Docker = flags.runtime === 'process' ? undefined : await loadDockerRuntime();
  const useDocker = Docker !== undefined && (await Docker.reachable());
  if (flags.runtime === 'docker' && !useDocker)
    throw new BerthError(
      'Unavailable',
      'no Docker daemon answers on /var/run/docker.sock (start dockerd, or use --runtime process)',
    );
  const runtime = useDocker
    ? new Docker({ node: name, sandboxImage: ensureBusyboxImage(flags.sandboxImage) })
    : new ProcessRuntime(dataDir);
  const metrics = new AgentMetrics();
  const agent = new Agent({ node: name, address: flags.address, dataDir, runtime, client, log, metrics });
  // The endpoint the server proxies `berth logs` and `berth exec` to, on the node's address.
  // The node's data plane (started below, once the node has joined): its request counts for custom metrics.
  let network: RunningNetwork | undefined;
  // Every container's CPU and memory, sampled for metrics.k8s.io (kubectl top, the HPA).
  const sampler = new UsageSampler(
    runtime,
    name,
    () => agent.sampledPods(),
    usageOf(() => parseDuration(flags.metricsInterval ?? '10s'), '--metrics-interval'),
  );
  const endpoint = new AgentEndpoint(runtime, {
    instances: (ns, pod) => agent.instancesOf(ns, pod),
    defaultContainer: (ns, pod) => agent.defaultContainerOf(ns, pod),
    address: flags.address,
    usage: () => sampler.latest(),
    load: () => network?.load.report(),
    prometheus: metrics.registry,
  });
  metrics.samplingCpuMs = () => sampler.spentCpuMs;
  const endpointPort = await endpoint.listen(flags.address, Number(flags.agentPort));
  const membership = new NodeMembership(
    client,
    nodeObject(
      {
        name,
        labels: parseLabels(flags.labels),
        taints: parseTaints(flags.taints),
        address: flags.address,
        capacity,
        version: VERSION,
        dataDir,
      },
      thisMachine(),
    ),
    {
      heartbeatMs: usageOf(() => parseDuration(flags.heartbeatInterval), '--heartbeat-interval'),
      endpoint: () => ({ port: endpointPort, token: endpoint.secret }),
      useToken: (token) => {
        client.connection.token = token;
        writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      },
      onError: (err) => log.warn({ err }, 'heartbeat failed'),
    },
  );
  try {
    await withJoinRetries('registering the Node', () => membership.register(), {
      attempts: Number(flags.joinAttempts ?? JOIN_ATTEMPTS),
      onRetry: (err, attempt) => log.warn({ err, attempt }, 'joining the cluster failed; trying again'),
    });
  } catch (e) {
    // Nothing may keep a node that could not join alive.
    await endpoint.close();
    await client.close();
    throw e;
  }
  log.info({ node: name, address: flags.address, runtime: runtime.name, dataDir }, 'node registered');
  // Every node proxies Services (their proxy ports and NodePorts); with --ingress it routes Ingresses too.
  const onNode = (listen: string) => {
    const at = parseListen(listen);
    return { host: at.host === '0.0.0.0' && !listen.startsWith('0.0.0.0') ? flags.address : at.host, port: at.port };
  };
  const dnsListen =
    flags.dnsListen === 'off'
      ? undefined
      : parseListen((flags.dnsListen ?? 'ADDRESS:53').replace(/^ADDRESS:/, `${flags.address}:`));
  const domain = flags.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
  // Docker containers cannot reach a loopback node address: cluster DNS also listens where they can.
  const gateway =
    dnsListen && dnsListen.host.startsWith('127.') && Docker && runtime instanceof Docker
      ? await runtime.bridgeGateway()
      : undefined;
  // What the node cannot serve is said once, in the log and as an Event on the Node.
  const proxyEvents = new EventBroadcaster(
    new EventRecorder(apiEventSink(client), { component: 'berth-service-proxy', host: name }),
    Date.now,
    (err) => log.debug({ err }, 'event not recorded'),
  );
  // And, while it lasts, as a condition of the Node (kubectl describe node shows it).
  const portsCondition = new NodeCondition(client, name, (err) => log.warn({ err }, 'node condition not written'));
  network = await startNetwork({
    client,
    address: flags.address,
    serviceProxy: true,
    holdClusterIPs: true,
    ingressMetrics: new IngressMetrics(metrics.registry),
    log: log.child({ subsystem: 'network' }),
    onUnservedChange: (unserved) =>
      portsCondition.set(
        unserved.length
          ? {
              type: CONDITION.ServicePortsUnavailable,
              status: 'True',
              reason: REASON.PortsInUse,
              message: unserved.map((u) => `Service ${u.service}: ${u.message}`).join('; '),
            }
          : {
              type: CONDITION.ServicePortsUnavailable,
              status: 'False',
              reason: REASON.AllServicePortsServed,
              message: 'the service proxy listens on every Service port it serves on this node',
            },
      ),
    // On the Node: a node records Events only about itself and its pods (as NodeRestriction).
    onServiceProblem: (service, message) =>
      proxyEvents.emit({
        involvedObject: involvedObjectOf({ metadata: { name, namespace: '' } }, { apiVersion: 'v1', kind: 'Node' }),
        type: 'Warning',
        reason: 'ProxyPortUnavailable',
        message: `Service ${service}: ${message}`,
      }),
    ...(dnsListen
      ? {
          dns: {
            hosts: [dnsListen.host],
            ...(gateway ? { optionalHosts: [gateway] } : {}),
            port: dnsListen.port,
            domain,
          },
        }
      : {}),
    ...(flags.ingress
      ? {
          ingress: {
            http: onNode(flags.ingressListen),
            ...(flags.ingressTlsListen ? { https: onNode(flags.ingressTlsListen) } : {}),
            mode: ingressMode(flags.ingressMode),
            nginxPrefix: path.join(dataDir, 'nginx'),
          },
        }
      : {}),
  });
  if (flags.ingress) log.info({ ports: network.ingressPorts }, 'ingress router listening');
  const podDns = podResolver(
    runtime,
    network,
    dnsListen && { ...dnsListen, host: gateway && network.dns?.served.includes(gateway) ? gateway : dnsListen.host },
    flags.address,
  );
  agent.useDns({
    ...(podDns.nameserver ? { nameserver: podDns.nameserver } : {}),
    domain,
    hostResolvConf: readHostResolvConf(),
  });
  if (podDns.unavailable)
    log.warn(
      { reason: podDns.unavailable },
      'pods find Services by their environment variables only (no cluster DNS in pods)',
    );
  const abort = new AbortController();
  const volumeCleaner = new LocalVolumeCleaner({
    client,
    node: name,
    dataDir,
    log: log.child({ subsystem: 'volumes' }),
  });
  sampler.start();
  const running = Promise.all([
    membership.run(abort.signal),
    agent.start(abort.signal),
    volumeCleaner.run(abort.signal),
  ]).then(
    () => undefined,
    (err: unknown) => {
      // The agent cannot go on: say why and shut the process down cleanly (as Ctrl-C would).
      log.error({ err }, 'the agent stopped');
      process.exitCode = 1;
      process.kill(process.pid, 'SIGTERM');
    },
  );
  return {
    name,
    runtime,
    podDns,
    async close(options = {}) {
      abort.abort();
      sampler.stop();
      await running;
      if (options.removePods) {
        const containers = await runtime.list();
        for (const c of containers) await runtime.remove(c.id);
        for (const uid of new Set(containers.map((c) => c.podUid))) await runtime.releasePod(uid);
      }
      await network.close();
      await endpoint.close();
      await client.close();
    },
  };
}

/**
 * Whether this node's pods can use its cluster DNS: it must listen on port 53 (resolv.conf names
 * no port), process pods need their own resolv.conf (a mount namespace: root), and Docker pods
 * must reach the address from their network (not a loopback one).
 */
function podResolver(
  runtime: ContainerRuntime,
  network: RunningNetwork,
  listen: { host: string; port: number } | undefined,
  address: string,
): { nameserver?: string; unavailable?: string } {
  if (!listen) return { unavailable: 'cluster DNS is off (--dns-listen off)' };
  if (!network.dns) return { unavailable: network.dnsUnavailable ?? 'cluster DNS is not served' };
  if (listen.port !== 53)
    return { unavailable: `cluster DNS listens on port ${listen.port}; pods' resolv.conf can only name port 53` };
  const host = listen.host === '0.0.0.0' ? address : listen.host;
  if (runtime.name === 'process') {
    const why = podFilesUnavailable();
    return why
      ? { nameserver: host, unavailable: `process pods keep the node's resolv.conf: ${why}` }
      : { nameserver: host };
  }
  if (host.startsWith('127.'))
    return {
      unavailable: `Docker containers cannot reach the loopback address ${host}, and Docker's bridge has no gateway address (give the agent a non-loopback --address)`,
    };
  return { nameserver: host };
}

function readHostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

interface UpFlags {
  path?: string;
  revision?: string;
  name?: string;
  data?: string;
  listen: string;
  ingressListen: string;
  runtime: string;
  logLevel: string;
  serviceCidr?: string;
}

/** berth up's ClusterIPs with the process runtime: loopback addresses, which need no root and no interface. */
const LOOPBACK_SERVICE_CIDR = '127.96.0.0/12';

function addUpCommand(program: Command): void {
  program
    .command('up [repo]')
    .description(
      'everything on this machine, in the foreground: the server (SQLite), a local agent, the ingress, and an Application for REPO (auto-sync, prune, self-heal); Ctrl-C stops it all',
    )
    .option(
      '--path <dir>',
      'directory of the manifests in the repository (default: REPO itself when it is a directory inside a local repository)',
    )
    .option('--revision <rev>', 'branch, tag or commit to follow (default: the branch checked out)')
    .option('--name <name>', 'the Application name (default: the directory name)')
    .option('--data <dir>', 'data directory (default $BERTH_DATA or ~/.berth)')
    .option('--listen <host:port>', 'address to serve the API on', '127.0.0.1:7070')
    .option('--ingress-listen <host:port>', 'where the ingress serves the apps', '127.0.0.1:8080')
    .option('--runtime <runtime>', 'docker, process, or auto (docker when its daemon answers)', 'auto')
    .option('--log-level <level>', 'log level of the parts (their JSON logs go to stderr)', 'warn')
    .option(
      '--service-cidr <cidr>',
      `the range of ClusterIPs (default: ${LOOPBACK_SERVICE_CIDR} for the process runtime, ${DEFAULT_SERVICE_CIDR} for docker)`,
    )
    .action(async (repo: string | undefined, flags: UpFlags) => {
      const log = pino({ level: flags.logLevel, base: { component: 'up' } }, logDestination());
      const source = await upSource(repo ?? '.', flags, localCheckout);
      const dataDir = path.resolve(flags.data ?? upDataDir(defaultDataDir(), source));
      const runtime =
        flags.runtime === 'auto'
          ? (await (await loadDockerRuntime()).reachable())
            ? 'docker'
            : 'process'
          : flags.runtime;
      const serviceCidr = flags.serviceCidr ?? (runtime === 'docker' ? DEFAULT_SERVICE_CIDR : LOOPBACK_SERVICE_CIDR);
      const plane = await startControlPlane(
        {
          data: dataDir,
          listen: flags.listen,
          tlsSan: [],
          logLevel: flags.logLevel,
          nodeGracePeriod: '10s',
          ingressListen: flags.ingressListen,
          ingressMode: 'builtin',
          serviceCidr,
        },
        log,
      );
      const nodeName = thisMachine().hostname;
      const agentData = path.join(dataDir, `agent-${nodeName}`);
      // A join token the first time; after that the node's own token in its data dir.
      const token = existsSync(path.join(agentData, 'node.token'))
        ? ''
        : (await plane.server.tokens.create({ role: 'node', description: 'the local agent of berth up' })).token;
      const node = await startNode(
        {
          name: nodeName,
          address: '127.0.0.1',
          runtime,
          data: agentData,
          heartbeatInterval: '2s',
          logLevel: flags.logLevel,
          agentPort: '0',
          sandboxImage: DEFAULT_SANDBOX_IMAGE,
          ingressListen: flags.ingressListen,
          ingressMode: 'builtin',
        },
        {
          server: plane.server.url,
          token,
          ca: readFileSync(path.join(dataDir, 'pki', 'ca.crt'), 'utf8'),
          namespace: 'default',
        },
        log,
      );
      const client = new BerthClient(resolveConnection({ kubeconfig: plane.server.kubeconfigPath }));
      const ingress = `http://${flags.ingressListen.replace(/^(0\.0\.0\.0)?:/, '127.0.0.1:')}`;
      const terminal = new UpTerminal((text) => process.stdout.write(text), process.stdout.isTTY === true);
      const say = (line: string) => terminal.say(line);
      say(
        `berth up: ${source.repoURL}${source.path && source.path !== '.' ? ` (${source.path})` : ''} at ${source.targetRevision ?? 'the default branch'}, as Application ${source.name}`,
      );
      say(`  API         ${plane.server.url}   (export KUBECONFIG=${plane.server.kubeconfigPath})`);
      say(`  admin token ${path.join(dataDir, 'admin.token')}`);
      say(`  runtime     ${node.runtime.name} on node ${nodeName}`);
      say(`  ingress     ${ingress}`);
      say(
        `  services    ClusterIPs from ${serviceCidr}; ${node.podDns.unavailable ? `no cluster DNS in pods (${node.podDns.unavailable}): pods find Services by their environment variables` : `cluster DNS at ${node.podDns.nameserver} (pods resolve Service names)`}`,
      );
      say('Ctrl-C stops everything.');
      await applyApplication(client, source);
      const stopped = untilSignal(log);
      const watching = new AbortController();
      const progress = reportProgress(client, source.name, ingress, terminal, watching.signal);
      await stopped;
      terminal.clear();
      say('stopping: pods, agent, server…');
      watching.abort();
      await progress;
      await node.close({ removePods: true });
      await client.close();
      await plane.close();
      say('stopped.');
    });
}

export async function main(argv: string[]): Promise<void> {
  process.exitCode = await runCli(argv, undefined, [
    addServerCommand,
    addBackupRestoreCommand,
    addStoreMigrateCommand,
    addSimulateCommand,
    addAgentCommand,
    addUpCommand,
  ]);
}
