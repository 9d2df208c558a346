/**
 * The ReplicaSet controller's shell: claims pods, creates the missing ones in slow-start batches
 * (1, 2, 4, … as Kubernetes, so a failing create costs one request, not 500), deletes the surplus,
 * and reports status. Waits for its informer to see its own writes before it returns.
 */
import type { Controller, InformerFactory, ReconcileResult } from '../../runtime/index.js';
import { emit, lastRevision, type ControllerContext } from '../context.js';
import { POD, REPLICA_SET, controllerOf, keyOf, randomSuffix, splitKey, type PodObject, type ReplicaSetObject } from '../objects.js';
import { podFromTemplate } from '../pods.js';
import { applyClaim } from '../claim.js';
import { claimPods, planReplicaSet } from './plan.js';

export class ReplicaSetController implements Controller {
  readonly name = 'replicaset';
  readonly workers = 4;

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    informers.for<ReplicaSetObject>(REPLICA_SET).on((e) => enqueue(keyOf(e.object)));
    const rsInformer = informers.for<ReplicaSetObject>(REPLICA_SET);
    informers.for<PodObject>(POD).on((e) => {
      const ref = controllerOf(e.object) ?? (e.prevObject && controllerOf(e.prevObject));
      if (ref?.kind === 'ReplicaSet') {
        enqueue(`${e.object.metadata.namespace ?? ''}/${ref.name}`);
        return;
      }
      // An orphan: every ReplicaSet whose selector might adopt it looks.
      if (!ref) for (const rs of rsInformer.list(e.object.metadata.namespace ?? '')) enqueue(keyOf(rs));
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { informers, writer } = this.ctx;
    const pods = informers.for<PodObject>(POD);
    const rs = informers.for<ReplicaSetObject>(REPLICA_SET).get(namespace, name);
    if (!rs) return {};
    const now = this.ctx.now();
    const claim = claimPods(rs, pods.list(namespace));
    const { adopted, released } = await applyClaim(writer, rs, claim);
    const written: (PodObject | undefined)[] = [...adopted, ...released];

    const plan = planReplicaSet(rs, claim.owned, now);
    let createError: string | undefined;
    if (plan.create > 0) {
      const { created, error } = await this.createPods(rs, plan.create);
      written.push(...created);
      if (error) {
        createError = (error as Error).message;
        emit(this.ctx, rs, 'Warning', 'FailedCreate', `Error creating: ${createError}`);
      }
    }
    for (const p of plan.delete) {
      const gone = await writer.delete(p);
      written.push(gone);
      if (gone) emit(this.ctx, rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
    }
    await pods.waitFor(lastRevision(written));

    const owned = claimPods(rs, pods.list(namespace)).owned;
    const status = planReplicaSet(rs, owned, now, createError).status;
    await writer.updateStatus(rs, status);
    if (createError) throw new Error(`ReplicaSet ${key}: ${createError}`);
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
  }

  /** slowStartBatch: batches of 1, 2, 4, …; the first failing batch stops the rest. */
  private async createPods(rs: ReplicaSetObject, count: number): Promise<{ created: PodObject[]; error?: unknown }> {
    const created: PodObject[] = [];
    for (let batch = 1, left = count; left > 0; left -= batch, batch *= 2) {
      const size = Math.min(batch, left);
      const podsToCreate = Array.from({ length: size }, () => podFromTemplate(rs.spec.template, rs, `${rs.metadata.name}-${randomSuffix()}`));
      const result = await this.ctx.writer.createMany(podsToCreate);
      created.push(...result.created);
      for (const p of result.created) emit(this.ctx, rs, 'Normal', 'SuccessfulCreate', `Created pod: ${p.metadata.name}`);
      if (result.error) return { created, error: result.error };
    }
    return { created };
  }
}

