/**
 * The process runtime (as Nomad's exec driver): a container is `command`+`args` run as a child
 * process in its own process group, in the pod's work directory, with the pod's environment,
 * `$PORT`/`$PORT_<NAME>` set to its host ports and `$BERTH_VOLUME_<NAME>` to its volumes'
 * directories; stdout and stderr go to a log file rotated at 10 MiB. The process is started
 * through `sh`, which records its exit code in a file, so that an agent started again later (the
 * processes outlive it) still learns how each one ended. A state directory per container holds its
 * labels; /proc tells whether its process still runs (start time checked against pid reuse).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync,
  truncateSync,
} from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  ContainerRuntime,
  ContainerSpec,
  ExecResult,
  ExecSession,
  LogOptions,
  PortBinding,
  RuntimeContainer,
} from '../runtime.js';
import { TerminalSize, terminalCommand } from './terminal.js';
import { processStartTime } from '../../api/processes.js';
import { renderResolvConf } from '../dns-config.js';
import { mountFailure, nfsMountArgs, type NfsShare } from '../nfs.js';
import { processGroupUsage, type Usage } from '../usage.js';

const osSignals = osConstants.signals as Record<string, number>;
const ROTATE_BYTES = 10 * 1024 * 1024;
/**
 * The shell around each command ($x is the exit file): it outlives the command, passes SIGTERM on
 * (so a command that ignores it is still running, and then SIGKILLed, when the grace period ends),
 * and writes the command's exit status when it ends — whole, by a rename: the file's existence is
 * what says the container ended, and a reader must never find it empty (it read as exit code 0).
 */
const WRAPPER =
  '"$@" & c=$!; trap \'kill -TERM $c 2>/dev/null\' TERM INT; while :; do wait $c; s=$?; kill -0 $c 2>/dev/null || break; done; echo $s > "$x.new"; mv "$x.new" "$x"';
/** $0 is the exit file, the command follows. */
const PLAIN = `x="$0"; ${WRAPPER}`;
/**
 * In the pod's own mount namespace (made by `unshare --mount`, which execs, keeping the pid): the
 * pod's resolv.conf ($0) and hosts ($1) over the node's, then as PLAIN with $2 the exit file.
 */
const WITH_POD_FILES = `mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts || exit 125; x="$2"; shift 2; ${WRAPPER}`;
/** The usual system PATH, and the directory of the node running Berth (so `node` is found wherever it is installed). */
const BASE_PATH = `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${path.dirname(process.execPath)}`;

interface Meta {
  id: string;
  podUid: string;
  name: string;
  restartCount: number;
  image: string;
  ports: PortBinding[];
  pid: number;
  /** /proc/<pid>/stat's start time: a reused pid has another. */
  procStart: string;
  startedAt: number;
  cwd: string;
  env: Record<string, string>;
  /** The pod's resolv.conf and hosts are mounted in a namespace of its own: an exec enters it. */
  mountNamespace?: boolean;
  /** runAsUser/runAsGroup when the agent could honour them (as root): an exec runs as the container does. */
  uid?: number;
  gid?: number;
}

/** `$PORT_HTTP` for a port named "http". */
export const envName = (name: string): string => name.toUpperCase().replace(/[^A-Z0-9]/g, '_');

/** An exec runs as its container's user and group. */
const sameUser = (meta: Meta) => ({
  ...(meta.uid !== undefined ? { uid: meta.uid } : {}),
  ...(meta.gid !== undefined ? { gid: meta.gid } : {}),
});

/**
 * A command for an exec: entering the container's mount namespace when it has one of its own (in
 * the container's work directory: entering a mount namespace moves the cwd to its root).
 */
function inPodNamespace(meta: Meta, command: string[]): [string, string[]] {
  return meta.mountNamespace
    ? ['nsenter', [`--mount=/proc/${meta.pid}/ns/mnt`, `--wd=${meta.cwd}`, '--', ...command]]
    : [command[0]!, command.slice(1)];
}

/**
 * Whether pods can have their own /etc/resolv.conf and /etc/hosts: a mount namespace each
 * (util-linux unshare and nsenter, as root). Else they use the node's files, and find Services by
 * their environment variables only.
 */
