/**
 * A node's membership in the cluster: its Node object (what the machine has, or what it is told
 * to claim), registration with a join token (which yields the node's own token), and a heartbeat
 * that renews its lease every couple of seconds. Shared by `berth agent` and the node simulator.
 */
import { CONDITION, REASON } from '../api/conditions.js';
import { timestamp } from '../api/lifecycle.js';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, isBerthError } from '../api/errors.js';
import { kindInfo } from '../api/kinds.js';
import { parseQuantity } from '../api/quantity.js';
import { DATA_DIR_ANNOTATION } from '../api/pod-security.js';
import type { Taint } from '../api/types.gen.js';
import type { BerthClient, KubeObject } from '../client/index.js';

export const DEFAULT_HEARTBEAT_MS = 2000;
export const NODE_TOKEN_HEADER = 'x-berth-node-token';
const NODES = kindInfo('Node')!;

export interface NodeSpecOptions {
  name: string;
  labels?: Record<string, string>;
  taints?: Taint[];
  address?: string;
  /** Overrides of what the machine reports: cpu ("4", "3500m"), memory ("8Gi"), pods ("110"). */
  capacity?: { cpu?: string; memory?: string; pods?: string };
  /** Berth's version, for nodeInfo. */
  version: string;
  /** The agent's data directory: announced so the server refuses pods that would mount it. */
  dataDir?: string;
}

export interface Machine {
  cpus: number;
  memoryBytes: number;
  os: string;
  arch: string;
  kernel: string;
  hostname: string;
}

export function thisMachine(): Machine {
  return {
    cpus: os.cpus().length,
    memoryBytes: os.totalmem(),
    os: process.platform,
    arch: ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch,
    kernel: os.release(),
    hostname: os.hostname(),
  };
}

/** `k=v,k2=v2` → labels. */
export function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new BerthError('Usage', `label ${JSON.stringify(part)} is not key=value`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** `key=value:Effect` or `key:Effect`, comma-separated → taints. */
export function parseTaints(s: string | undefined): Taint[] {
  return (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((part) => {
      const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(part);
      if (!m)
        throw new BerthError(
          'Usage',
          `taint ${JSON.stringify(part)} is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute`,
        );
      return { key: m[1]!, ...(m[2] ? { value: m[2] } : {}), effect: m[3] as Taint['effect'] };
    });
}

/** The Node an agent registers (pure: the machine is an argument). */
export function nodeObject(o: NodeSpecOptions, machine: Machine, now = new Date()): KubeObject {
  const cpu = o.capacity?.cpu !== undefined ? parseQuantity(o.capacity.cpu).toString() : String(machine.cpus);
  const memory =
    o.capacity?.memory !== undefined
      ? parseQuantity(o.capacity.memory).toString()
      : `${Math.floor(machine.memoryBytes / 1024)}Ki`;
  const pods = o.capacity?.pods ?? '110';
  const capacity = { cpu, memory, pods };
  const at = timestamp(now);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: o.name,
      labels: {
        'kubernetes.io/hostname': o.name,
        'kubernetes.io/os': machine.os,
        'kubernetes.io/arch': machine.arch,
        ...(o.labels ?? {}),
      },
      ...(o.dataDir ? { annotations: { [DATA_DIR_ANNOTATION]: o.dataDir } } : {}),
    },
    spec: { ...(o.taints?.length ? { taints: o.taints } : {}) },
    status: {
      capacity,
      allocatable: capacity,
      addresses: [
        { type: 'InternalIP', address: o.address ?? '127.0.0.1' },
        { type: 'Hostname', address: o.name },
      ],
      nodeInfo: {
        kubeletVersion: `berth/${o.version}`,
        operatingSystem: machine.os,
        architecture: machine.arch,
        kernelVersion: machine.kernel,
        containerRuntimeVersion: '',
        osImage: '',
        machineID: '',
        systemUUID: '',
        bootID: '',
        kubeProxyVersion: '',
      },
      conditions: [
        {
          type: CONDITION.Ready,
          status: 'True',
          reason: REASON.KubeletReady,
          message: 'berth agent is posting ready status',
          lastHeartbeatTime: at,
          lastTransitionTime: at,
        },
      ],
    },
  };
}

/**
 * Registers the node (with a join token, the response carries the node's own token: `client`
 * switches to it through `useToken`) and then renews its lease until the signal aborts.
 */
export class NodeMembership {
  constructor(
    private readonly client: BerthClient,
    private readonly node: KubeObject,
    private readonly options: {
      heartbeatMs?: number;
      useToken: (token: string) => void;
      onError?: (e: unknown) => void;
      endpoint?: () => { port: number; token: string } | undefined;
    },
  ) {}

  get name(): string {
    return this.node.metadata.name;
  }

  async register(): Promise<KubeObject> {
    let issued: string | undefined;
    const registered = await this.client.request<KubeObject>('POST', '/api/v1/nodes', {
      body: this.node,
      onHeaders: (h) => {
        const t = h[NODE_TOKEN_HEADER];
        issued = Array.isArray(t) ? t[0] : t;
      },
    });
    if (issued) this.options.useToken(issued);
    await this.heartbeat();
    return registered;
  }

  async heartbeat(): Promise<void> {
    const interval = this.options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    // The lease outlives a few missed beats; the server's grace period decides NotReady.
    const leaseDurationSeconds = Math.max(1, Math.ceil((interval * 20) / 1000));
    const endpoint = this.options.endpoint?.();
    await this.client.request('PUT', `/api/v1/nodes/${this.name}/heartbeat`, {
      body: { spec: { leaseDurationSeconds, ...(endpoint ? { endpoint } : {}) } },
    });
  }

  /** Heartbeats until the signal aborts; a revoked token (401) or a lost name (409) ends it with an error. */
  async run(signal: AbortSignal): Promise<void> {
    const interval = this.options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    while (!signal.aborted) {
      await sleep(interval, undefined, { signal }).catch(() => {});
      if (signal.aborted) break;
      try {
        await this.heartbeat();
      } catch (e) {
        if (isBerthError(e, 'Unauthorized') || isBerthError(e, 'Conflict') || isBerthError(e, 'NotFound')) throw e;
        this.options.onError?.(e);
      }
    }
  }
}

export { NODES };
