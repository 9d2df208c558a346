/**
 * The Deployment controller's shell: claims its ReplicaSets, applies the planner's one step
 * (create, scale, delete ReplicaSets), keeps the revision annotation, writes status.
 */
import { isBerthError } from '../../api/errors.js';
import type { Controller, InformerFactory, ReconcileResult } from '../../runtime/index.js';
import { applyClaim, claim, claimCandidates, indexLabels } from '../claim.js';
import { emit, lastRevision, writeStatusAndWait, type ControllerContext } from '../context.js';
import {
  DEPLOYMENT,
  POD,
  REPLICA_SET,
  controllerOf,
  keyOf,
  splitKey,
  type DeploymentObject,
  type PodObject,
  type ReplicaSetObject,
} from '../objects.js';
import { isActive } from '../pods.js';
import { REVISION, planDeployment, templatesEqual } from './plan.js';

export class DeploymentController implements Controller {
  readonly name = 'deployment';
  readonly workers = 4;

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    const deployments = informers.for<DeploymentObject>(DEPLOYMENT);
    const replicaSets = informers.for<ReplicaSetObject>(REPLICA_SET);
    deployments.on((e) => enqueue(keyOf(e.object)));
    indexLabels(replicaSets);
    replicaSets.on((e) => {
      const ref = controllerOf(e.object);
      if (ref?.kind === 'Deployment') enqueue(`${e.object.metadata.namespace ?? ''}/${ref.name}`);
      else if (!ref) for (const d of deployments.list(e.object.metadata.namespace ?? '')) enqueue(keyOf(d));
    });
    // Recreate waits for the old pods to be gone: their deletion moves it on.
    informers.for<PodObject>(POD).on((e) => {
      if (e.type !== 'DELETED') return;
      const rsRef = controllerOf(e.object);
      if (rsRef?.kind !== 'ReplicaSet') return;
      const rs = replicaSets.get(e.object.metadata.namespace ?? '', rsRef.name);
      const dRef = rs && controllerOf(rs);
      if (dRef?.kind === 'Deployment') enqueue(`${e.object.metadata.namespace ?? ''}/${dRef.name}`);
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { informers, writer } = this.ctx;
    const rsInformer = informers.for<ReplicaSetObject>(REPLICA_SET);
    let d = informers.for<DeploymentObject>(DEPLOYMENT).get(namespace, name);
    if (!d || d.metadata.deletionTimestamp) return {};
    // Orphan ReplicaSets its selector matches are adopted, its own that no longer match released.
    const claimed = claim(d, claimCandidates(rsInformer, d));
    const { adopted, released } = await applyClaim(writer, d, claimed);
    const written: (ReplicaSetObject | undefined)[] = [...adopted, ...released];
    const owned = [...claimed.owned.filter((rs) => !claimed.adopt.includes(rs)), ...adopted];
    const pods = informers.for<PodObject>(POD);
    const activePods: Record<string, number> = {};
    for (const rs of owned) activePods[rs.metadata.name] = pods.ownedBy(rs.metadata.uid!).filter(isActive).length;

    const plan = planDeployment({ deployment: d, replicaSets: owned, activePods, now: this.ctx.now() });
    for (const action of plan.actions) {
      if (action.type === 'create') {
        try {
          written.push(await writer.create(action.replicaSet));
        } catch (e) {
          if (!isBerthError(e, 'AlreadyExists')) throw e;
          // A ReplicaSet of that name that is not ours, or not this template: a hash collision.
          const clash = rsInformer.get(namespace, action.replicaSet.metadata.name);
          if (
            clash &&
            controllerOf(clash)?.uid === d.metadata.uid &&
            templatesEqual(clash.spec.template, d.spec.template)
          )
            continue;
          await writer.updateStatus(d, { ...(d.status ?? {}), collisionCount: (d.status?.collisionCount ?? 0) + 1 });
          return { requeueAfterMs: 0 };
        }
      } else if (action.type === 'scale') {
        const rs = owned.find((r) => r.metadata.name === action.name)!;
        written.push(
          await writer.update(rs, {
            ...rs,
            metadata: { ...rs.metadata, annotations: action.annotations },
            spec: { ...rs.spec, replicas: action.replicas },
          }),
        );
      } else {
        const rs = owned.find((r) => r.metadata.name === action.name)!;
        written.push(await writer.delete(rs));
      }
    }
    for (const [type, reason, message] of plan.events) emit(this.ctx, d, type, reason, message);
    await rsInformer.waitFor(lastRevision(written));

    if (plan.revision !== undefined && d.metadata.annotations?.[REVISION] !== plan.revision) {
      d = await writer.update(d, {
        ...d,
        metadata: { ...d.metadata, annotations: { ...(d.metadata.annotations ?? {}), [REVISION]: plan.revision } },
      });
    }
    await writeStatusAndWait(this.ctx, informers.for<DeploymentObject>(DEPLOYMENT), d, plan.status);
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
  }
}