export function podFilesUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the agent does not run as root';
  for (const tool of ['unshare', 'nsenter', 'mount'])
    if (!BASE_PATH.split(':').some((dir) => existsSync(path.join(dir, tool))))
      return `${tool} (util-linux) is not installed`;
  return undefined;
}

export class ProcessRuntime implements ContainerRuntime {
  readonly name = 'process' as const;
  private readonly podFiles = podFilesUnavailable() === undefined;

  constructor(private readonly dataDir: string) {
    mkdirSync(this.stateRoot, { recursive: true });
  }

  /** Writes the pod's resolv.conf and hosts; undefined when the pod keeps the node's. */
  private writePodFiles(spec: ContainerSpec): [string, string] | undefined {
    if (!this.podFiles || !spec.dns || spec.hostNetwork) return undefined;
    const dir = path.join(this.dataDir, 'pods', spec.podUid, 'etc');
    mkdirSync(dir, { recursive: true });
    const files: [string, string] = [path.join(dir, 'resolv.conf'), path.join(dir, 'hosts')];
    writeFileSync(files[0], renderResolvConf(spec.dns));
    writeFileSync(files[1], spec.hosts ?? '');
    return files;
  }

  private get stateRoot(): string {
    return path.join(this.dataDir, 'process');
  }

  check(spec: ContainerSpec): string | undefined {
    if (spec.command.length === 0 && spec.args.length === 0)
      return `container ${spec.name}: the process runtime runs a command and cannot run an image by itself (give it command/args, or use the docker runtime)`;
    if (spec.command.length === 0)
      return `container ${spec.name}: the process runtime needs command (the image's entrypoint is unknown to it)`;
    if (spec.readOnlyRootFilesystem)
      return `container ${spec.name}: the process runtime cannot make the root filesystem read-only (securityContext.readOnlyRootFilesystem)`;
    if (spec.privileged) return `container ${spec.name}: the process runtime cannot run privileged containers`;
    if (spec.runAsUser !== undefined && process.getuid?.() !== 0 && spec.runAsUser !== process.getuid?.())
      return `container ${spec.name}: runAsUser ${spec.runAsUser} needs the agent to run as root`;
    return undefined;
  }

  /** The environment a container's process (and an exec in it) sees. */
  static environment(spec: ContainerSpec): Record<string, string> {
    const env: Record<string, string> = { PATH: BASE_PATH, HOME: '/tmp', HOSTNAME: spec.podName };
    const [first] = spec.ports;
    if (first) env.PORT = String(first.hostPort);
    for (const p of spec.ports) if (p.name) env[`PORT_${envName(p.name)}`] = String(p.hostPort);
    for (const m of spec.mounts) env[`BERTH_VOLUME_${envName(m.volume)}`] = m.source;
    return { ...env, ...spec.env };
  }

  async start(spec: ContainerSpec): Promise<RuntimeContainer> {
    const refused = this.check(spec);
    if (refused) throw new Error(refused);
    for (const m of spec.mounts) if (m.nfs) await mountNfs(m.volume, m.nfs, m.readOnly);
    const id = `${spec.podUid.slice(0, 8)}-${spec.name}-${spec.restartCount}-${randomBytes(3).toString('hex')}`;
    const dir = path.join(this.stateRoot, id);
    mkdirSync(dir, { recursive: true });
    const cwd = path.join(this.dataDir, 'pods', spec.podUid, 'work');
    mkdirSync(cwd, { recursive: true });
    const env = ProcessRuntime.environment(spec);
    const log = openSync(path.join(dir, 'log'), 'a');
    const podFiles = this.writePodFiles(spec);
    const exitFile = path.join(dir, 'exit');
    const [file, args] = podFiles
      ? [
          'unshare',
          [
            '--mount',
            '--propagation',
            'private',
            '--',
            '/bin/sh',
            '-c',
            WITH_POD_FILES,
            ...podFiles,
            exitFile,
            ...spec.command,
            ...spec.args,
          ],
        ]
      : ['/bin/sh', ['-c', PLAIN, exitFile, ...spec.command, ...spec.args]];
    try {
      const child = spawn(file, args, {
        cwd,
        env,
        detached: true,
        stdio: ['ignore', log, log],
        ...(spec.runAsUser !== undefined && process.getuid?.() === 0 ? { uid: spec.runAsUser } : {}),
        ...(spec.runAsGroup !== undefined && process.getuid?.() === 0 ? { gid: spec.runAsGroup } : {}),
      });
      child.unref();
      if (!child.pid) throw new Error(`container ${spec.name}: could not start /bin/sh`);
      const meta: Meta = {
        id,
        podUid: spec.podUid,
        name: spec.name,
        restartCount: spec.restartCount,
        image: spec.image,
        ports: spec.ports,
        pid: child.pid,
        procStart: processStartTime(child.pid) ?? '',
        startedAt: Date.now(),
        cwd,
        env,
        ...(podFiles ? { mountNamespace: true } : {}),
        ...(spec.runAsUser !== undefined && process.getuid?.() === 0 ? { uid: spec.runAsUser } : {}),
        ...(spec.runAsGroup !== undefined && process.getuid?.() === 0 ? { gid: spec.runAsGroup } : {}),
      };
      writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
      return this.describe(meta);
    } finally {
      closeSync(log);
    }
  }

