/**
 * A Service's Endpoints from its pods, as Kubernetes' endpoints controller computes them, in
 * Berth's networking model: an address is the pod's node address and a port is the host port the
 * agent published for the Service's targetPort (by number or by name). Ready pods are addresses,
 * the others notReadyAddresses; terminating and finished pods are neither (a pod leaves its
 * Services as soon as its deletion starts). Pods with the same ports share a subset.
 */
import { selectorFromLabels } from '../../api/selector.js';
import type { Endpoints, Service } from '../../api/types.gen.js';
import { isReady, isTerminated } from '../pods.js';
import type { PodObject } from '../objects.js';

export type EndpointSubset = NonNullable<Endpoints['subsets']>[number];
type EndpointAddress = NonNullable<EndpointSubset['addresses']>[number];
type EndpointPort = NonNullable<EndpointSubset['ports']>[number];
type ServicePort = NonNullable<NonNullable<Service['spec']>['ports']>[number];
type HostPort = { containerName?: string; name?: string; containerPort: number; hostPort: number; protocol?: string };

/** Whether the Service's endpoints are the controller's to write (it has a selector). */
export function selectsPods(service: Pick<Service, 'spec'>): boolean {
  return service.spec?.type !== 'ExternalName' && Object.keys(service.spec?.selector ?? {}).length > 0;
}

export function podMatches(service: Pick<Service, 'spec'>, pod: PodObject): boolean {
  return (
    selectsPods(service) &&
    selectorFromLabels(service.spec!.selector as Record<string, string>).matches(pod.metadata.labels ?? {})
  );
}

/** The host port a pod published for one Service port, if it did. */
export function hostPortFor(
  pod: PodObject,
  port: Pick<ServicePort, 'port' | 'targetPort' | 'protocol'>,
): number | undefined {
  const ports = (pod.status as { hostPorts?: HostPort[] } | undefined)?.hostPorts ?? [];
  const target = port.targetPort ?? port.port;
  const protocol = port.protocol ?? 'TCP';
  const found = ports.find(
    (p) =>
      (p.protocol ?? 'TCP') === protocol &&
      (typeof target === 'number' ? p.containerPort === target : p.name === target),
  );
  return found?.hostPort;
}

/**
 * Endpoints as Kubernetes' controller writes them, plus: an address carries the pod's hostname
 * when the pod names this Service as its subdomain (StatefulSet pods: `db-0` of Service `db`),
 * which cluster DNS answers as `db-0.db.<ns>.svc`; publishNotReadyAddresses puts pods that are
 * not ready among the addresses (peers of a StatefulSet finding each other before they are ready).
 */
export function planEndpoints(
  service: Pick<Service, 'spec'> & { metadata?: { name?: string } },
  pods: PodObject[],
): EndpointSubset[] {
  const subsets = new Map<
    string,
    { ports: EndpointPort[]; addresses: EndpointAddress[]; notReadyAddresses: EndpointAddress[] }
  >();
  for (const pod of pods) {
    if (!podMatches(service, pod) || pod.metadata.deletionTimestamp || isTerminated(pod)) continue;
    const ip = pod.status?.hostIP;
    if (!ip || !pod.spec?.nodeName) continue;
    const ports: EndpointPort[] = [];
    for (const p of service.spec?.ports ?? []) {
      const hostPort = hostPortFor(pod, p);
      if (hostPort !== undefined)
        ports.push({ ...(p.name ? { name: p.name } : {}), port: hostPort, protocol: p.protocol ?? 'TCP' });
    }
    if (!ports.length) continue;
    const key = JSON.stringify(ports);
    let subset = subsets.get(key);
    if (!subset) subsets.set(key, (subset = { ports, addresses: [], notReadyAddresses: [] }));
    const hostname =
      pod.spec.hostname && pod.spec.subdomain && pod.spec.subdomain === service.metadata?.name
        ? { hostname: pod.spec.hostname }
        : {};
    const address: EndpointAddress = {
      ip,
      ...hostname,
      nodeName: pod.spec.nodeName,
      targetRef: {
        kind: 'Pod',
        namespace: pod.metadata.namespace ?? 'default',
        name: pod.metadata.name,
        ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}),
      },
    };
    (isReady(pod) || service.spec?.publishNotReadyAddresses ? subset.addresses : subset.notReadyAddresses).push(
      address,
    );
  }
  const byName = (a: EndpointAddress, b: EndpointAddress) =>
    (a.targetRef?.name ?? '').localeCompare(b.targetRef?.name ?? '');
  return [...subsets.values()]
    .map((s) => ({
      ...(s.addresses.length ? { addresses: s.addresses.sort(byName) } : {}),
      ...(s.notReadyAddresses.length ? { notReadyAddresses: s.notReadyAddresses.sort(byName) } : {}),
      ports: s.ports,
    }))
    .sort((a, b) => JSON.stringify(a.ports).localeCompare(JSON.stringify(b.ports)));
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'endpointslice-controller.k8s.io';

export interface PlannedSlice {
  /** Stable for a port set: `<service>-<hash of the ports>`. */
  name: string;
  ports: EndpointPort[];
  endpoints: {
    addresses: string[];
    conditions: { ready: boolean; serving: boolean; terminating: boolean };
    hostname?: string;
    nodeName?: string;
    targetRef?: EndpointAddress['targetRef'];
  }[];
}

/**
 * The EndpointSlices for a Service's subsets, as Kubernetes' EndpointSlice controller keeps them
 * beside Endpoints: one slice per port set (every endpoint in a slice has the same ports), ready
 * addresses ready and serving, the others neither.
 */
export function planSlices(service: string, subsets: EndpointSubset[]): PlannedSlice[] {
  return subsets.map((s) => {
    // Name and protocol always set, as Kubernetes' controller writes them (kubectl reads them as pointers).
    const ports = (s.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' }));
    const endpoint = (a: EndpointAddress, ready: boolean) => ({
      addresses: [a.ip],
      conditions: { ready, serving: ready, terminating: false },
      ...(a.hostname ? { hostname: a.hostname } : {}),
      ...(a.nodeName ? { nodeName: a.nodeName } : {}),
      ...(a.targetRef ? { targetRef: a.targetRef } : {}),
    });
    return {
      name: `${service.slice(0, 57)}-${portsHash(ports)}`,
      ports,
      endpoints: [
        ...(s.addresses ?? []).map((a) => endpoint(a, true)),
        ...(s.notReadyAddresses ?? []).map((a) => endpoint(a, false)),
      ],
    };
  });
}

/** Five characters from the port set (FNV-1a), in Kubernetes' safe alphabet. */
function portsHash(ports: EndpointPort[]): string {
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(ports)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (let i = 0; i < 5; i++, h = Math.floor(h / alphabet.length)) out += alphabet[h % alphabet.length];
  return out;
}
