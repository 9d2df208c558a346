/**
 * The scheduler's shell: a cache of what each node has left (bound pods counted from the pod
 * informer, plus pods it has just bound and not yet seen back), a queue of unbound pods, and a
 * binding loop. Each pod is placed by filtering nodes from a rotating start until enough fit
 * (percentageOfNodesToScore), scoring those, and binding to the best with a compare-and-swap
 * write of spec.nodeName. A pod that fits nowhere gets `PodScheduled=False, Unschedulable` and
 * an Event, and is tried again when nodes or pods change (or after 30 s).
 */
import { CONDITION, REASON } from '../api/conditions.js';
import { timestamp } from '../api/lifecycle.js';
import { isBerthError } from '../api/errors.js';
import type { Condition } from '../api/types.gen.js';
import type { NodeObject, PodObject, PvcObject as ClaimObject } from '../api/objects.js';
import { involvedObjectOf } from '../runtime/index.js';
import type {
  Controller,
  EventBroadcaster,
  InformerFactory,
  KubeObject,
  ObjectWriter,
  ReconcileResult,
} from '../runtime/index.js';
import { SELECTED_NODE, claimNamesOf } from '../api/storage.js';
import { chargeNode, pickNode, type NodeInfo, type PodFacts, type SchedNode } from './filters.js';
import { hostPorts, nodeAllocatable, podRequests } from './resources.js';

const POD = { group: '', kind: 'Pod' };
const NODE = { group: '', kind: 'Node' };
const PVC = { group: '', kind: 'PersistentVolumeClaim' };
export const SCHEDULER_NAMES = ['default-scheduler', 'berth'];
const RETRY_UNSCHEDULABLE_MS = 30_000;

const podKey = (p: KubeObject) => `${p.metadata.namespace ?? ''}/${p.metadata.name}`;
const isTerminal = (p: PodObject) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
/** Holds resources on its node: bound, not finished (a terminating pod still runs until stopped). */
const holdsNode = (p: PodObject) => Boolean(p.spec?.nodeName) && !isTerminal(p);
const wantsScheduling = (p: PodObject) =>
  !p.spec?.nodeName &&
  !p.metadata.deletionTimestamp &&
  !isTerminal(p) &&
  SCHEDULER_NAMES.includes(p.spec?.schedulerName ?? 'default-scheduler');
const ownerOf = (p: KubeObject) => p.metadata.ownerReferences?.find((r) => r.controller)?.uid;

export interface SchedulerDeps {
  informers: InformerFactory;
  writer: ObjectWriter;
  events: EventBroadcaster;
  now: () => number;
}

export class Scheduler implements Controller {
  readonly name = 'scheduler';
  /**
   * Pods placed one at a time (pick() is synchronous), but up to this many binds awaiting their
   * write at once, as kube-scheduler binds asynchronously: with 16, a server busy with 2,000 new
   * pods bound at the rate of its write latency (about 400/s), not of its scheduling.
   */
  readonly workers = 128;
  private readonly nodes = new Map<string, NodeInfo>();
  /** The nodes as an array for the rotating scan; rebuilt when nodes come or go. */
  private nodeList: NodeInfo[] | undefined;
  /** The node each counted pod is charged to, with what it takes. */
  private readonly charged = new Map<string, { node: string; facts: PodFacts }>();
  private readonly unschedulable = new Set<string>();
  private enqueue: (key: string) => void = () => {};
  private rotation = 0;

