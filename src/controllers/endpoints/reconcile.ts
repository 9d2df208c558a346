/**
 * The endpoints controller: keeps each selector Service's Endpoints (same name) equal to
 * planEndpoints of the pods it selects; Services without a selector keep hand-written Endpoints.
 * Also ServiceLB's part: a LoadBalancer Service's status lists the Ready nodes' addresses.
 */
import { isBerthError } from '../../api/errors.js';
import type { Controller, InformerFactory, KubeObject, ReconcileResult } from '../../runtime/index.js';
import { sameJson } from '../../runtime/writer.js';
import type { ControllerContext } from '../context.js';
import { NODE, POD, findCondition, keyOf, splitKey, type PodObject } from '../objects.js';
import { planEndpoints, podMatches, selectsPods, type EndpointSubset } from './plan.js';

export const SERVICE = { group: '', kind: 'Service' };
export const ENDPOINTS = { group: '', kind: 'Endpoints' };

type ServiceObject = KubeObject & { spec?: { type?: string; selector?: Record<string, string>; ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[] }; status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } } };
type EndpointsObject = KubeObject & { subsets?: EndpointSubset[] };
type NodeObject = KubeObject & { status?: { addresses?: { type: string; address: string }[]; conditions?: { type: string; status: string }[] } };

export class EndpointsController implements Controller {
  readonly name = 'endpoints';
  readonly workers = 4;

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    const services = informers.for<ServiceObject>(SERVICE);
    services.on((e) => enqueue(keyOf(e.object)));
    informers.for<EndpointsObject>(ENDPOINTS).on((e) => enqueue(keyOf(e.object)));
    informers.for<PodObject>(POD).on((e) => {
      for (const s of services.list(e.object.metadata.namespace ?? 'default')) {
        if (podMatches(s as never, e.object) || (e.prevObject && podMatches(s as never, e.prevObject))) enqueue(keyOf(s));
      }
    });
    informers.for<NodeObject>(NODE).on(() => {
      for (const s of services.list()) if (s.spec?.type === 'LoadBalancer') enqueue(keyOf(s));
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { informers, writer } = this.ctx;
    const service = informers.for<ServiceObject>(SERVICE).get(namespace, name);
    const current = informers.for<EndpointsObject>(ENDPOINTS).get(namespace, name);
    if (!service) {
      // As Kubernetes: a Service's Endpoints go with it.
      if (current) await writer.delete(current);
      return {};
    }
    if (service.spec?.type === 'LoadBalancer') await this.publishLoadBalancer(service);
    if (!selectsPods(service as never)) return {};
    const subsets = planEndpoints(service as never, informers.for<PodObject>(POD).list(namespace));
    if (current && sameJson(current.subsets ?? [], subsets)) return {};
    try {
      if (current) await writer.update(current, { ...current, subsets });
      else await writer.create({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace, labels: { ...(service.metadata.labels ?? {}) } }, subsets } as EndpointsObject);
    } catch (e) {
      // The cache was behind; the watch event that follows brings this key back.
      if (!isBerthError(e, 'Conflict') && !isBerthError(e, 'AlreadyExists')) throw e;
    }
    return {};
  }

  private async publishLoadBalancer(service: ServiceObject): Promise<void> {
    const nodes = this.ctx.informers.for<NodeObject>(NODE).list();
    const ready = nodes.filter((n) => findCondition(n.status?.conditions as never, 'Ready')?.status === 'True');
    const ips = [...new Set(ready.map((n) => n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address).filter((a): a is string => Boolean(a)))].sort();
    await this.ctx.writer.updateStatus(service, { ...(service.status ?? {}), loadBalancer: ips.length ? { ingress: ips.map((ip) => ({ ip })) } : {} });
  }
}
