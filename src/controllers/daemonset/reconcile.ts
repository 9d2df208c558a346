/** The DaemonSet controller's shell: pods bound to their nodes, old ones replaced within budget, status. */
import type { Controller, InformerFactory, ReconcileResult } from '../../runtime/index.js';
import { emit, lastRevision, queueOwner, type ControllerContext } from '../context.js';
import {
  DAEMON_SET,
  NODE,
  POD,
  controllerOf,
  keyOf,
  splitKey,
  type DaemonSetObject,
  type NodeObject,
  type PodObject,
} from '../objects.js';
import { planDaemonSet, podForNode, templateHash, REVISION_LABEL } from './plan.js';
import { CONTROLLER_REVISION, syncRevisions } from '../history.js';
import { podNamer } from '../pods.js';

export class DaemonSetController implements Controller {
  readonly name = 'daemonset';
  readonly workers = 2;

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    const daemonSets = informers.for<DaemonSetObject>(DAEMON_SET);
    daemonSets.on((e) => enqueue(keyOf(e.object)));
    informers.for<PodObject>(POD).on(queueOwner('DaemonSet', enqueue));
    informers.for(CONTROLLER_REVISION).on(queueOwner('DaemonSet', enqueue));
    // A node added, removed, relabelled or tainted: every DaemonSet looks again.
    informers.for<NodeObject>(NODE).on((e) => {
      const before = e.prevObject;
      if (
        e.type === 'MODIFIED' &&
        before &&
        JSON.stringify([before.metadata.labels, before.spec]) ===
          JSON.stringify([e.object.metadata.labels, e.object.spec])
      )
        return;
      for (const ds of daemonSets.list()) enqueue(keyOf(ds));
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { informers, writer } = this.ctx;
    const ds = informers.for<DaemonSetObject>(DAEMON_SET).get(namespace, name);
    if (!ds || ds.metadata.deletionTimestamp) return {};
    const podInformer = informers.for<PodObject>(POD);
    const owned = () => podInformer.ownedBy(ds.metadata.uid!).filter((p) => controllerOf(p)?.uid === ds.metadata.uid);
    const nodes = informers.for<NodeObject>(NODE).list();
    const plan = planDaemonSet(ds, nodes, owned(), this.ctx.now());
    const written: (PodObject | undefined)[] = [];
    const hash = templateHash(ds);
    // The history first: `kubectl rollout history ds/x` lists what the pods are made from.
    const revisionOf = (h: string) => `${ds.metadata.name}-${h}`;
    await syncRevisions(
      this.ctx,
      ds,
      revisionOf(hash),
      new Set(owned().map((p) => revisionOf(p.metadata.labels?.[REVISION_LABEL] ?? ''))),
    );
    if (plan.create.length) {
      const nameOf = podNamer(podInformer, namespace);
      const { created, error } = await writer.createMany(
        plan.create.map((node) => podForNode(ds, node, hash, nameOf(ds.metadata.name))),
      );
      written.push(...created);
      for (const p of created) emit(this.ctx, ds, 'Normal', 'SuccessfulCreate', `Created pod: ${p.metadata.name}`);
      if (error) throw error;
    }
    const nodeNames = new Set(nodes.map((n) => n.metadata.name));
    for (const p of plan.delete) {
      // A pod of a node that is gone has no agent left to stop it: it goes at once.
      written.push(await writer.delete(p, { force: !nodeNames.has(p.spec?.nodeName ?? '') }));
      emit(this.ctx, ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
    }
    await podInformer.waitFor(lastRevision(written));
    await writer.updateStatus(ds, planDaemonSet(ds, nodes, owned(), this.ctx.now()).status);
    return {};
  }
}