  private read(id: string): Meta | undefined {
    try {
      return JSON.parse(readFileSync(path.join(this.stateRoot, id, 'meta.json'), 'utf8')) as Meta;
    } catch {
      return undefined;
    }
  }

  private alive(meta: Meta): boolean {
    return processStartTime(meta.pid) === meta.procStart && !existsSync(path.join(this.stateRoot, meta.id, 'exit'));
  }

  private describe(meta: Meta): RuntimeContainer {
    const base = {
      id: meta.id,
      podUid: meta.podUid,
      name: meta.name,
      restartCount: meta.restartCount,
      startedAt: meta.startedAt,
      ports: meta.ports,
      image: meta.image,
    };
    if (this.alive(meta)) return { ...base, state: 'running' };
    const exitFile = path.join(this.stateRoot, meta.id, 'exit');
    let exitCode = 137;
    let finishedAt = Date.now();
    try {
      exitCode = Number(readFileSync(exitFile, 'utf8').trim());
      finishedAt = statSync(exitFile).mtimeMs;
    } catch {
      // Killed with its shell (SIGKILL to the group): no exit file; 137 as a SIGKILLed process has.
    }
    return { ...base, state: 'exited', exitCode, finishedAt };
  }

  /** Each container is a process group led by its shell: its processes' CPU time and resident memory. */
  async usage(ids: string[]): Promise<Map<string, Usage>> {
    const leaders = new Map<number, string>();
    for (const id of ids) {
      const meta = this.read(id);
      if (meta && this.alive(meta)) leaders.set(meta.pid, id);
    }
    const out = new Map<string, Usage>();
    for (const [pgrp, usage] of processGroupUsage(new Set(leaders.keys()))) out.set(leaders.get(pgrp)!, usage);
    return out;
  }

  async list(): Promise<RuntimeContainer[]> {
    const out: RuntimeContainer[] = [];
    for (const id of readdirSync(this.stateRoot)) {
      const meta = this.read(id);
      if (!meta) continue;
      this.rotate(meta.id);
      out.push(this.describe(meta));
    }
    return out;
  }

  private rotate(id: string): void {
    const log = path.join(this.stateRoot, id, 'log');
    try {
      if (statSync(log).size < ROTATE_BYTES) return;
      // copytruncate: the process keeps writing to its O_APPEND descriptor.
      copyFileSync(log, `${log}.1`);
      truncateSync(log, 0);
    } catch {
      // gone meanwhile
    }
  }

