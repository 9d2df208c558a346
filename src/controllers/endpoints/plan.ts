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
  return selectsPods(service) && selectorFromLabels(service.spec!.selector as Record<string, string>).matches(pod.metadata.labels ?? {});
}

/** The host port a pod published for one Service port, if it did. */
export function hostPortFor(pod: PodObject, port: Pick<ServicePort, 'port' | 'targetPort' | 'protocol'>): number | undefined {
  const ports = ((pod.status as { hostPorts?: HostPort[] } | undefined)?.hostPorts ?? []);
  const target = port.targetPort ?? port.port;
  const protocol = port.protocol ?? 'TCP';
  const found = ports.find((p) => (p.protocol ?? 'TCP') === protocol && (typeof target === 'number' ? p.containerPort === target : p.name === target));
  return found?.hostPort;
}

export function planEndpoints(service: Pick<Service, 'spec'>, pods: PodObject[]): EndpointSubset[] {
  const subsets = new Map<string, { ports: EndpointPort[]; addresses: EndpointAddress[]; notReadyAddresses: EndpointAddress[] }>();
  for (const pod of pods) {
    if (!podMatches(service, pod) || pod.metadata.deletionTimestamp || isTerminated(pod)) continue;
    const ip = pod.status?.hostIP;
    if (!ip || !pod.spec?.nodeName) continue;
    const ports: EndpointPort[] = [];
    for (const p of service.spec?.ports ?? []) {
      const hostPort = hostPortFor(pod, p);
      if (hostPort !== undefined) ports.push({ ...(p.name ? { name: p.name } : {}), port: hostPort, protocol: p.protocol ?? 'TCP' });
    }
    if (!ports.length) continue;
    const key = JSON.stringify(ports);
    let subset = subsets.get(key);
    if (!subset) subsets.set(key, (subset = { ports, addresses: [], notReadyAddresses: [] }));
    const address: EndpointAddress = { ip, nodeName: pod.spec.nodeName, targetRef: { kind: 'Pod', namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name, ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}) } };
    (isReady(pod) ? subset.addresses : subset.notReadyAddresses).push(address);
  }
  const byName = (a: EndpointAddress, b: EndpointAddress) => (a.targetRef?.name ?? '').localeCompare(b.targetRef?.name ?? '');
  return [...subsets.values()]
    .map((s) => ({ ...(s.addresses.length ? { addresses: s.addresses.sort(byName) } : {}), ...(s.notReadyAddresses.length ? { notReadyAddresses: s.notReadyAddresses.sort(byName) } : {}), ports: s.ports }))
    .sort((a, b) => JSON.stringify(a.ports).localeCompare(JSON.stringify(b.ports)));
}
