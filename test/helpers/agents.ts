/**
 * `berth agent` processes for e2e tests: each on its own loopback address (127.0.0.x), its own
 * data dir, removed with every process it started when the test stops it (also after a failure).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BERTH, inNetns, type BerthServerProcess } from './berth.js';
import { terminate } from './run.js';

export interface AgentProcess {
  name: string;
  address: string;
  dir: string;
  child: ChildProcess;
  logs(): string;
  stop(): Promise<void>;
}

export async function startAgent(
  server: BerthServerProcess,
  o: {
    name: string;
    address: string;
    token?: string;
    runtime?: string;
    args?: string[];
    netns?: string;
    env?: Record<string, string>;
    /** `--server` as given (several servers: URL1,URL2,…); the server's URL by default. */
    servers?: string;
  },
): Promise<AgentProcess> {
  const [command, prefix] = inNetns(o.netns);
  const token = o.token ?? (await server.cli('token', 'create', '--role', 'node')).out.trim();
  const dir = mkdtempSync(path.join(tmpdir(), `berth-agent-${o.name}-`));
  const child = spawn(
    command,
    [
      ...prefix,
      BERTH,
      'agent',
      '--name',
      o.name,
      '--address',
      o.address,
      '--runtime',
      o.runtime ?? 'process',
      '--data',
      dir,
      '--server',
      o.servers ?? server.url,
      '--token',
      token,
      '--heartbeat-interval',
      '1s',
      '--log-level',
      'warn',
      ...(o.args ?? []),
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, BERTH_DATA: '/nonexistent', KUBECONFIG: '', ...o.env },
    },
  );
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return {
    name: o.name,
    address: o.address,
    dir,
    child,
    logs: () => err,
    async stop() {
      await terminate(child);
      killLeftPods(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Whatever a (crashed or killed) process-runtime agent left running goes, by its process groups —
 * only those still running: a pod that ended long ago left its pid free for another process
 * (another test's agent or nginx), which a kill by that pid would take down.
 */
export function killLeftPods(agentDir: string): void {
  const processes = path.join(agentDir, 'process');
  for (const id of existsSync(processes) ? readdirSync(processes) : []) {
    try {
      const meta = JSON.parse(readFileSync(path.join(processes, id, 'meta.json'), 'utf8')) as {
        pid: number;
        procStart: string;
      };
      if (stillOurs(meta)) process.kill(-meta.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The process with this pid is the one the runtime started (its start time, as the runtime recorded it). */
export function stillOurs(meta: { pid: number; procStart: string }): boolean {
  try {
    const stat = readFileSync(`/proc/${meta.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] === meta.procStart;
  } catch {
    return false;
  }
}

export interface SimulatedNodes {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `berth simulate nodes` against the server, joined with a fresh node token; stop() ends it (by its PID). */
export async function startSimulatedNodes(server: BerthServerProcess, o: SimulateOptions): Promise<SimulatedNodes> {
  const token = (await server.cli('token', 'create', '--role', 'node')).out.trim();
  const child = spawnSimulatedNodes(server, token, o);
  return {
    child,
    async stop() {
      await terminate(child);
    },
  };
}

export interface SimulateOptions {
  count: number;
  prefix?: string;
  cpu?: string;
  memory?: string;
  stderr?: 'inherit' | 'ignore' | 'pipe';
}

/** `berth simulate nodes` joining with the given node token (the caller ends the process). */
export function spawnSimulatedNodes(server: BerthServerProcess, token: string, o: SimulateOptions): ChildProcess {
  const sizes = [...(o.cpu ? ['--cpu', o.cpu] : []), ...(o.memory ? ['--memory', o.memory] : [])];
  return spawn(
    process.execPath,
    [
      BERTH,
      'simulate',
      'nodes',
      '--count',
      String(o.count),
      '--name-prefix',
      o.prefix ?? 'sim',
      ...sizes,
      '--server',
      server.url,
      '--token',
      token,
    ],
    {
      stdio: ['ignore', 'ignore', o.stderr ?? 'ignore'],
      env: { ...process.env, BERTH_DATA: '/nonexistent', KUBECONFIG: '' },
    },
  );
}