  async stop(id: string, graceMs: number): Promise<void> {
    const meta = this.read(id);
    if (!meta || !this.alive(meta)) return;
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-meta.pid, sig);
      } catch {
        // the group is gone
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (this.alive(meta) && Date.now() < deadline) await sleep(50);
    // Whatever is left of the group goes too: the leader may have exited on SIGTERM while a child
    // it started (a server still binding its port) did not, and would hold the pod's port after it.
    signal('SIGKILL');
    while (processStartTime(meta.pid) === meta.procStart) await sleep(20);
  }

  async remove(id: string): Promise<void> {
    await this.stop(id, 0);
    rmSync(path.join(this.stateRoot, id), { recursive: true, force: true });
  }

  async *logs(id: string, options: LogOptions = {}): AsyncIterable<string> {
    const file = path.join(this.stateRoot, id, 'log');
    if (!existsSync(file)) return;
    const text = readFileSync(file, 'utf8');
    let lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (options.tailLines !== undefined) lines = lines.slice(Math.max(0, lines.length - options.tailLines));
    for (const l of lines) yield `${l}\n`;
    if (!options.follow) return;
    let offset = Buffer.byteLength(text);
    const meta = this.read(id);
    const handle = await openFile(file, 'r');
    try {
      let partial = '';
      while (!options.signal?.aborted) {
        const size = (await handle.stat()).size;
        if (size < offset) offset = 0; // rotated
        if (size > offset) {
          const buf = Buffer.alloc(size - offset);
          await handle.read(buf, 0, buf.length, offset);
          offset = size;
          const chunk = partial + buf.toString('utf8');
          const parts = chunk.split('\n');
          partial = parts.pop() ?? '';
          for (const l of parts) yield `${l}\n`;
        } else if (meta && !this.alive(meta)) {
          if (partial) yield partial;
          return;
        } else {
          await sleep(100, undefined, options.signal ? { signal: options.signal } : {}).catch(() => {});
        }
      }
    } finally {
      await handle.close();
    }
  }

  async releasePod(podUid: string): Promise<void> {
    const podDir = path.join(this.dataDir, 'pods', podUid);
    // Its NFS shares are unmounted first, so that nothing removes what is on the server.
    for (const point of mountPoints().filter((p) => p.startsWith(`${podDir}/`)))
      await run('umount', ['-l', point]).catch(() => undefined);
    rmSync(path.join(podDir, 'work'), { recursive: true, force: true });
  }

  exec(id: string, command: string[], options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const meta = this.read(id);
    if (!meta || !this.alive(meta)) return Promise.reject(new Error(`container ${id} is not running`));
    return new Promise((resolve, reject) => {
      const [file, args] = inPodNamespace(meta, command);
      const child = spawn(file, args, {
        cwd: meta.cwd,
        env: meta.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: options.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        ...sameUser(meta),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code, sig) => resolve({ stdout, stderr, exitCode: code ?? (sig ? 128 + 9 : 1) }));
    });
  }

  async openExec(id: string, command: string[], options: { tty: boolean }): Promise<ExecSession> {
    const meta = this.read(id);
    if (!meta || !this.alive(meta)) throw new Error(`container ${id} is not running`);
    const [file, args] = inPodNamespace(meta, options.tty ? [...terminalCommand(command)].flat() : command);
    const child = spawn(file, args, {
      cwd: meta.cwd,
      env: options.tty ? { TERM: 'xterm', ...meta.env, SHELL: '/bin/sh' } : meta.env,
      stdio: ['pipe', 'pipe', options.tty ? 'ignore' : 'pipe'],
      ...sameUser(meta),
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new Error(e.code === 'ENOENT' ? `exec: "${command[0]}": executable file not found in $PATH` : e.message),
        ),
      );
    });
    // A client that goes away mid-write must not take the agent with it.
    child.stdin!.on('error', () => undefined);
    const size = options.tty ? new TerminalSize(child.pid!) : undefined;
    return {
      stdin: child.stdin!,
      stdout: child.stdout!,
      ...(child.stderr ? { stderr: child.stderr } : {}),
      resize: (cols, rows) => size?.set(cols, rows),
      exited: new Promise((resolve) =>
        child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + (osSignals[signal] ?? 1) : 1))),
      ),
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    };
  }
}

/** The node's mount points (from /proc/self/mountinfo: its fifth field, with octal escapes). */
function mountPoints(): string[] {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  } catch {
    return [];
  }
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: 60_000 }, (err, _out, stderr) =>
      err ? reject(new Error(stderr.trim() || err.message)) : resolve(),
    ),
  );
}

/** Mounts an NFS share at its volume's directory on the node (once: a running pod's is kept), as root. */
async function mountNfs(volume: string, share: NfsShare & { mountPoint: string }, readOnly: boolean): Promise<void> {
  if (mountPoints().includes(share.mountPoint)) return;
  const args = nfsMountArgs(share, share.mountPoint, readOnly);
  if (process.getuid?.() !== 0)
    throw mountFailure(volume, share, `mounting an NFS share needs the agent to run as root (mount ${args.join(' ')})`);
  mkdirSync(share.mountPoint, { recursive: true });
  await run('mount', args).catch((e: Error) => {
    throw mountFailure(volume, share, `mount ${args.join(' ')}: ${e.message}`);
  });
}
