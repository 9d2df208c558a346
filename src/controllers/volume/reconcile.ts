/**
 * The PersistentVolume controller's shell: binds claims to volumes as planClaim decides (the
 * volume's claimRef first, then the claim's volumeName and status), provisions local-path
 * volumes on the node chosen for a claim's first pod (a directory in that node's data directory,
 * the one its agent keeps for the claim, with the node as the volume's node affinity), keeps each
 * volume's phase, and reclaims Released volumes whose policy is Delete.
 */
import { PVC_PROTECTION } from '../../api/lifecycle.js';
import { DATA_DIR_ANNOTATION } from '../../api/pod-security.js';
import { isBerthError } from '../../api/errors.js';
import {
  BIND_COMPLETED,
  LOCAL_PATH_CLEANUP,
  LOCAL_PATH_PROVISIONER,
  PROVISIONED_BY,
  SELECTED_NODE,
  claimDirectory,
  claimNamesOf,
  volumeNodeOf,
} from '../../api/storage.js';
import type { Controller, InformerFactory, KubeObject, ReconcileResult } from '../../runtime/index.js';
import { emit, type ControllerContext } from '../context.js';
import { isTerminated } from '../pods.js';
import { planClaim, reclaims, volumePhase, type Claim, type Class, type Volume } from './plan.js';

const PVC = { group: '', kind: 'PersistentVolumeClaim' };
const PV = { group: '', kind: 'PersistentVolume' };
const STORAGE_CLASS = { group: 'storage.k8s.io', kind: 'StorageClass' };
const NODE = { group: '', kind: 'Node' };
const POD = { group: '', kind: 'Pod' };

type ClaimObject = KubeObject & Claim;
type VolumeObject = KubeObject & Volume;
type PodLike = KubeObject & {
  spec?: { nodeName?: string } & Parameters<typeof claimNamesOf>[0];
  status?: { phase?: string };
};

/** The claim as planClaim sees it: with the node chosen for it, its first consumer's when none was written. */
function withConsumerNode<T extends Claim>(claim: T, consumerNode: () => string | undefined): T {
  if (claim.spec?.volumeName || claim.metadata.annotations?.[SELECTED_NODE]) return claim;
  const node = consumerNode();
  if (!node) return claim;
  return {
    ...claim,
    metadata: { ...claim.metadata, annotations: { ...claim.metadata.annotations, [SELECTED_NODE]: node } },
  };
}

export class VolumeController implements Controller {
  readonly name = 'persistentvolume';

