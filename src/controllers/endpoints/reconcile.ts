/**
 * The endpoints controller: keeps each selector Service's Endpoints (same name) equal to
 * planEndpoints of the pods it selects, and its EndpointSlices (discovery.k8s.io/v1, one per
 * port set, labelled with the Service's name) to the same; Services without a selector keep
 * hand-written Endpoints and slices.
 * Also ServiceLB's part: a LoadBalancer Service's status lists the Ready nodes' addresses.
 */
import { CONDITION } from '../../api/conditions.js';
import { isBerthError } from '../../api/errors.js';
import type { Controller, InformerFactory, KubeObject, ReconcileResult } from '../../runtime/index.js';
import { sameJson } from '../../runtime/writer.js';
import type { ControllerContext } from '../context.js';
import { candidatesFor, indexLabels, labelPairs } from '../claim.js';
import { NODE, POD, findCondition, keyOf, splitKey, type PodObject } from '../objects.js';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
  planEndpoints,
  planSlices,
  podMatches,
  selectsPods,
  type EndpointSubset,
} from './plan.js';

export const SERVICE = { group: '', kind: 'Service' };
/** Services by each label their selector requires. */
const SELECTOR_INDEX = 'selector';
export const ENDPOINTS = { group: '', kind: 'Endpoints' };
export const ENDPOINT_SLICE = { group: 'discovery.k8s.io', kind: 'EndpointSlice' };

type ServiceObject = KubeObject & {
  spec?: {
    type?: string;
    selector?: Record<string, string>;
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
  };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
};
type EndpointsObject = KubeObject & { subsets?: EndpointSubset[] };
type SliceObject = KubeObject & { addressType: string; endpoints: unknown[]; ports?: unknown[] };
type NodeObject = KubeObject & {
  status?: { addresses?: { type: string; address: string }[]; conditions?: { type: string; status: string }[] };
};

export class EndpointsController implements Controller {
  readonly name = 'endpoints';
  readonly workers = 4;

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    const services = informers.for<ServiceObject>(SERVICE);
    services.on((e) => enqueue(keyOf(e.object)));
    informers.for<EndpointsObject>(ENDPOINTS).on((e) => enqueue(keyOf(e.object)));
    informers.for<SliceObject>(ENDPOINT_SLICE).on((e) => {
      const service = e.object.metadata.labels?.[SERVICE_NAME_LABEL];
      if (service && e.object.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY)
        enqueue(`${e.object.metadata.namespace ?? 'default'}/${service}`);
    });
    // A pod change concerns the Services whose selectors it matches (before or after): found by
    // the pod's labels in an index of the selectors, not by matching every Service of the namespace.
    services.addIndex(SELECTOR_INDEX, (s) => (selectsPods(s as never) ? labelPairs(s, s.spec!.selector) : undefined));
    const pods = informers.for<PodObject>(POD);
    indexLabels(pods);
    pods.on((e) => {
      for (const pod of e.prevObject ? [e.object, e.prevObject] : [e.object]) {
        for (const pair of labelPairs(pod))
          for (const s of services.byIndex(SELECTOR_INDEX, pair)) if (podMatches(s as never, pod)) enqueue(keyOf(s));
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
      // As Kubernetes: a Service's Endpoints and slices go with it.
      if (current) await writer.delete(current);
      await this.writeSlices(namespace, name, [], undefined);
      return {};
    }
    if (service.spec?.type === 'LoadBalancer') await this.publishLoadBalancer(service);
    if (!selectsPods(service as never)) return {};
    const subsets = planEndpoints(
      service as never,
      candidatesFor(informers.for<PodObject>(POD), namespace, service.spec?.selector),
    );
    await this.writeSlices(namespace, name, subsets, service);
    if (current && sameJson(current.subsets ?? [], subsets)) return {};
    try {
      if (current) await writer.update(current, { ...current, subsets });
      else
        await writer.create({
          apiVersion: 'v1',
          kind: 'Endpoints',
          metadata: { name, namespace, labels: { ...(service.metadata.labels ?? {}) } },
          subsets,
        } as EndpointsObject);
    } catch (e) {
      // The cache was behind; the watch event that follows brings this key back.
      if (!isBerthError(e, 'Conflict') && !isBerthError(e, 'AlreadyExists')) throw e;
    }
    return {};
  }

  /** Creates, updates and deletes the Service's managed slices to match its subsets. */
  private async writeSlices(
    namespace: string,
    service: string,
    subsets: EndpointSubset[],
    owner: ServiceObject | undefined,
  ): Promise<void> {
    const { informers, writer } = this.ctx;
    const existing = informers
      .for<SliceObject>(ENDPOINT_SLICE)
      .list(namespace)
      .filter(
        (s) =>
          s.metadata.labels?.[SERVICE_NAME_LABEL] === service && s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY,
      );
    const wanted = planSlices(service, subsets);
    try {
      for (const slice of wanted) {
        const current = existing.find((s) => s.metadata.name === slice.name);
        const body = { addressType: 'IPv4', endpoints: slice.endpoints, ports: slice.ports };
        if (
          current &&
          sameJson({ addressType: current.addressType, endpoints: current.endpoints, ports: current.ports }, body)
        )
          continue;
        if (current) await writer.update(current, { ...current, ...body });
        else {
          await writer.create({
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: {
              name: slice.name,
              namespace,
              labels: {
                ...(owner?.metadata.labels ?? {}),
                [SERVICE_NAME_LABEL]: service,
                [MANAGED_BY_LABEL]: MANAGED_BY,
              },
              ...(owner?.metadata.uid
                ? {
                    ownerReferences: [
                      {
                        apiVersion: 'v1',
                        kind: 'Service',
                        name: service,
                        uid: owner.metadata.uid,
                        controller: true,
                        blockOwnerDeletion: true,
                      },
                    ],
                  }
                : {}),
            },
            ...body,
          } as SliceObject);
        }
      }
      for (const stale of existing) if (!wanted.some((w) => w.name === stale.metadata.name)) await writer.delete(stale);
    } catch (e) {
      // The cache was behind; the watch event that follows brings this key back.
      if (!isBerthError(e, 'Conflict') && !isBerthError(e, 'AlreadyExists')) throw e;
    }
  }

  private async publishLoadBalancer(service: ServiceObject): Promise<void> {
    const nodes = this.ctx.informers.for<NodeObject>(NODE).list();
    const ready = nodes.filter((n) => findCondition(n.status?.conditions as never, CONDITION.Ready)?.status === 'True');
    const ips = [
      ...new Set(
        ready
          .map((n) => n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address)
          .filter((a): a is string => Boolean(a)),
      ),
    ].sort();
    await this.ctx.writer.updateStatus(service, {
      ...(service.status ?? {}),
      loadBalancer: ips.length ? { ingress: ips.map((ip) => ({ ip })) } : {},
    });
  }
}
