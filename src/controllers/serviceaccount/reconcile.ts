/**
 * The service account controller: every namespace has a `default` ServiceAccount, as in
 * Kubernetes (pods that name none run as it; manifests that name it find it).
 */
import { isBerthError } from '../../api/errors.js';
import type { Controller, InformerFactory, KubeObject, ReconcileResult } from '../../runtime/index.js';
import type { ControllerContext } from '../context.js';

const NAMESPACE = { group: '', kind: 'Namespace' };
const SERVICE_ACCOUNT = { group: '', kind: 'ServiceAccount' };

export class ServiceAccountController implements Controller {
  readonly name = 'serviceaccount';

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    informers.for(NAMESPACE).on((e) => enqueue(e.object.metadata.name));
    informers.for(SERVICE_ACCOUNT).on((e) => {
      if (e.type === 'DELETED' && e.object.metadata.name === 'default')
        enqueue(e.object.metadata.namespace ?? 'default');
    });
  }

  async reconcile(namespace: string): Promise<ReconcileResult> {
    const ns = this.ctx.informers.for(NAMESPACE).get('', namespace) as
      (KubeObject & { status?: { phase?: string } }) | undefined;
    if (!ns || ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating') return {};
    if (this.ctx.informers.for(SERVICE_ACCOUNT).get(namespace, 'default')) return {};
    try {
      await this.ctx.writer.create({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'default', namespace },
      });
    } catch (e) {
      if (!isBerthError(e, 'AlreadyExists')) throw e;
    }
    return {};
  }
}
