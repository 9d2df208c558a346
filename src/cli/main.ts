/** The `berth` command line: parses arguments and dispatches to one module per command. */
import { POD_SECURITY_LEVELS, type PodSecurityLevel } from '../api/pod-security.js';
import { Command, CommanderError, Option } from 'commander';
import { BerthError, isBerthError } from '../api/errors.js';
import { BACKUP_PATH } from '../api/paths.js';
import { DRY_RUN_MODES, applyCommand } from './apply.js';
import { addConnectionOptions, withClient } from './connect.js';
import { statusCommand } from './status.js';
import { OUTPUT_FORMATS, parseOutputFormat, renderStructured, type CommandIO } from './output.js';
import { GET_OUTPUTS, deleteCommand, describeCommand, eventsCommand, getCommand, type GetOutput } from './resources.js';
import {
  appCreate,
  appDelete,
  appDiff,
  appGet,
  appHistory,
  appManifests,
  appRollback,
  appSet,
  appSync,
  appWait,
  type AppCreateOptions,
  type AppSetOptions,
} from './app.js';
import { parseDurationFlag, tokenCreate, tokenList, tokenRevoke } from './token.js';
import { validateCommand } from './validate.js';
import { sopsDecryptor } from '../sops/file.js';
import {
  encryptCommand,
  readAgeIdentities,
  reencryptCommand,
  type EncryptOptions,
  type ReencryptOptions,
} from './secrets.js';
import { execCommand, logsCommand, portForwardCommand } from './pods.js';
import { cordonCommand, drainCommand, labelCommand, taintCommand } from './nodes.js';
import { topNodes, topPods, type TopOptions } from './top.js';
import { rolloutHistory, rolloutPause, rolloutRestart, rolloutStatus, rolloutUndo, scaleCommand } from './rollout.js';

export const VERSION = '0.1.0';

