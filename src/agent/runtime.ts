/**
 * The ContainerRuntime contract the agent drives (Docker, or plain processes): start a pod's
 * container from a fully resolved spec, list what this agent started (by the labels it put on
 * them: pod uid, container name, restart count), stop with a grace period, remove, read logs and
 * exec. Both runtimes pass the same contract suite (test/contract/runtime).
 */
import type { PodDns } from './dns-config.js';
import type { NfsShare } from './nfs.js';

export interface PortBinding {
  /** The container that declares it. */
  container?: string;
  name?: string;
  containerPort: number;
  /** The port on the node's address traffic reaches the container at. */
  hostPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface Mount {
  /** A directory (or file) on the node. */
  source: string;
  mountPath: string;
  readOnly: boolean;
  /**
   * An NFS share (agent/nfs.ts): mounted at `mountPoint` (the volume's directory, which `source`
   * is or is in, with a subPath) by the process runtime; a Docker volume on the docker runtime.
   */
  nfs?: NfsShare & { mountPoint: string; subPath?: string };
}

export interface ContainerSpec {
  podUid: string;
  podName: string;
  namespace: string;
  name: string;
  restartCount: number;
  image: string;
  command: string[];
  args: string[];
  env: Record<string, string>;
  workingDir?: string;
  ports: PortBinding[];
  /** Volumes by name: the directory each one is on the node, and where the container wants it. */
  mounts: (Mount & { volume: string })[];
  /** Node address ports are published on. */
  address: string;
  /** Every port of the pod (its containers share one network): what the pod's sandbox publishes. */
  podPorts: PortBinding[];
  /** The pod has more than one container (init containers included), so they must share a network. */
  sharedNetwork: boolean;
  /** The pod uses the node's network (spec.hostNetwork): no namespace, no publishing. */
  hostNetwork?: boolean;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** resources.limits and requests.cpu, as numbers (millicores, bytes). */
  limits?: { cpuMillis?: number; memoryBytes?: number };
  cpuRequestMillis?: number;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  /** The pod's resolver settings (dns-config.ts); absent: the node's own. */
  dns?: PodDns;
  /** The pod's /etc/hosts (the kubelet's managed form, hostAliases included). */
  hosts?: string;
  /** spec.hostAliases, for runtimes that take them as entries (Docker's ExtraHosts). */
  hostAliases?: { ip: string; hostnames: string[] }[];
}

export const CONTAINER_STATES = ['running', 'exited'] as const;

export interface RuntimeContainer {
  id: string;
  podUid: string;
  name: string;
  restartCount: number;
  state: (typeof CONTAINER_STATES)[number];
  exitCode?: number;
  /** Epoch ms. */
  startedAt: number;
  finishedAt?: number;
  ports: PortBinding[];
  image: string;
}

export interface LogOptions {
  follow?: boolean;
  tailLines?: number;
  sinceMs?: number;
  /** Each line starts with when it was written (RFC 3339, nanoseconds), as `kubectl logs --timestamps`. */
  timestamps?: boolean;
  signal?: AbortSignal;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A command running in a container with its streams open (exec -i, -t; kubectl cp). */
export interface ExecSession {
  stdin: import('node:stream').Writable;
  stdout: import('node:stream').Readable;
  /** Absent with a TTY: the terminal carries both. */
  stderr?: import('node:stream').Readable;
  /** The terminal's size (TTY only). */
  resize(cols: number, rows: number): void;
  /** The command's exit code once it has ended and its output has been read. */
  exited: Promise<number>;
  /** Ends the command (the client went away). */
  kill(): void;
}

/** A start that failed for a reason the pod's status should show (ErrImagePull, …). */
export class StartError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

import type { Usage } from './usage.js';

export interface ContainerRuntime {
  readonly name: 'docker' | 'process';
  /** Refuses (RuntimeRefused) what this runtime cannot honour, before anything starts. */
  check(spec: ContainerSpec): string | undefined;
  /** `progress` hears what a start goes through that takes time (an image pull), for Events. */
  start(
    spec: ContainerSpec,
    progress?: (reason: 'Pulling' | 'Pulled', message: string) => void,
  ): Promise<RuntimeContainer>;
  /** Everything this agent started that still exists, running or exited. */
  list(): Promise<RuntimeContainer[]>;
  /** SIGTERM, then SIGKILL after the grace period. */
  stop(id: string, graceMs: number): Promise<void>;
  remove(id: string): Promise<void>;
  logs(id: string, options?: LogOptions): AsyncIterable<string>;
  exec(id: string, command: string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Runs a command with its streams open, on a terminal when `tty`. */
  openExec(id: string, command: string[], options: { tty: boolean }): Promise<ExecSession>;
  /** Frees what a pod held beyond its containers (Docker: its network sandbox). */
  releasePod(podUid: string): Promise<void>;
  /** Running containers' cumulative CPU time and working set (agent/usage.ts); those it cannot read are absent. */
  usage(ids: string[]): Promise<Map<string, Usage>>;
}
