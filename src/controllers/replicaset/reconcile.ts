/**
 * The ReplicaSet controller's shell: claims pods, creates the missing ones in slow-start batches
 * (1, 2, 4, … as Kubernetes, so a failing create costs one request, not 500), deletes the surplus,
 * and reports status. Waits for its informer to see its own writes before it returns. The same
 * controller runs ReplicationControllers (v1): a ReplicaSet whose selector is a map of labels.
 */
import type { Controller, InformerFactory, ReconcileResult } from '../../runtime/index.js';
import { emit, lastRevision, writeStatusAndWait, type ControllerContext } from '../context.js';
import { POD, REPLICA_SET, controllerOf, keyOf, splitKey, type PodObject, type ReplicaSetObject } from '../objects.js';
import { podFromTemplate, podNamer } from '../pods.js';
import { applyClaim, claimCandidates, indexLabels } from '../claim.js';
import { claimPods, planReplicaSet } from './plan.js';

const REPLICATION_CONTROLLER = { group: '', kind: 'ReplicationController' };

/** A ReplicationController seen as the ReplicaSet it is: its map selector as matchLabels. */
function asReplicaSet(o: ReplicaSetObject): ReplicaSetObject {
  if ((o.kind as string) !== 'ReplicationController') return o;
  const selector = (o.spec as { selector?: Record<string, string> }).selector ?? {};
  return { ...o, spec: { ...o.spec, selector: { matchLabels: selector } } };
}

export class ReplicaSetController implements Controller {
  readonly name: string;
  readonly workers = 4;
  private readonly kind: { group: string; kind: string };

  constructor(
    private readonly ctx: ControllerContext,
    kind: 'ReplicaSet' | 'ReplicationController' = 'ReplicaSet',
  ) {
    this.kind = kind === 'ReplicaSet' ? REPLICA_SET : REPLICATION_CONTROLLER;
    this.name = kind.toLowerCase();
  }

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    informers.for<ReplicaSetObject>(this.kind).on((e) => enqueue(keyOf(e.object)));
    const rsInformer = informers.for<ReplicaSetObject>(this.kind);
    indexLabels(informers.for(POD));
    informers.for<PodObject>(POD).on((e) => {
      const ref = controllerOf(e.object) ?? (e.prevObject && controllerOf(e.prevObject));
      if (ref?.kind === this.kind.kind) {
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
    const stored = informers.for<ReplicaSetObject>(this.kind).get(namespace, name);
    if (!stored) {
      this.provenBatch.delete(key);
      return {};
    }
    const rs = asReplicaSet(stored);
    const now = this.ctx.now();
    const claim = claimPods(rs, claimCandidates(pods, rs));
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

    // Nothing written (and nothing failed): the plan's status stands — two more passes over 2,000 pods spared.
    const status =
      written.length || createError
        ? planReplicaSet(rs, claimPods(rs, claimCandidates(pods, rs)).owned, now, createError).status
        : plan.status;
    await writeStatusAndWait(this.ctx, informers.for<ReplicaSetObject>(this.kind), stored, status);
    if (createError) throw new Error(`ReplicaSet ${key}: ${createError}`);
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
  }

  /**
   * Per ReplicaSet, the size of the last create batch that succeeded, while its creates keep
   * succeeding: the next reconcile's slow start begins there, not at 1 again. Kubernetes starts
   * every sync at 1: for 2,000 replicas (500 a sync), 36 store round trips one after another,
   * 15 this way. Slow start is there to find out whether creates fail at all, and the last
   * reconcile found out; a failure starts it over at 1.
   */
  private readonly provenBatch = new Map<string, number>();

  /** slowStartBatch: batches of 1, 2, 4, …; the first failing batch stops the rest. */
  private async createPods(rs: ReplicaSetObject, count: number): Promise<{ created: PodObject[]; error?: unknown }> {
    const created: PodObject[] = [];
    const nameOf = podNamer(this.ctx.informers.for<PodObject>(POD), rs.metadata.namespace ?? '');
    const key = keyOf(rs);
    for (let batch = this.provenBatch.get(key) ?? 1, left = count; left > 0; left -= batch, batch *= 2) {
      const size = Math.min(batch, left);
      const podsToCreate = Array.from({ length: size }, () =>
        podFromTemplate(rs.spec.template, rs, nameOf(rs.metadata.name)),
      );
      const result = await this.ctx.writer.createMany(podsToCreate);
      created.push(...result.created);
      for (const p of result.created)
        emit(this.ctx, rs, 'Normal', 'SuccessfulCreate', `Created pod: ${p.metadata.name}`);
      if (result.error) {
        this.provenBatch.delete(key);
        return { created, error: result.error };
      }
      this.provenBatch.set(key, size);
    }
    return { created };
  }
}
