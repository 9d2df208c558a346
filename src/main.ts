/**
 * Composition root: the one place that picks concrete implementations (store drivers, the HTTPS
 * server, the logger) and wires them together. The `berth` executable (src/cli/berth.js) starts
 * here; commands that need no concrete parts live in src/cli.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import pino, { type Logger } from 'pino';
import { runCli } from './cli/main.js';
import { openStore, type Store } from './store/index.js';
import { defaultDataDir, normalizeRepoURL, startServer } from './server/index.js';
import { GitSource } from './source/index.js';
import { ApplicationController, diffApplication, type ApplicationObject } from './sync/index.js';
import { workloadControllers } from './controllers/index.js';
import { ControllerManager, EventBroadcaster, EventRecorder, InformerFactory, ObjectWriter, storeEventSink } from './runtime/index.js';

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
}

function addServerCommand(program: Command): void {
  program
    .command('server')
    .description('run the Berth API server (HTTPS) over the state store')
    .option('--data <dir>', 'data directory (default $BERTH_DATA or ~/.berth)')
    .option('--store <url>', 'state store: sqlite:PATH (default DATA/state.db), etcd://host:port[,…][/prefix]')
    .option('--listen <host:port>', 'address to serve the API on', '127.0.0.1:7070')
    .option('--tls-san <name>', 'extra name or IP for the serving certificate (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--tls-cert <file>', 'serve this certificate instead of one signed by the cluster CA')
    .option('--tls-key <file>', 'the key of --tls-cert')
    .option('--webhook-secret-file <file>', 'secret that Git push webhooks are signed with (or $BERTH_WEBHOOK_SECRET)')
    .option('--log-level <level>', 'log level (trace, debug, info, warn, error)', 'info')
    .action(async (flags: ServerFlags) => {
      const log = pino({ level: flags.logLevel, base: { component: 'server' } }, pino.destination(2));
      const dataDir = path.resolve(flags.data ?? defaultDataDir());
      const store = await openStore(flags.store ?? `sqlite:${path.join(dataDir, 'state.db')}`);
      const tls = flags.tlsCert && flags.tlsKey ? { cert: readFileSync(flags.tlsCert, 'utf8'), key: readFileSync(flags.tlsKey, 'utf8') } : undefined;
      const webhookSecret = flags.webhookSecretFile ? readFileSync(flags.webhookSecretFile, 'utf8').trim() : process.env.BERTH_WEBHOOK_SECRET || undefined;
      const source = new GitSource({ dataDir, minFetchIntervalMs: MIN_FETCH_INTERVAL_MS });
      const applications = new ApplicationController({ store, source, log: log.child({ component: 'sync' }) });
      const server = await startServer(store, {
        dataDir, listen: flags.listen, tlsSans: flags.tlsSan, log, ...(tls ? { tls } : {}),
        ...(webhookSecret ? { webhookSecret } : {}),
        // A push refreshes the Applications that track that repository (and branch, when they name one).
        onGitPush: (push) => {
          const repos = new Set(push.repoURLs.map(normalizeRepoURL));
          return applications.refreshWhere((app) => {
            const src = app.spec.source;
            return repos.has(normalizeRepoURL(src.repoURL)) && (!push.branch || !src.targetRevision || src.targetRevision === push.branch);
          });
        },
        onDiff: (app, revision) => diffApplication({ store, source }, app as ApplicationObject, revision),
      });
      process.stderr.write(`berth server listening on ${server.url}\nkubeconfig: ${server.kubeconfigPath}\nadmin token: ${path.join(dataDir, 'admin.token')}\n`);
      const controllers = new AbortController();
      const syncing = applications.start(controllers.signal);
      const managing = startControllers(store, log, controllers.signal);
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          log.info({ signal }, 'shutting down');
          resolve();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      controllers.abort();
      await syncing;
      await managing;
      await server.close();
      await store.close();
      log.flush();
    });
}

/** The workload controllers over shared informers, until the signal aborts. */
async function startControllers(store: Store, log: Logger, signal: AbortSignal): Promise<void> {
  const controllerLog = log.child({ component: 'controllers' });
  const informers = new InformerFactory(store, (err) => controllerLog.error({ err }, 'informer failed'));
  const events = new EventBroadcaster(new EventRecorder(storeEventSink(store), { component: 'berth-controller-manager' }), Date.now, (err) => controllerLog.warn({ err }, 'event not recorded'));
  const ctx = { informers, writer: new ObjectWriter(store), events, now: Date.now, log: controllerLog };
  await new ControllerManager(informers, workloadControllers(ctx), controllerLog).start(signal);
  await events.flush();
}

export async function main(argv: string[]): Promise<void> {
  process.exitCode = await runCli(argv, undefined, [addServerCommand]);
}
