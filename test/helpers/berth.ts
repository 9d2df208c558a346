/** The real `berth` executable for e2e tests: a server process, and CLI runs against it. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../shared.js';
import { testServiceCidr } from './ports.js';
import { terminate } from './run.js';

/** Node, or Node entered into a network namespace (nsenter, which execs: the pid is Node's). */
export function inNetns(netns: string | undefined): [string, string[]] {
  return netns ? ['nsenter', [`--net=/run/netns/${netns}`, process.execPath]] : [process.execPath, []];
}

export const BERTH = `${REPO_ROOT}src/cli/berth.js`;

export function buildOnce(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'pipe' });
}

export interface BerthServerProcess {
  dir: string;
  pid: number;
  url: string;
  ca: string;
  token: string;
  /** Everything the server wrote to stderr so far (its logs). */
  logs(): string;
  /** Runs `berth ARGS…` against this server. */
  cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }>;
  /** Kills the process with SIGKILL (a crash): the data dir stays for a restart. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

/** `dir`: an existing data dir to start on (a restart); it is removed by stop() all the same. */
export async function startBerthServer(
  options: {
    env?: Record<string, string>;
    args?: string[];
    dir?: string;
    /** Run it (and cli()) in this network namespace (see netns.ts). */ netns?: string;
    /** Node's own flags (--cpu-prof). */ nodeArgs?: string[];
  } = {},
): Promise<BerthServerProcess> {
  const [command, prefix] = inNetns(options.netns);
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'berth-proc-'));
  const cidr = options.args?.includes('--service-cidr') ? [] : ['--service-cidr', testServiceCidr()];
  const child: ChildProcess = spawn(
    command,
    [
      ...prefix,
      ...(options.nodeArgs ?? []),
      BERTH,
      'server',
      '--data',
      dir,
      '--listen',
      '127.0.0.1:0',
      ...cidr,
      ...(options.args ?? []),
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...options.env },
    },
  );
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const stop = async (): Promise<void> => {
    await terminate(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  while (!/listening on (https:\/\/\S+)/.test(err) && Date.now() < deadline && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 50));
  const url = /listening on (https:\/\/\S+)/.exec(err)?.[1];
  if (!url) {
    await stop();
    throw new Error(`berth server did not start: ${err}`);
  }
  return {
    dir,
    pid: child.pid!,
    url,
    ca: readFileSync(path.join(dir, 'pki', 'ca.crt'), 'utf8'),
    token: readFileSync(path.join(dir, 'admin.token'), 'utf8').trim(),
    logs: () => err,
    async crash() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    },
    cli: (...args) =>
      new Promise((resolve) => {
        const c = spawn(command, [...prefix, BERTH, ...args], {
          env: { ...process.env, BERTH_DATA: dir, KUBECONFIG: '', BERTH_SERVER: '', BERTH_TOKEN: '' },
        });
        let out = '';
        let cerr = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (cerr += d));
        c.on('close', (code) => resolve({ code, out, err: cerr }));
      }),
    stop,
  };
}
