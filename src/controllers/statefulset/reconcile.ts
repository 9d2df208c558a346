/** The StatefulSet controller's shell: claims before pods, then the planner's pods, then status. */
import { isBerthError } from '../../api/errors.js';
import type { Controller, InformerFactory, ReconcileResult } from '../../runtime/index.js';
import { emit, lastRevision, queueOwner, type ControllerContext } from '../context.js';
import {
  POD,
  PVC,
  STATEFUL_SET,
  controllerOf,
  keyOf,
  splitKey,
  type PodObject,
  type PvcObject,
  type StatefulSetObject,
} from '../objects.js';
import { applyClaim, claimCandidates, indexLabels } from '../claim.js';
import { claimPods } from '../replicaset/plan.js';
import { SELECTED_NODE } from '../../api/storage.js';
import { REVISION_LABEL, planStatefulSet, revisionName } from './plan.js';
import { CONTROLLER_REVISION, syncRevisions } from '../history.js';

export class StatefulSetController implements Controller {
  readonly name = 'statefulset';
  readonly workers = 2;

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    informers.for<StatefulSetObject>(STATEFUL_SET).on((e) => enqueue(keyOf(e.object)));
    indexLabels(informers.for(POD));
    informers.for<PodObject>(POD).on(queueOwner('StatefulSet', enqueue));
    informers.for(CONTROLLER_REVISION).on(queueOwner('StatefulSet', enqueue));
    informers.for<PvcObject>(PVC);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { informers, writer } = this.ctx;
    const sts = informers.for<StatefulSetObject>(STATEFUL_SET).get(namespace, name);
    if (!sts || sts.metadata.deletionTimestamp) return {};
    const podInformer = informers.for<PodObject>(POD);
    const claimInformer = informers.for<PvcObject>(PVC);
    const claim = claimPods(sts, claimCandidates(podInformer, sts));
    const written: ({ metadata: { resourceVersion?: string } } | undefined)[] = [];
    // Adoption only: pods that stop matching are not released yet (Kubernetes does release them).
    written.push(...(await applyClaim(writer, sts, { adopt: claim.adopt, release: [] })).adopted);
    const plan = planStatefulSet(sts, claim.owned, claimInformer.list(namespace), this.ctx.now());
    // The history first: `kubectl rollout history sts/x` lists what the pods are made from.
    const inUse = new Set(
      [
        sts.status?.currentRevision,
        sts.status?.updateRevision,
        ...claim.owned.map((p) => p.metadata.labels?.[REVISION_LABEL]),
      ].filter((r): r is string => Boolean(r)),
    );
    await syncRevisions(this.ctx, sts, revisionName(sts), inUse);

    const claimWrites: (PvcObject | undefined)[] = [];
    for (const c of plan.createClaims) {
      try {
        claimWrites.push(await writer.create(c));
      } catch (e) {
        if (!isBerthError(e, 'AlreadyExists')) throw e;
      }
    }
    for (const { claim: c, node } of plan.pinClaims) {
      claimWrites.push(
        await writer.update(c, {
          ...c,
          metadata: { ...c.metadata, annotations: { ...(c.metadata.annotations ?? {}), [SELECTED_NODE]: node } },
        }),
      );
    }
    for (const c of plan.deleteClaims) claimWrites.push(await writer.delete(c));
    for (const p of plan.createPods) {
      try {
        written.push(await writer.create(p));
        emit(
          this.ctx,
          sts,
          'Normal',
          'SuccessfulCreate',
          `create Pod ${p.metadata.name} in StatefulSet ${name} successful`,
        );
      } catch (e) {
        // The name is the identity: an existing pod of this ordinal is never doubled.
        if (!isBerthError(e, 'AlreadyExists')) throw e;
      }
    }
    for (const p of plan.deletePods) {
      written.push(await writer.delete(p));
      emit(
        this.ctx,
        sts,
        'Normal',
        'SuccessfulDelete',
        `delete Pod ${p.metadata.name} in StatefulSet ${name} successful`,
      );
    }
    await podInformer.waitFor(lastRevision(written));
    await claimInformer.waitFor(lastRevision(claimWrites));
    const after = planStatefulSet(
      sts,
      claimPods(sts, claimCandidates(podInformer, sts)).owned,
      claimInformer.list(namespace),
      this.ctx.now(),
    );
    await writer.updateStatus(sts, after.status);
    return {};
  }
}
