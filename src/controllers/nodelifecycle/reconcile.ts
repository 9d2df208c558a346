/**
 * The node lifecycle controller's shell: reads each node's lease (kept outside the object log,
 * so it is polled at the time the lease would lapse), writes the Ready condition and taints,
 * evicts pods by marking them terminating (their controllers replace them; the node's agent
 * removes them once stopped, so a StatefulSet's pod is never doubled), and deletes the pods bound
 * to a node that does not exist once it has been missing for 40 s (Kubernetes' pod garbage
 * collector and its quarantine, so a pod bound just before its node registers is not lost).
 */
import { isBerthError } from '../../api/errors.js';
import type { Controller, InformerFactory, ReconcileResult } from '../../runtime/index.js';
import { emit, type ControllerContext } from '../context.js';
import { NODE, POD, stamp, type NodeObject, type PodObject } from '../objects.js';
import { DEFAULT_GRACE_MS, planEvictions, planNode } from './plan.js';

export const NODE_NAME_INDEX = 'spec.nodeName';
const nodeLease = (name: string) => `node/${name}`;
/** Kubernetes' podgc quarantineTime. */
export const ORPHAN_QUARANTINE_MS = 40_000;

export class NodeLifecycleController implements Controller {
  readonly name = 'node-lifecycle';
  readonly workers = 4;

  /** Nodes found missing while pods were bound to them, and since when. */
  private readonly missingSince = new Map<string, number>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly graceMs = DEFAULT_GRACE_MS,
  ) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    informers.for<NodeObject>(NODE).on((e) => enqueue(e.object.metadata.name));
    const pods = informers.for<PodObject>(POD);
    pods.addIndex(NODE_NAME_INDEX, (p) => p.spec.nodeName || undefined);
    // A pod bound to a node that is tainted NoExecute may have to go.
    pods.on((e) => {
      if (e.type !== 'DELETED' && e.object.spec.nodeName && e.object.spec.nodeName !== e.prevObject?.spec.nodeName)
        enqueue(e.object.spec.nodeName);
    });
  }

  async reconcile(name: string): Promise<ReconcileResult> {
    const { informers, writer } = this.ctx;
    const pods = informers.for<PodObject>(POD);
    const node = informers.for<NodeObject>(NODE).get('', name);
    if (!node) return this.collectPods(name);
    this.missingSince.delete(name);
    const now = this.ctx.now();
    // A node not yet heard from gets the grace period from its creation, as Kubernetes gives it.
    const lease =
      (await writer.store.leases.get(nodeLease(name))) ??
      (node.metadata.creationTimestamp ? { renewTime: Date.parse(node.metadata.creationTimestamp) } : undefined);
    const plan = planNode(node, lease, now, this.graceMs);
    let current = node;
    if (plan.taints) {
      current = await writer.update(current, { ...current, spec: { ...(current.spec ?? {}), taints: plan.taints } });
    }
    if (plan.conditions) {
      current = await writer.updateStatus(current, { ...(current.status ?? {}), conditions: plan.conditions });
      emit(
        this.ctx,
        { apiVersion: 'v1', kind: 'Node', metadata: current.metadata },
        'Normal',
        plan.alive ? 'NodeReady' : 'NodeNotReady',
        `Node ${name} status is now: ${plan.alive ? 'NodeReady' : 'NodeNotReady'}`,
      );
    }
    const evictions = planEvictions(current.spec?.taints ?? [], pods.byIndex(NODE_NAME_INDEX, name), now);
    for (const pod of evictions.evict) {
      // Terminating, not gone: the pod's controller replaces it; its agent stops and removes it.
      await writer
        .update(pod, {
          ...pod,
          metadata: { ...pod.metadata, deletionTimestamp: stamp(now), deletionGracePeriodSeconds: 30 },
        })
        .catch((e) => {
          if (!isBerthError(e, 'Conflict') && !isBerthError(e, 'NotFound')) throw e;
        });
      emit(
        this.ctx,
        { apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata },
        'Normal',
        'TaintManagerEviction',
        `Marking for deletion Pod ${pod.metadata.namespace}/${pod.metadata.name}`,
      );
    }
    return { requeueAfterMs: Math.min(plan.requeueAfterMs, evictions.requeueAfterMs ?? Infinity) };
  }

  /** The node is gone: after the quarantine, so are its pods (confirmed from the store, not just the cache). */
  private async collectPods(name: string): Promise<ReconcileResult> {
    // Counted, not listed, and no store read while the quarantine runs: every event of every pod
    // bound to the missing node lands here.
    const informer = this.ctx.informers.for<PodObject>(POD);
    if (!informer.countByIndex(NODE_NAME_INDEX, name)) {
      this.missingSince.delete(name);
      return {};
    }
    const now = this.ctx.now();
    const since = this.missingSince.get(name);
    if (since !== undefined && now - since < ORPHAN_QUARANTINE_MS)
      return { requeueAfterMs: ORPHAN_QUARANTINE_MS - (now - since) };
    try {
      await this.ctx.writer.store.get({ ...NODE, namespace: '', name });
      this.missingSince.delete(name);
      return {};
    } catch (e) {
      if (!isBerthError(e, 'NotFound')) throw e;
    }
    if (since === undefined) {
      this.missingSince.set(name, now);
      return { requeueAfterMs: ORPHAN_QUARANTINE_MS };
    }
    for (const pod of informer.byIndex(NODE_NAME_INDEX, name)) await this.ctx.writer.delete(pod, { force: true });
    this.missingSince.delete(name);
    return {};
  }
}
