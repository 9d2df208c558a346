/**
 * The node simulator (as kwok): registers nodes through the API with a join token, keeps their
 * leases, and plays each node's agent for the pods bound to it without running anything: pods
 * become Running and Ready, and pods being deleted (evicted, or replaced while the node was away)
 * are removed. Killing the process makes its nodes go NotReady like real ones.
 */
import { setMaxListeners } from 'node:events';
import { CONDITION } from '../api/conditions.js';
import { timestamp } from '../api/lifecycle.js';
import { kindInfo } from '../api/kinds.js';
import { BerthClient, type Connection, type KubeObject } from '../client/index.js';
import { NodeMembership, nodeObject, type Machine, type NodeSpecOptions } from './node.js';

const PODS = kindInfo('Pod')!;

export interface SimulatorOptions {
  count: number;
  namePrefix: string;
  cpu: string;
  memory: string;
  pods: string;
  labels: Record<string, string>;
  heartbeatMs?: number;
  version: string;
  log: (line: string) => void;
}

const stamp = () => timestamp(new Date());

/** What an agent reports once a pod's containers run and pass their probes. */
export function runningStatus(pod: KubeObject): Record<string, unknown> {
  const at = stamp();
  const spec = pod.spec as { containers?: { name: string; image?: string }[] };
  return {
    ...(pod.status as object | undefined),
    phase: 'Running',
    hostIP: '127.0.0.1',
    podIP: '127.0.0.1',
    startTime: at,
    conditions: [CONDITION.PodScheduled, CONDITION.Initialized, CONDITION.ContainersReady, CONDITION.Ready].map(
      (type) => ({
        type,
        status: 'True',
        lastTransitionTime: at,
      }),
    ),
    containerStatuses: (spec.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image ?? '',
      imageID: '',
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: at } },
    })),
  };
}

const isReady = (pod: KubeObject) =>
  ((pod.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some(
    (c) => c.type === CONDITION.Ready && c.status === 'True',
  );

export class NodeSimulator {
  constructor(
    private readonly connection: Connection,
    private readonly options: SimulatorOptions,
    private readonly machine: Machine,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    const nodes = Array.from({ length: this.options.count }, (_, i) => `${this.options.namePrefix}-${i}`);
    // Every node's heartbeat and watch listen on this one signal: hundreds of listeners are expected.
    setMaxListeners(this.options.count * 4 + 10, signal);
    const running = nodes.map((name) => this.runNode(name, signal));
    await Promise.all(running);
  }

  private async runNode(name: string, signal: AbortSignal): Promise<void> {
    const client = new BerthClient({ ...this.connection });
    try {
      const spec: NodeSpecOptions = {
        name,
        labels: { ...this.options.labels, 'berth.dev/simulated': 'true' },
        capacity: { cpu: this.options.cpu, memory: this.options.memory, pods: this.options.pods },
        version: this.options.version,
      };
      const membership = new NodeMembership(client, nodeObject(spec, this.machine), {
        ...(this.options.heartbeatMs ? { heartbeatMs: this.options.heartbeatMs } : {}),
        useToken: (token) => (client.connection.token = token),
        onError: (e) => this.options.log(`${name}: heartbeat failed: ${(e as Error).message}`),
      });
      await membership.register();
      this.options.log(`node ${name} registered`);
      await Promise.all([membership.run(signal), this.playPods(client, name, signal)]);
    } finally {
      await client.close();
    }
  }

  /** Bound pods run (on paper); pods being deleted are removed, as an agent does once they stopped. */
  private async playPods(client: BerthClient, node: string, signal: AbortSignal): Promise<void> {
    try {
      for await (const e of client.watch(PODS, { fieldSelector: `spec.nodeName=${node}`, signal })) {
        if (e.type === 'DELETED') continue;
        const pod = e.object;
        const ns = pod.metadata.namespace;
        try {
          if (pod.metadata.deletionTimestamp) await client.delete(PODS, ns, pod.metadata.name);
          else if (
            !isReady(pod) &&
            !['Succeeded', 'Failed'].includes((pod.status as { phase?: string } | undefined)?.phase ?? '')
          ) {
            await client.update(PODS, { ...pod, status: runningStatus(pod) }, 'status');
          }
        } catch (err) {
          // Changed or gone meanwhile: the next event brings the current state.
          if (!signal.aborted) this.options.log(`${node}: pod ${ns}/${pod.metadata.name}: ${(err as Error).message}`);
        }
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    }
  }
}
