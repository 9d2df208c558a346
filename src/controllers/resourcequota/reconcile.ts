/**
 * The resource quota controller: keeps each ResourceQuota's status (hard, and used as counted
 * from the namespace's objects) current, as Kubernetes' does. Admission charges a quota as it
 * admits (runtime/quota.ts); this controller is the recount that corrects it — an object deleted,
 * a pod finished, a charge whose write never happened. Recounts on pod, Service and claim changes
 * in the namespace, and every RESYNC_MS for the kinds it does not watch (counts of other objects).
 */
import { isBerthError } from '../../api/errors.js';
import { quotaStatus, type QuotaObject } from '../../api/quota.js';
import type { Controller, InformerFactory, KubeObject, ReconcileResult } from '../../runtime/index.js';
import { RESOURCE_QUOTA, namespaceUsage } from '../../runtime/quota.js';
import { sameJson } from '../../runtime/writer.js';
import type { ControllerContext } from '../context.js';
import { POD, keyOf, splitKey } from '../objects.js';

const RESYNC_MS = 10_000;
const WATCHED = [POD, { group: '', kind: 'Service' }, { group: '', kind: 'PersistentVolumeClaim' }];

type Quota = KubeObject & QuotaObject;

export class ResourceQuotaController implements Controller {
  readonly name = 'resourcequota';
  readonly workers = 2;

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    const quotas = informers.for<Quota>(RESOURCE_QUOTA);
    quotas.on((e) => enqueue(keyOf(e.object)));
    for (const kind of WATCHED) {
      informers.for(kind).on((e) => {
        for (const q of quotas.list(e.object.metadata.namespace ?? 'default')) enqueue(keyOf(q));
      });
    }
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const quota = this.ctx.informers.for<Quota>(RESOURCE_QUOTA).get(namespace, name);
    if (!quota) return {};
    const status = quotaStatus(quota, await namespaceUsage(this.ctx.writer.store, namespace, quota.spec?.hard ?? {}));
    if (!sameJson(quota.status ?? {}, status)) {
      try {
        await this.ctx.writer.updateStatus(quota, status);
      } catch (e) {
        // Admission charged it meanwhile: the change brings this key back.
        if (!isBerthError(e, 'Conflict')) throw e;
      }
    }
    return { requeueAfterMs: RESYNC_MS };
  }
}