const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  the thing checked failed (invalid manifests, a failed rollout, …)
  2  usage error, unreadable input, or the server could not be reached`;

/** `extraCommands` are the commands the composition root adds (those needing concrete drivers). */
export async function runCli(
  argv: string[],
  io: CommandIO = defaultIO(),
  extraCommands: ((program: Command) => void)[] = [],
): Promise<number> {
  let exitCode = 0;
  const program = new Command('berth')
    .description('Berth: a GitOps reconciler and the orchestrator it deploys to')
    .version(VERSION)
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run berth --help for usage)');

  program
    .command('validate')
    .description('check manifests (files or directories) as Berth would load them from Git')
    .argument('[paths...]', 'files or directories to check', [])
    .option('--strict', 'treat unknown fields as errors', false)
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text'))
    .addOption(
      new Option(
        '--default-pod-security <level>',
        "Pod Security level of declared namespaces without an enforce label (the server's --default-pod-security)",
      )
        .choices(POD_SECURITY_LEVELS)
        .default('baseline'),
    )
    .option('--decrypt', 'decrypt SOPS-encrypted files (age) and validate what they hold', false)
    .option(
      '--age-key <file>',
      'age identities for --decrypt (age-keygen output; repeatable; default $SOPS_AGE_KEY_FILE)',
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .addHelpText('after', '\nExit codes: 0 valid (warnings allowed), 1 errors found, 2 usage or I/O error.')
    .action(
      async (
        paths: string[],
        opts: {
          strict: boolean;
          output: string;
          defaultPodSecurity: PodSecurityLevel;
          decrypt: boolean;
          ageKey: string[];
        },
      ) => {
        exitCode = await validateCommand(
          paths,
          {
            strict: opts.strict,
            output: parseOutputFormat(opts.output),
            defaultPodSecurity: opts.defaultPodSecurity,
            ...(opts.decrypt ? { decrypt: sopsDecryptor(readAgeIdentities(opts.ageKey)) } : {}),
          },
          io,
        );
      },
    );

  const secrets = program.command('secrets').description('Secrets: SOPS files for Git, and encryption at rest');
  secrets
    .command('encrypt')
    .description('encrypt a manifest as `sops --encrypt --age` does, for Git (printed, or written back with -i)')
    .argument('<file>', 'a YAML or JSON manifest')
    .requiredOption(
      '--age <recipient>',
      'an age recipient (age1…; repeatable, or comma-separated)',
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option(
      '--encrypted-regex <regex>',
      'encrypt the values under matching keys only (default ^(data|stringData)$, as Flux advises)',
    )
    .option('--unencrypted-regex <regex>', 'leave the values under matching keys in plaintext')
    .option('--encrypted-suffix <suffix>', 'encrypt the values under keys with this suffix only')
    .option('--unencrypted-suffix <suffix>', 'leave the values under keys with this suffix in plaintext')
    .option('-i, --in-place', 'write the encrypted file over FILE', false)
    .addHelpText('after', '\nExit codes: 0 written, 1 the file cannot be encrypted, 2 usage or I/O error.')
    .action(async (file: string, o: EncryptOptions) => {
      exitCode = await encryptCommand(file, o, io);
    });
  secrets
    .command('reencrypt')
    .description(
      'write every Secret again, so the server stores it with the first key of its --encryption-config (rotation step 3)',
    )
    .argument('[resources...]', 'resources to rewrite (default: secrets)', [])
    .addOption(new Option('-o, --output <format>', 'json or yaml instead of the summary').choices(['json', 'yaml']))
    .addHelpText('after', '\nExit codes: 0 all rewritten, 1 some could not be, 2 usage or I/O error.')
    .action(async (resources: string[], o: ReencryptOptions, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => reencryptCommand(c, resources, o, io));
    });

  addConnectionOptions(program);
  const outputOption = () =>
    new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text');

  program
    .command('get')
    .description('list objects of a kind, or show one (kubectl-style tables)')
    .argument(
      '<kind>',
      'pods, deployments (deploy), services (svc), ingresses (ing), configmaps (cm), nodes (no), applications (app), …; several as deploy,svc; all',
    )
    .argument('[name]', 'one object')
    .option('-n, --namespace <ns>', "namespace (default: the kubeconfig context's)")
    .option('-A, --all-namespaces', 'every namespace', false)
    .option('-l, --selector <selector>', 'label selector, e.g. app=web,tier!=db')
    .addOption(new Option('-o, --output <format>', 'output format').choices(GET_OUTPUTS).default('table'))
    .option('--no-headers', 'print the rows without the header line')
    .option('-L, --label-columns <keys>', 'show these labels as columns (comma-separated)')
    .option('-w, --watch', 'after the list, print a row for each change until Ctrl-C', false)
    .action(
      async (
        kind: string,
        name: string | undefined,
        o: {
          namespace?: string;
          allNamespaces: boolean;
          selector?: string;
          output: GetOutput;
          headers: boolean;
          labelColumns?: string;
          watch: boolean;
        },
        cmd: Command,
      ) => {
        const stop = new AbortController();
        if (o.watch) process.once('SIGINT', () => stop.abort());
        const { headers, labelColumns, watch, ...rest } = o;
        exitCode = await withClient(cmd, (c) =>
          getCommand(
            c,
            kind,
            name,
            {
              ...rest,
              noHeaders: !headers,
              ...(labelColumns ? { labelColumns: labelColumns.split(',').filter(Boolean) } : {}),
              ...(watch ? { watch: stop.signal } : {}),
            },
            io,
          ),
        );
      },
    );

  program
    .command('events')
    .description('list Events, oldest first, as kubectl events (-w: follow)')
    .option('-n, --namespace <ns>', 'namespace')
    .option('-A, --all-namespaces', 'every namespace', false)
    .option('--for <kind/name>', 'only the Events of this object, e.g. deploy/web')
    .option('--types <types>', 'only these types: Normal, Warning (comma-separated)')
    .option('-w, --watch', 'after the list, print each new Event until Ctrl-C', false)
    .action(
      async (
        o: { namespace?: string; allNamespaces: boolean; for?: string; types?: string; watch: boolean },
        cmd: Command,
      ) => {
        const stop = new AbortController();
        if (o.watch) process.once('SIGINT', () => stop.abort());
        const { types, watch, ...rest } = o;
        exitCode = await withClient(cmd, (c) =>
          eventsCommand(
            c,
            { ...rest, ...(types ? { types: types.split(',') } : {}), ...(watch ? { watch: stop.signal } : {}) },
            io,
          ),
        );
      },
    );

  program
    .command('describe')
    .description("show an object's fields and its recent Events")
    .argument('<kind>')
    .argument('<name>')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (kind: string, name: string, o: { namespace?: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => describeCommand(c, kind, name, o.namespace, io));
    });

  program
    .command('apply')
    .description('create or update objects from manifests (for bootstrapping; Git is the source in normal use)')
    .requiredOption('-f, --filename <paths...>', 'files or directories')
    .option('-n, --namespace <ns>', 'namespace for objects that name none')
    .addOption(
      new Option(
        '--dry-run <mode>',
        'server: the server checks and answers every write (validation, defaults, admission) and stores nothing',
      )
        .choices(DRY_RUN_MODES)
        .default('none'),
    )
    .action(
      async (o: { filename: string[]; namespace?: string; dryRun: (typeof DRY_RUN_MODES)[number] }, cmd: Command) => {
        exitCode = await withClient(cmd, (c) => applyCommand(c, o.filename, o.namespace, io, { dryRun: o.dryRun }));
      },
    );

  program
    .command('delete')
    .description('delete objects by kind and name')
    .argument('<kind>')
    .argument('<names...>')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (kind: string, names: string[], o: { namespace?: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => deleteCommand(c, kind, names, o.namespace, io));
    });

  const rollout = program
    .command('rollout')
    .description('watch, inspect, undo and restart rollouts of deployments, daemon sets and stateful sets')
    .addHelpText(
      'after',
      '\nUnder an Application with self-heal, imperative changes (undo, restart, pause, scale) are reverted by the next sync: change Git instead.',
    );
  rollout
    .command('status')
    .description('wait for a rollout to finish, showing its progress')
    .argument('<target>', 'TYPE/NAME: deploy/web, ds/agent, sts/db')
    .option('-n, --namespace <ns>', 'namespace')
    .option('-w, --watch <bool>', 'keep watching until it finishes (false: report once)', 'true')
    .option('--timeout <duration>', 'give up after this long (e.g. 5m)', '10m')
    .addHelpText(
      'after',
      '\nExit codes: 0 rolled out, 1 failed (progress deadline exceeded) or not finished with --watch=false, 2 error, 3 timed out.',
    )
    .action(async (target: string, o: { namespace?: string; watch: string; timeout: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) =>
        rolloutStatus(
          c,
          target,
          {
            ...(o.namespace ? { namespace: o.namespace } : {}),
            watch: o.watch !== 'false',
            timeoutMs: parseDurationFlag(o.timeout, '--timeout'),
            tty: process.stdout.isTTY === true,
          },
          io,
        ),
      );
    });
  rollout
    .command('history')
    .description("a deployment's revisions (its ReplicaSets)")
    .argument('<target>', 'deploy/NAME')
    .option('-n, --namespace <ns>', 'namespace')
    .option('--revision <n>', "show that revision's pod template")
    .addOption(outputOption())
    .action(async (target: string, o: { namespace?: string; revision?: string; output: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) =>
        rolloutHistory(
          c,
          target,
          {
            ...(o.namespace ? { namespace: o.namespace } : {}),
            ...(o.revision ? { revision: nonNegative(o.revision, '--revision') } : {}),
            output: parseOutputFormat(o.output),
          },
          io,
        ),
      );
    });
  rollout
    .command('undo')
    .description("roll back to a previous revision's template (a new revision, as kubectl)")
    .argument('<target>', 'deploy/NAME')
    .option('-n, --namespace <ns>', 'namespace')
    .option('--to-revision <n>', 'the revision to go back to (default: the previous one)', '0')
    .action(async (target: string, o: { namespace?: string; toRevision: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) =>
        rolloutUndo(
          c,
          target,
          {
            ...(o.namespace ? { namespace: o.namespace } : {}),
            toRevision: nonNegative(o.toRevision, '--to-revision'),
          },
          io,
        ),
      );
    });
  rollout
    .command('restart')
    .description('replace every pod (a new revision with a restartedAt annotation)')
    .argument('<target>', 'deploy/NAME, ds/NAME or sts/NAME')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (target: string, o: { namespace?: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => rolloutRestart(c, target, o, io));
    });
  for (const [verb, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    rollout
      .command(verb)
      .description(
        paused ? 'stop a deployment from rolling out template changes' : 'let a paused deployment roll out again',
      )
      .argument('<target>', 'deploy/NAME')
      .option('-n, --namespace <ns>', 'namespace')
      .action(async (target: string, o: { namespace?: string }, cmd: Command) => {
        exitCode = await withClient(cmd, (c) => rolloutPause(c, target, paused, o, io));
      });
  }

  const top = program
    .command('top')
    .description('CPU and memory of pods or nodes, from metrics.k8s.io (as kubectl top)');
  for (const what of ['pods', 'nodes'] as const) {
    const sub = top
      .command(what)
      .aliases(what === 'pods' ? ['pod', 'po'] : ['node', 'no'])
      .description(
        what === 'pods'
          ? "pods' CPU and memory (their containers' with --containers)"
          : "nodes' CPU and memory, and their share of what is allocatable",
      )
      .argument('[name]', what === 'pods' ? 'one pod' : 'one node')
      .option('-l, --selector <selector>', 'label selector, e.g. app=web')
      .option('--sort-by <resource>', 'cpu or memory, highest first')
      .option('--no-headers', 'print the rows without the header line')
      .addOption(new Option('-o, --output <format>', 'json or yaml instead of the table').choices(['json', 'yaml']))
      .addHelpText('after', '\nExit codes: 0 shown, 1 no metrics yet, 2 error.');
    if (what === 'pods')
      sub
        .option('-n, --namespace <ns>', "namespace (default: the kubeconfig context's)")
        .option('-A, --all-namespaces', 'every namespace', false)
        .option('--containers', "each container's usage", false);
    sub.action(
      async (
        name: string | undefined,
        o: TopOptions & { headers: boolean; output?: 'json' | 'yaml' },
        cmd: Command,
      ) => {
        const { headers, ...rest } = o;
        const options = { ...rest, noHeaders: !headers };
        exitCode = await withClient(cmd, (c) =>
          what === 'pods' ? topPods(c, name, options, io) : topNodes(c, name, options, io),
        );
      },
    );
  }

  for (const [verb, cordon] of [
    ['cordon', true],
    ['uncordon', false],
  ] as const) {
    program
      .command(verb)
      .description(cordon ? 'mark a node unschedulable (its pods stay)' : 'mark a node schedulable again')
      .argument('<node>')
      .action(async (node: string, _o: unknown, cmd: Command) => {
        exitCode = await withClient(cmd, (c) => cordonCommand(c, node, cordon, io));
      });
  }
  program
    .command('drain')
    .description('cordon a node and evict its pods (their controllers start them elsewhere)')
    .argument('<node>')
    .option('--ignore-daemonsets', 'leave DaemonSet pods (they belong on every node)', false)
    .option('--force', 'also delete pods no controller owns (they are not recreated)', false)
    .option('--timeout <duration>', 'give up after this long', '5m')
    .addHelpText(
      'after',
      '\nExit codes: 0 drained, 1 pods that may not be evicted without a flag, 2 error, 3 timed out.',
    )
    .action(async (node: string, o: { ignoreDaemonsets: boolean; force: boolean; timeout: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) =>
        drainCommand(
          c,
          node,
          {
            ignoreDaemonsets: o.ignoreDaemonsets,
            force: o.force,
            timeoutMs: parseDurationFlag(o.timeout, '--timeout'),
          },
          io,
        ),
      );
    });
  program
    .command('taint')
    .description('add (key=value:Effect) or remove (key:Effect-, key-) taints on a node')
    .argument('<node>')
    .argument('<taints...>')
    .option('--overwrite', 'replace a taint with the same key and effect', false)
    .action(async (node: string, taints: string[], o: { overwrite: boolean }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => taintCommand(c, node, taints, o, io));
    });
  program
    .command('label')
    .description('set (key=value) or remove (key-) labels on a node')
    .argument('<node>')
    .argument('<labels...>')
    .option('--overwrite', 'replace a label that has another value', false)
    .action(async (node: string, labels: string[], o: { overwrite: boolean }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => labelCommand(c, node, labels, o, io));
    });

  program
    .command('logs')
    .description("print a container's log (through the server, from the pod's agent)")
    .argument('[pod]', 'POD, pod/POD, or a workload (deploy/NAME, sts/NAME, …: one of its pods)')
    .option('-n, --namespace <ns>', 'namespace')
    .option('-c, --container <name>', 'container (default: the first)')
    .option('-l, --selector <selector>', 'every pod the selector matches (e.g. app=web)')
    .option('-f, --follow', 'keep streaming new lines', false)
    .option('-p, --previous', 'the previous instance of the container (before its last restart)', false)
    .option('--tail <n>', 'only the last N lines')
    .option('--since <duration>', 'only lines newer than this (e.g. 10m)')
    .option('--timestamps', 'start each line with its time (Docker runtime)', false)
    .option('--prefix', 'start each line with [pod/NAME/CONTAINER]', false)
    .action(
      async (
        pod: string | undefined,
        o: {
          namespace?: string;
          container?: string;
          selector?: string;
          follow: boolean;
          previous: boolean;
          tail?: string;
          since?: string;
          timestamps: boolean;
          prefix: boolean;
        },
        cmd: Command,
      ) => {
        const abort = new AbortController();
        process.once('SIGINT', () => abort.abort());
        exitCode = await withClient(cmd, (c) =>
          logsCommand(
            c,
            pod,
            {
              ...(o.namespace ? { namespace: o.namespace } : {}),
              ...(o.container ? { container: o.container } : {}),
              ...(o.selector ? { selector: o.selector } : {}),
              follow: o.follow,
              previous: o.previous,
              timestamps: o.timestamps,
              prefix: o.prefix,
              ...(o.tail ? { tail: nonNegative(o.tail, '--tail') } : {}),
              ...(o.since ? { sinceSeconds: Math.ceil(parseDurationFlag(o.since, '--since') / 1000) } : {}),
            },
            io,
            abort.signal,
          ),
        );
      },
    );
  program
    .command('exec')
    .description('run a command in a running container; exits with its exit code')
    .argument('<pod>')
    .argument('<command...>', 'the command, after --')
    .option('-n, --namespace <ns>', 'namespace')
    .option('-c, --container <name>', 'container (default: the first)')
    .option('-i, --stdin', "pass this terminal's input to the command", false)
    .option('-t, --tty', 'run the command on a terminal (raw mode and resizes follow this one)', false)
    .action(
      async (
        pod: string,
        command: string[],
        o: { namespace?: string; container?: string; stdin: boolean; tty: boolean },
        cmd: Command,
      ) => {
        exitCode = await withClient(cmd, (c) =>
          execCommand(c, pod, command, o, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }),
        );
      },
    );
  program
    .command('port-forward')
    .description("forward a local port to a pod's port until interrupted (127.0.0.1 unless an address is given)")
    .argument('<pod>', 'NAME or pod/NAME')
    .argument('<ports>', '[ADDRESS:]LOCAL:REMOTE, or PORT for the same on both sides (LOCAL 0: any free port)')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (pod: string, ports: string, o: { namespace?: string }, cmd: Command) => {
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      process.once('SIGTERM', () => abort.abort());
      exitCode = await withClient(cmd, (c) => portForwardCommand(c, pod, ports, o, io, abort.signal));
    });

  program
    .command('scale')
    .description('set the replicas of a deployment, replica set or stateful set')
    .argument('<target>', 'deploy/NAME, rs/NAME or sts/NAME')
    .requiredOption('--replicas <n>', 'the number of replicas')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (target: string, o: { namespace?: string; replicas: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) =>
        scaleCommand(
          c,
          target,
          { ...(o.namespace ? { namespace: o.namespace } : {}), replicas: nonNegative(o.replicas, '--replicas') },
          io,
        ),
      );
    });

  program
    .command('version')
    .description("print the client's and the server's versions")
    .addOption(outputOption())
    .action(async (o: { output: string }, cmd: Command) => {
      const client = { version: VERSION };
      let server: unknown;
      let failure = 0;
      try {
        server = await withClient(cmd, (c) => c.request('GET', '/version'));
      } catch (e) {
        server = { error: (e as Error).message };
        // As every command: 2 when the server cannot be reached, the error's own code otherwise.
        failure = isBerthError(e) ? e.exitCode : 2;
      }
      const format = parseOutputFormat(o.output);
      if (format === 'text')
        io.stdout(
          `Client Version: ${VERSION}\nServer Version: ${(server as { gitVersion?: string }).gitVersion ?? `unavailable (${(server as { error?: string }).error})`}\n`,
        );
      else io.stdout(renderStructured(format, { clientVersion: client, serverVersion: server }));
      exitCode = failure;
    });

  const app = program.command('app').description('Applications: Git repositories Berth keeps the cluster in sync with');
  app
    .command('create')
    .description('create an Application')
    .argument('<name>')
    .requiredOption('--repo <url>', 'repository: http(s) URL, file:// URL or local path')
    .option('--revision <rev>', 'branch, tag or commit (default: the default branch)')
    .option('--path <dir>', 'directory in the repository')
    .option('--dest-namespace <ns>', 'namespace for objects that name none')
    .option('--auto-sync', 'sync every new commit', false)
    .option('--prune', 'delete objects removed from Git (with --auto-sync)', false)
    .option('--self-heal', 'revert changes made outside Git (with --auto-sync)', false)
    .option('--auto-rollback', 'return to the last healthy revision when a sync degrades', false)
    .option('--poll-interval <duration>', 'how often to poll, e.g. 30s')
    .option('--upsert', 'give an existing Application of this name this spec instead of failing', false)
    .option(
      '--commit-status-url <url>',
      "post each commit's state here ({sha}: the commit), e.g. a GitHub or Gitea statuses URL",
    )
    .option('--commit-status-token-secret <secret>', 'a Secret (key `token`) with the token for --commit-status-url')
    .option('--commit-status-context <context>', 'the commit status context (default: berth)')
    .option('--commit-status-target-url <url>', 'the link of each status ({sha}, {app}, {namespace} replaced)')
    .option('-n, --namespace <ns>', 'namespace of the Application')
    .action(async (name: string, o: AppCreateOptions, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => appCreate(c, name, o, io));
    });
  app
    .command('history')
    .description("an Application's syncs: revision, message, who started it, result, time to healthy")
    .argument('<name>')
    .option('-n, --namespace <ns>', 'namespace')
    .addOption(outputOption())
    .action(async (name: string, o: { namespace?: string; output: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => appHistory(c, name, { ...o, output: parseOutputFormat(o.output) }, io));
    });
  app
    .command('manifests')
    .description('what a sync of the revision would apply (Secret values masked)')
    .argument('<name>')
    .option('--revision <rev>', 'branch, tag, commit or refs/pull/N/head (default: the tracked one)')
    .option('-n, --namespace <ns>', 'namespace')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action(
      async (name: string, o: { namespace?: string; revision?: string; output: 'yaml' | 'json' }, cmd: Command) => {
        exitCode = await withClient(cmd, (c) => appManifests(c, name, o, io));
      },
    );
  app
    .command('set')
    .description('change settings of an existing Application; what is not given stays')
    .argument('<name>')
    .option('--repo <url>', 'repository')
    .option('--revision <rev>', 'branch, tag or commit to track')
    .option('--path <dir>', 'directory in the repository')
    .option('--poll-interval <duration>', 'how often to poll, e.g. 30s')
    .option('--auto-sync', 'sync every new commit')
    .option('--no-auto-sync', 'stop syncing new commits by themselves')
    .option('--prune', 'delete objects removed from Git')
    .option('--no-prune', 'keep objects removed from Git (OutOfSync)')
    .option('--self-heal', 'revert changes made outside Git')
    .option('--no-self-heal', 'leave changes made outside Git (OutOfSync)')
    .option('--auto-rollback', 'return to the last healthy revision when a sync degrades')
    .option('--no-auto-rollback', 'do not roll back by itself')
    .option('--commit-status-url <url>', "post each commit's state here ({sha}: the commit)")
    .option('--commit-status-token-secret <secret>', 'a Secret (key `token`) with the token for it')
    .option('--commit-status-context <context>', 'the commit status context')
    .option('--commit-status-target-url <url>', 'the link of each status ({sha}, {app}, {namespace} replaced)')
    .option('--no-commit-status', 'stop posting commit statuses')
    .option('-n, --namespace <ns>', 'namespace of the Application')
    .action(async (name: string, o: AppSetOptions & { commitStatus?: boolean }, cmd: Command) => {
      const { commitStatus, ...rest } = o;
      exitCode = await withClient(cmd, (c) => appSet(c, name, { ...rest, noCommitStatus: commitStatus === false }, io));
    });
  app
    .command('list')
    .description('list Applications with their sync and health status')
    .option('-A, --all-namespaces', 'every namespace', false)
    .addOption(new Option('-o, --output <format>', 'output format').choices(GET_OUTPUTS).default('table'))
    .action(async (o: { allNamespaces: boolean; output: GetOutput }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) =>
        getCommand(c, 'applications', undefined, { allNamespaces: o.allNamespaces, output: o.output }, io),
      );
    });
  app
    .command('get')
    .description('show an Application: source, sync, health, conditions, resources, history')
    .argument('<name>')
    .option('-n, --namespace <ns>', 'namespace')
    .addOption(outputOption())
    .action(async (name: string, o: { namespace?: string; output: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => appGet(c, name, o.namespace, parseOutputFormat(o.output), io));
    });
  app
    .command('sync')
    .description('sync an Application now (prunes too), and wait for the result')
    .argument('<name>')
    .option('-n, --namespace <ns>', 'namespace')
    .option(
      '--revision <rev>',
      'sync this branch, tag or commit instead of the tracked one, pausing auto-sync until a new commit lands (or --resume)',
    )
    .option('--resume', 'end a rollback or --revision pin: follow the tracked branch again', false)
    .option('--no-wait', 'return once the sync is requested')
    .option('--timeout <duration>', 'how long to wait', '120s')
    .action(
      async (
        name: string,
        o: { namespace?: string; revision?: string; wait: boolean; timeout: string; resume: boolean },
        cmd: Command,
      ) => {
        exitCode = await withClient(cmd, (c) =>
          appSync(
            c,
            name,
            {
              ...(o.namespace ? { namespace: o.namespace } : {}),
              ...(o.revision ? { revision: o.revision } : {}),
              wait: o.wait,
              resume: o.resume,
              timeoutMs: parseDurationFlag(o.timeout, '--timeout'),
            },
            io,
          ),
        );
      },
    );
  app
    .command('rollback')
    .description(
      'sync an earlier commit (a history ID or commit; default: the previous sync) and pause auto-sync until a new commit lands',
    )
    .argument('<name>')
    .argument('[target]', 'history ID or commit')
    .option('-n, --namespace <ns>', 'namespace')
    .option('--no-wait', 'return once the rollback is requested')
    .option('--timeout <duration>', 'how long to wait', '120s')
    .action(
      async (
        name: string,
        target: string | undefined,
        o: { namespace?: string; wait: boolean; timeout: string },
        cmd: Command,
      ) => {
        exitCode = await withClient(cmd, (c) =>
          appRollback(
            c,
            name,
            target,
            {
              ...(o.namespace ? { namespace: o.namespace } : {}),
              wait: o.wait,
              timeoutMs: parseDurationFlag(o.timeout, '--timeout'),
            },
            io,
          ),
        );
      },
    );
  app
    .command('diff')
    .description('show what syncing a revision would change (created, changed, pruned), as for a pull request')
    .argument('<name>')
    .option('-n, --namespace <ns>', 'namespace')
    .option('--revision <rev>', 'branch, tag or commit (default: the tracked revision)')
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['text', 'markdown', 'json']).default('text'),
    )
    .option('--max-diff-length <chars>', "markdown: cut each resource's diff after this many characters")
    .option(
      '--split-dir <dir>',
      'markdown: write the comment as DIR/comment-1.md, -2.md, … each under 64 KB (GitHub caps a comment there)',
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 no difference, 1 differences, 2 the revision would not be synced (invalid manifests, a policy it breaks, an unreachable repository).',
    )
    .action(
      async (
        name: string,
        o: {
          namespace?: string;
          revision?: string;
          output: 'text' | 'markdown' | 'json';
          maxDiffLength?: string;
          splitDir?: string;
        },
        cmd: Command,
      ) => {
        if ((o.maxDiffLength || o.splitDir) && o.output !== 'markdown')
          throw new BerthError('Usage', '--max-diff-length and --split-dir go with -o markdown');
        exitCode = await withClient(cmd, (c) =>
          appDiff(
            c,
            name,
            {
              ...(o.namespace ? { namespace: o.namespace } : {}),
              ...(o.revision ? { revision: o.revision } : {}),
              output: o.output,
              ...(o.maxDiffLength ? { maxDiffLength: nonNegative(o.maxDiffLength, '--max-diff-length') } : {}),
              ...(o.splitDir ? { splitDir: o.splitDir } : {}),
            },
            io,
          ),
        );
      },
    );
  app
    .command('wait')
    .description('wait until an Application is synced (at a revision) and, with --health, healthy')
    .argument('<name>')
    .option('-n, --namespace <ns>', 'namespace')
    .option('--revision <sha>', 'the commit to wait for (a prefix will do)')
    .option('--health', 'also wait for Healthy', false)
    .option('--timeout <duration>', 'give up after', '300s')
    .addHelpText('after', '\nExit codes: 0 synced (and healthy), 1 failed or degraded, 2 error, 3 timed out.')
    .action(
      async (
        name: string,
        o: { namespace?: string; revision?: string; health: boolean; timeout: string },
        cmd: Command,
      ) => {
        exitCode = await withClient(cmd, (c) =>
          appWait(
            c,
            name,
            {
              ...(o.namespace ? { namespace: o.namespace } : {}),
              ...(o.revision ? { revision: o.revision } : {}),
              health: o.health,
              timeoutMs: parseDurationFlag(o.timeout, '--timeout'),
              tty: process.stderr.isTTY === true,
            },
            io,
          ),
        );
      },
    );
  app
    .command('delete')
    .description('delete an Application (with --cascade, the objects it manages too)')
    .argument('<name>')
    .option('-n, --namespace <ns>', 'namespace')
    .option('--cascade', 'also delete the objects the Application manages', false)
    .action(async (name: string, o: { namespace?: string; cascade: boolean }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => appDelete(c, name, o, io));
    });

  const token = program.command('token').description('API tokens: create, list, revoke');
  token
    .command('create')
    .description('create a token and print it (node tokens print as join tokens carrying the CA hash)')
    .requiredOption('--role <role>', 'admin, readonly, node or ci')
    .option('--ttl <duration>', 'expire after, e.g. 24h, 7d')
    .option('--description <text>', 'what the token is for')
    .option('--node <name>', 'bind a node token to one node')
    .action(async (o: { role: string; ttl?: string; description?: string; node?: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => tokenCreate(c, o, io));
    });
  token
    .command('list')
    .description('list tokens (their secrets are never shown: only hashes are stored)')
    .addOption(outputOption())
    .action(async (o: { output: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => tokenList(c, parseOutputFormat(o.output), io));
    });
  token
    .command('revoke')
    .description('revoke tokens by ID')
    .argument('<ids...>')
    .action(async (ids: string[], _o: unknown, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => tokenRevoke(c, ids, io));
    });

  program
    .command('status')
    .description('the control plane: each server, which one leads, and how many nodes are Ready')
    .addOption(outputOption())
    .addHelpText('after', '\nExit codes: 0 a server leads, 1 none does (the controllers are not running), 2 error.')
    .action(async (o: { output: string }, cmd: Command) => {
      exitCode = await withClient(cmd, (c) => statusCommand(c, parseOutputFormat(o.output), io));
    });

  const backup = program
    .command('backup')
    .description(
      "copies of the cluster's state: take one from a running server, or restore one (with the server stopped)",
    );
  backup
    .command('create')
    .description(
      "download a consistent copy of the server's store, taken now (SQLite: a database file; etcd: a snapshot)",
    )
    .argument('<file>', 'where to write it (private to you)')
    .action(async (file: string, _o: unknown, cmd: Command) => {
      exitCode = await withClient(cmd, async (c) => {
        const headers = await c.download(BACKUP_PATH, file);
        io.stdout(`backup of revision ${String(headers['x-berth-backup-revision'])} written to ${file}\n`);
        return 0;
      });
    });

  for (const add of extraCommands) add(program);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isBerthError(e)) {
      io.stderr(`error: ${e.message}\n`);
      return e.exitCode;
    }
    io.stderr(`internal error: ${(e as Error).stack ?? String(e)}\n`);
    return new BerthError('Internal', '').exitCode;
  }
}

function defaultIO(): CommandIO {
  return {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    // As git and kubectl: colour on a terminal, never in a pipe or with NO_COLOR (no-color.org).
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
  };
}

function nonNegative(value: string, flag: string): number {
  if (!/^[0-9]+$/.test(value))
    throw new BerthError('Usage', `${flag} must be a non-negative integer, not ${JSON.stringify(value)}`);
  return Number(value);
}