  /** What each Pending claim was last told it waits for (by namespace/name). */
  private readonly said = new Map<string, string>();

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    const claimKey = (c: KubeObject) => `claim/${key(c)}`;
    informers.for<ClaimObject>(PVC).on((e) => {
      enqueue(claimKey(e.object));
      // A claim that goes releases its volume.
      const volume = e.object.spec?.volumeName;
      if (e.type === 'DELETED' && volume) enqueue(`volume/${volume}`);
    });
    informers.for<VolumeObject>(PV).on((e) => {
      enqueue(`volume/${e.object.metadata.name}`);
      // A new or freed volume may be what a Pending claim waits for.
      for (const c of informers.for<ClaimObject>(PVC).list()) if (c.status?.phase !== 'Bound') enqueue(claimKey(c));
    });
    informers.for<KubeObject>(STORAGE_CLASS).on(() => {
      for (const c of informers.for<ClaimObject>(PVC).list()) if (c.status?.phase !== 'Bound') enqueue(claimKey(c));
    });
    informers.for(NODE);
    // A pod bound to a node is the first consumer its waiting claims wait for; a pod that goes
    // may be the last user a deleted claim waits for.
    informers.for<PodLike>(POD).on((e) => {
      if (!e.object.spec?.nodeName && e.type !== 'DELETED') return;
      for (const name of claimNamesOf(e.object.spec ?? {}))
        enqueue(`claim/${e.object.metadata.namespace ?? 'default'}/${name}`);
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [what, ...rest] = key.split('/');
    if (what === 'volume') await this.reconcileVolume(rest.join('/'));
    else await this.reconcileClaim(rest[0]!, rest[1]!);
    return {};
  }

  private async reconcileClaim(namespace: string, name: string): Promise<void> {
    const { informers, writer } = this.ctx;
    const claim = informers.for<ClaimObject>(PVC).get(namespace, name);
    if (!claim) {
      this.said.delete(`${namespace}/${name}`);
      return;
    }
    if (claim.metadata.deletionTimestamp) return this.releaseProtection(claim);
    if (claim.status?.phase === 'Bound') this.said.delete(key(claim));
    const volumes = informers.for<VolumeObject>(PV).list();
    const classes = informers.for<KubeObject & Class>(STORAGE_CLASS).list();
    const plan = planClaim(
      withConsumerNode(claim, () => this.consumerNode(claim)),
      volumes,
      classes,
    );
    switch (plan.action) {
      case 'lost':
        await writer.updateStatus(claim, { ...claim.status, phase: 'Lost' });
        emit(this.ctx, claim, 'Warning', 'ClaimLost', plan.message);
        return;
      case 'wait': {
        await writer.updateStatus(claim, { ...claim.status, phase: 'Pending' });
        // Said once per claim and reason, not on every look (nothing changed: nothing written).
        const said = `${claim.metadata.uid}/${plan.reason}/${plan.message}`;
        if (this.said.get(key(claim)) !== said)
          emit(
            this.ctx,
            claim,
            plan.reason === 'WaitForFirstConsumer' ? 'Normal' : 'Warning',
            plan.reason,
            plan.message,
          );
        this.said.set(key(claim), said);
        return;
      }
      case 'provision': {
        const volume = await this.provision(claim, plan.node, plan.className, plan.reclaimPolicy);
        if (volume) await this.bind(claim, volume);
        return;
      }
      case 'bind':
        await this.bind(claim, plan.volume as VolumeObject);
    }
  }

  /**
   * Kubernetes' PVC protection: a deleted claim goes once no pod uses it (every pod naming it has
   * gone or finished), so a running pod never loses its storage under it.
   */
  private async releaseProtection(claim: ClaimObject): Promise<void> {
    if (!claim.metadata.finalizers?.includes(PVC_PROTECTION)) return;
    const user = this.ctx.informers
      .for<PodLike>(POD)
      .list(claim.metadata.namespace ?? 'default')
      .find((p) => claimNamesOf(p.spec ?? {}).includes(claim.metadata.name) && !isTerminated(p));
    if (user) {
      const message = `the claim is deleted, and goes once pod ${user.metadata.name} no longer uses it`;
      if (this.said.get(key(claim)) !== message) emit(this.ctx, claim, 'Normal', 'WaitingForPods', message);
      this.said.set(key(claim), message);
      return;
    }
    await this.ctx.writer.update(claim, {
      ...claim,
      metadata: { ...claim.metadata, finalizers: claim.metadata.finalizers.filter((f) => f !== PVC_PROTECTION) },
    });
  }

  /**
   * The node of a pod that uses the claim already (the scheduler writes it on the claim as it
   * binds the pod; a pod bound before — an older Berth, a write that failed — says it too).
   */
  private consumerNode(claim: ClaimObject): string | undefined {
    const namespace = claim.metadata.namespace ?? 'default';
    return this.ctx.informers
      .for<PodLike>(POD)
      .list(namespace)
      .find((p) => p.spec?.nodeName && claimNamesOf(p.spec).includes(claim.metadata.name))?.spec?.nodeName;
  }

  /** The volume's claimRef first (so no other claim takes it), then the claim's volumeName, then both statuses. */
  private async bind(claim: ClaimObject, volume: VolumeObject): Promise<void> {
    const { writer } = this.ctx;
    let v = volume;
    if (v.spec?.claimRef?.uid !== claim.metadata.uid || v.spec?.claimRef?.name !== claim.metadata.name)
      v = await writer.update(v, {
        ...v,
        spec: {
          ...v.spec!,
          claimRef: claimRefOf(claim),
        },
      });
    if (v.status?.phase !== 'Bound') v = await writer.updateStatus(v, { ...v.status, phase: 'Bound' });
    let c = claim;
    if (c.spec?.volumeName !== v.metadata.name)
      c = await writer.update(c, {
        ...c,
        metadata: {
          ...c.metadata,
          annotations: { ...c.metadata.annotations, [BIND_COMPLETED]: 'yes' },
        },
        spec: { ...c.spec, volumeName: v.metadata.name },
      });
    const path = v.spec?.hostPath?.path ?? v.spec?.local?.path;
    const node = volumeNodeOf(v);
    const status = {
      ...c.status,
      phase: 'Bound',
      accessModes: v.spec?.accessModes,
      capacity: v.spec?.capacity,
      ...(path ? { path } : {}),
      ...(node ? { nodeName: node } : {}),
    };
    if (c.status?.phase !== 'Bound')
      emit(this.ctx, c, 'Normal', 'Bound', `Successfully bound to PersistentVolume ${v.metadata.name}`);
    await writer.updateStatus(c, status);
  }

  /** A local-path volume for the claim on `node`: the directory its agent keeps for the claim. */
  private async provision(
    claim: ClaimObject,
    node: string,
    className: string,
    reclaimPolicy: 'Retain' | 'Delete',
  ): Promise<VolumeObject | undefined> {
    const name = `pvc-${claim.metadata.uid}`;
    const existing = this.ctx.informers.for<VolumeObject>(PV).get('', name);
    if (existing) return existing;
    const dataDir = this.ctx.informers.for<KubeObject>(NODE).get('', node)?.metadata.annotations?.[DATA_DIR_ANNOTATION];
    if (!dataDir) {
      // Said once per claim and node (reconciled again on every change: the Event would repeat).
      const message = `node ${node} does not say where its data directory is (is its agent running?): no local-path volume can be made there`;
      if (this.said.get(key(claim)) !== message) emit(this.ctx, claim, 'Warning', 'ProvisioningFailed', message);
      this.said.set(key(claim), message);
      return undefined;
    }
    const namespace = claim.metadata.namespace ?? 'default';
    try {
      const volume = await this.ctx.writer.create<VolumeObject>({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: {
          name,
          annotations: { [PROVISIONED_BY]: LOCAL_PATH_PROVISIONER },
          // Its directory is removed by its node's agent before it goes (see agent/local-volumes).
          ...(reclaimPolicy === 'Delete' ? { finalizers: [LOCAL_PATH_CLEANUP] } : {}),
        },
        spec: {
          capacity: { storage: String(claim.spec?.resources?.requests?.storage ?? '1Gi') },
          accessModes: claim.spec?.accessModes?.length ? claim.spec.accessModes : ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: reclaimPolicy,
          storageClassName: className,
          volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
          claimRef: claimRefOf(claim),
          hostPath: { path: claimDirectory(dataDir, namespace, claim.metadata.name), type: 'DirectoryOrCreate' },
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] },
              ],
            },
          },
        },
      } as unknown as VolumeObject);
      emit(
        this.ctx,
        claim,
        'Normal',
        'ProvisioningSucceeded',
        `Successfully provisioned volume ${name} on node ${node} (${LOCAL_PATH_PROVISIONER})`,
      );
      return volume;
    } catch (e) {
      if (isBerthError(e, 'AlreadyExists')) return undefined; // the informer brings it: reconciled again
      throw e;
    }
  }

  private async reconcileVolume(name: string): Promise<void> {
    const { informers, writer } = this.ctx;
    const volume = informers.for<VolumeObject>(PV).get('', name);
    if (!volume) return;
    const claims = informers.for<ClaimObject>(PVC);
    const phase = volumePhase(volume, (namespace, claimName, uid) => {
      const c = claims.get(namespace, claimName);
      return !!c && c.metadata.uid === uid;
    });
    // Being deleted already, it still says whether it is free (its node's agent waits for that).
    if (phase === 'Released' && reclaims(volume) && !volume.metadata.deletionTimestamp) {
      await writer.delete(volume);
      emit(this.ctx, volume, 'Normal', 'VolumeDeleted', `the claim is gone and the reclaim policy is Delete`);
      return;
    }
    if (volume.status?.phase !== phase) await writer.updateStatus(volume, { ...volume.status, phase });
  }
}

/** The reference a volume keeps to the claim it is bound to (by uid: a new claim of that name is another). */
const claimRefOf = (claim: ClaimObject) => ({
  kind: 'PersistentVolumeClaim',
  apiVersion: 'v1',
  namespace: claim.metadata.namespace ?? 'default',
  name: claim.metadata.name,
  uid: claim.metadata.uid!,
});

const key = (c: KubeObject) => `${c.metadata.namespace ?? 'default'}/${c.metadata.name}`;