  constructor(
    private readonly deps: SchedulerDeps,
    /** Each scheduling attempt's outcome and duration (scheduler_schedule_attempts_total). */
    private readonly attempted?: (result: 'scheduled' | 'unschedulable' | 'error', seconds: number) => void,
  ) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    this.enqueue = enqueue;
    informers.for<NodeObject>(NODE).on((e) => {
      const name = e.object.metadata.name;
      if (e.type !== 'MODIFIED') this.nodeList = undefined;
      if (e.type === 'DELETED') this.nodes.delete(name);
      else {
        const info = this.nodes.get(name);
        if (info) {
          info.node = e.object;
          info.allocatable = nodeAllocatable(e.object);
        } else {
          this.nodes.set(name, {
            node: e.object,
            allocatable: nodeAllocatable(e.object),
            requested: { cpu: 0, memory: 0, pods: 0 },
            ports: [],
            owners: new Map(),
          });
          // Pods already charged to this node (seen before it) count against it now.
          for (const c of this.charged.values()) if (c.node === name) this.charge(this.nodes.get(name)!, c.facts, 1);
        }
      }
      this.retryUnschedulable();
    });
    informers.for<PodObject>(POD).on((e) => {
      const key = podKey(e.object);
      if (e.type === 'DELETED' || !holdsNode(e.object)) this.uncharge(key);
      else this.chargePod(key, e.object, e.object.spec!.nodeName!);
      if (e.type !== 'DELETED' && wantsScheduling(e.object)) enqueue(key);
      // Something left a node: room for what did not fit.
      if (
        (e.type === 'DELETED' && e.object.spec?.nodeName) ||
        (e.prevObject && holdsNode(e.prevObject) && !holdsNode(e.object))
      )
        this.retryUnschedulable();
    });
    informers.for<ClaimObject>(PVC);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const slash = key.indexOf('/');
    const pod = this.deps.informers.for<PodObject>(POD).get(key.slice(0, slash), key.slice(slash + 1));
    if (!pod || !wantsScheduling(pod) || this.charged.has(key)) {
      this.unschedulable.delete(key);
      return {};
    }
    const started = performance.now();
    const attempt = (result: 'scheduled' | 'unschedulable' | 'error') =>
      this.attempted?.(result, (performance.now() - started) / 1000);
    const facts = this.factsOf(pod);
    const choice = this.pick(facts);
    if (!choice.node) {
      this.unschedulable.add(key);
      await this.markUnschedulable(pod, choice.message);
      attempt('unschedulable');
      return { requeueAfterMs: RETRY_UNSCHEDULABLE_MS };
    }
    this.unschedulable.delete(key);
    // Charged before the write, so the next pod placed meanwhile sees this one's share taken.
    this.chargePod(key, pod, choice.node);
    try {
      await this.bind(pod, choice.node);
    } catch (e) {
      this.uncharge(key);
      if (isBerthError(e, 'NotFound')) return {};
      attempt('error');
      throw e;
    }
    attempt('scheduled');
    this.deps.events.emit({
      involvedObject: involvedObjectOf(pod, { apiVersion: 'v1', kind: 'Pod' }),
      type: 'Normal',
      reason: 'Scheduled',
      message: `Successfully assigned ${key} to ${choice.node}`,
    });
    return {};
  }

  /** The node for a pod (see pickNode); synchronous, so no other pod interleaves. */
  pick(facts: PodFacts): { node?: string; message: string } {
    const all = (this.nodeList ??= [...this.nodes.values()]);
    const start = all.length ? this.rotation % all.length : 0;
    const { looked, ...choice } = pickNode(facts, all, start);
    this.rotation = (start + looked) % Math.max(1, all.length);
    return choice;
  }

  private factsOf(pod: PodObject): PodFacts {
    const owner = ownerOf(pod);
    const claimNode = this.claimNode(pod);
    return {
      pod: pod as PodFacts['pod'],
      requests: podRequests(pod),
      ports: hostPorts(pod),
      ...(owner ? { owner } : {}),
      ...(claimNode ? { claimNode } : {}),
    };
  }

  private claimNode(pod: PodObject): string | undefined {
    const claims = this.deps.informers.for<ClaimObject>(PVC);
    for (const name of claimNamesOf(pod.spec)) {
      const claim = claims.get(pod.metadata.namespace ?? 'default', name);
      // The node its first pod went to, or the node its bound volume lives on (a local volume).
      const node =
        claim?.metadata.annotations?.[SELECTED_NODE] ?? (claim?.status as { nodeName?: string } | undefined)?.nodeName;
      if (node) return node;
    }
    return undefined;
  }

  private async bind(pod: PodObject, node: string): Promise<void> {
    const conditions: Condition[] = [
      ...(pod.status?.conditions ?? []).filter((c) => c.type !== CONDITION.PodScheduled),
      { type: CONDITION.PodScheduled, status: 'True', lastTransitionTime: timestamp(new Date(this.deps.now())) },
    ];
    await this.deps.writer.store.update(
      { ...pod, spec: { ...pod.spec, nodeName: node }, status: { ...(pod.status ?? {}), conditions } },
      { expectedRevision: Number(pod.metadata.resourceVersion) },
    );
    await this.selectNodeForClaims(pod, node);
  }

  /**
   * The pod's claims that wait for their first consumer learn its node (kube-scheduler's
   * VolumeBinding): the volume controller provisions their local-path volume there.
   */
  private async selectNodeForClaims(pod: PodObject, node: string): Promise<void> {
    const claims = this.deps.informers.for<ClaimObject>(PVC);
    for (const name of claimNamesOf(pod.spec)) {
      const claim = claims.get(pod.metadata.namespace ?? 'default', name);
      if (!claim || claim.spec?.volumeName || claim.metadata.annotations?.[SELECTED_NODE]) continue;
      await this.deps.writer
        .update(claim, {
          ...claim,
          metadata: { ...claim.metadata, annotations: { ...claim.metadata.annotations, [SELECTED_NODE]: node } },
        })
        .catch((e) => {
          // Annotated meanwhile (its StatefulSet), or gone: nothing to add.
          if (!isBerthError(e, 'Conflict') && !isBerthError(e, 'NotFound')) throw e;
        });
    }
  }

  private async markUnschedulable(pod: PodObject, message: string): Promise<void> {
    const current = pod.status?.conditions?.find((c) => c.type === CONDITION.PodScheduled);
    if (current?.status === 'False' && current.message === message) return;
    const conditions: Condition[] = [
      ...(pod.status?.conditions ?? []).filter((c) => c.type !== CONDITION.PodScheduled),
      {
        type: CONDITION.PodScheduled,
        status: 'False',
        reason: REASON.Unschedulable,
        message,
        lastTransitionTime: timestamp(new Date(this.deps.now())),
      },
    ];
    await this.deps.writer.updateStatus(pod, { ...(pod.status ?? {}), conditions }).catch((e) => {
      if (!isBerthError(e, 'Conflict') && !isBerthError(e, 'NotFound')) throw e;
    });
    // One Event per new reason, not one per attempt: retries with nothing changed write nothing.
    this.deps.events.emit({
      involvedObject: involvedObjectOf(pod, { apiVersion: 'v1', kind: 'Pod' }),
      type: 'Warning',
      reason: 'FailedScheduling',
      message,
    });
  }

  private retryUnschedulable(): void {
    for (const key of this.unschedulable) this.enqueue(key);
  }

  private chargePod(key: string, pod: PodObject, node: string): void {
    const current = this.charged.get(key);
    if (current?.node === node) return;
    this.uncharge(key);
    const facts = this.factsOf(pod);
    this.charged.set(key, { node, facts });
    const info = this.nodes.get(node);
    if (info) this.charge(info, facts, 1);
  }

  private uncharge(key: string): void {
    const current = this.charged.get(key);
    if (!current) return;
    this.charged.delete(key);
    const info = this.nodes.get(current.node);
    if (info) this.charge(info, current.facts, -1);
  }

  private charge(info: NodeInfo, f: PodFacts, sign: 1 | -1): void {
    chargeNode(info, f, sign);
  }
}
