/**
 * Service ports as Berth's networking model gives them out (no overlay, no iptables): a NodePort
 * (30000–32767, as Kubernetes) for NodePort and LoadBalancer Services, and for every Service port
 * a cluster-unique proxy port that each node's service proxy listens on — what a ClusterIP is in
 * Kubernetes. Pods find Services through Kubernetes' environment variables pointing at it.
 * Pure: the server's allocator and the agents' proxies share these rules.
 */
import type { Endpoints, Service } from './types.gen.js';

export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;
/** Below Linux's ephemeral range (32768–60999), where agents' host ports come from. */
export const PROXY_PORT_RANGE = { min: 20000, max: 29999 } as const;
/** `PORT/PROTOCOL=PROXYPORT,…`: set by the server, like spec.clusterIP on Kubernetes. */
export const PROXY_PORTS_ANNOTATION = 'berth.dev/proxy-ports';

export type ServiceObject = Pick<Service, 'spec' | 'status'> & {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string | undefined>; creationTimestamp?: string };
};
export type ServicePortSpec = NonNullable<NonNullable<Service['spec']>['ports']>[number];

export const portKey = (p: Pick<ServicePortSpec, 'port' | 'protocol'>): string => `${p.port}/${p.protocol ?? 'TCP'}`;

export function usesNodePorts(service: Pick<ServiceObject, 'spec'>): boolean {
  return service.spec?.type === 'NodePort' || service.spec?.type === 'LoadBalancer';
}

/** The proxy port of each Service port, by portKey. */
export function proxyPortsOf(service: Pick<ServiceObject, 'metadata'>): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of (service.metadata.annotations?.[PROXY_PORTS_ANNOTATION] ?? '').split(',')) {
    const m = /^([0-9]+\/[A-Z]+)=([0-9]+)$/.exec(part.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

export interface PortsInUse {
  /** NodePort → the Service (namespace/name) holding it. */
  nodePorts: Map<number, string>;
  proxyPorts: Set<number>;
}

export interface PortProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Fills in what the server allocates: NodePorts left out (kept from `previous` for the same port,
 * as an update must not move them) and proxy ports. Ports another Service holds are problems.
 * Returns the Service to store; `inUse` gains what it was given.
 */
export function assignServicePorts<T extends ServiceObject>(service: T, previous: ServiceObject | undefined, inUse: PortsInUse): { service: T; problems: PortProblem[] } {
  const self = `${service.metadata.namespace ?? 'default'}/${service.metadata.name}`;
  const out = structuredClone(service);
  const problems: PortProblem[] = [];
  const ports = out.spec?.ports ?? [];
  const before = new Map((previous?.spec?.ports ?? []).map((p) => [portKey(p), p]));
  const next = (range: { min: number; max: number }, taken: (port: number) => boolean): number | undefined => {
    for (let p = range.min; p <= range.max; p++) if (!taken(p)) return p;
    return undefined;
  };
  if (ports.length && out.spec?.type !== 'ExternalName') {
    ports.forEach((p, i) => {
      if (!usesNodePorts(out)) {
        delete p.nodePort;
        return;
      }
      if (!p.nodePort) {
        const kept = before.get(portKey(p))?.nodePort;
        p.nodePort = kept && inUse.nodePorts.get(kept) === undefined ? kept : next(NODE_PORT_RANGE, (n) => inUse.nodePorts.has(n));
        if (!p.nodePort) problems.push({ path: ['spec', 'ports', i, 'nodePort'], message: 'no NodePort is free in 30000-32767' });
      } else if (inUse.nodePorts.has(p.nodePort) && inUse.nodePorts.get(p.nodePort) !== self) {
        problems.push({ path: ['spec', 'ports', i, 'nodePort'], message: `provided port ${p.nodePort} is already allocated (to Service ${inUse.nodePorts.get(p.nodePort)})` });
      }
      if (p.nodePort) inUse.nodePorts.set(p.nodePort, self);
    });
    const had = previous ? proxyPortsOf(previous) : new Map<string, number>();
    const given = ports.map((p) => {
      const port = had.get(portKey(p)) ?? next(PROXY_PORT_RANGE, (n) => inUse.proxyPorts.has(n));
      if (port === undefined) problems.push({ path: ['spec', 'ports'], message: 'no service proxy port is free in 20000-29999' });
      else inUse.proxyPorts.add(port);
      return `${portKey(p)}=${port}`;
    });
    out.metadata.annotations = { ...out.metadata.annotations, [PROXY_PORTS_ANNOTATION]: given.join(',') };
  } else if (out.metadata.annotations?.[PROXY_PORTS_ANNOTATION] !== undefined) {
    const { [PROXY_PORTS_ANNOTATION]: _, ...rest } = out.metadata.annotations;
    out.metadata.annotations = rest;
  }
  return { service: out, problems };
}

/** What other Services hold, for assignServicePorts. */
export function portsInUse(services: ServiceObject[], except?: { namespace: string; name: string }): PortsInUse {
  const inUse: PortsInUse = { nodePorts: new Map(), proxyPorts: new Set() };
  for (const s of services) {
    if (except && s.metadata.name === except.name && (s.metadata.namespace ?? 'default') === except.namespace) continue;
    const id = `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`;
    for (const p of s.spec?.ports ?? []) if (p.nodePort) inUse.nodePorts.set(p.nodePort, id);
    for (const port of proxyPortsOf(s).values()) inUse.proxyPorts.add(port);
  }
  return inUse;
}

/**
 * Kubernetes' service environment variables for a pod, from the Services of its namespace:
 * `<NAME>_SERVICE_HOST/_SERVICE_PORT/_SERVICE_PORT_<PORTNAME>` and the Docker-link ones
 * (`<NAME>_PORT`, `<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`), pointing at the node's
 * service proxy. ExternalName Services and Services without ports have none.
 */
export function serviceEnv(services: ServiceObject[], host: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of [...services].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    if (s.spec?.type === 'ExternalName') continue;
    const proxy = proxyPortsOf(s);
    const ports = (s.spec?.ports ?? []).filter((p) => proxy.has(portKey(p)));
    if (!ports.length) continue;
    const name = s.metadata.name.toUpperCase().replace(/-/g, '_');
    const first = proxy.get(portKey(ports[0]!))!;
    env[`${name}_SERVICE_HOST`] = host;
    env[`${name}_SERVICE_PORT`] = String(first);
    env[`${name}_PORT`] = `${(ports[0]!.protocol ?? 'TCP').toLowerCase()}://${host}:${first}`;
    for (const p of ports) {
      const port = proxy.get(portKey(p))!;
      const protocol = p.protocol ?? 'TCP';
      if (p.name) env[`${name}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(port);
      const prefix = `${name}_PORT_${port}_${protocol}`;
      env[prefix] = `${protocol.toLowerCase()}://${host}:${port}`;
      env[`${prefix}_PROTO`] = protocol.toLowerCase();
      env[`${prefix}_PORT`] = String(port);
      env[`${prefix}_ADDR`] = host;
    }
  }
  return env;
}

/** Every ready endpoint of one Service port (by the port's name, '' for an unnamed one). */
export function readyEndpoints(endpoints: Pick<Endpoints, 'subsets'> | undefined, portName: string | undefined): { ip: string; port: number; pod?: string }[] {
  const out: { ip: string; port: number; pod?: string }[] = [];
  for (const s of endpoints?.subsets ?? []) {
    const port = (s.ports ?? []).find((p) => (p.name ?? '') === (portName ?? '')) ?? (s.ports?.length === 1 && !portName ? s.ports[0] : undefined);
    if (!port) continue;
    for (const a of s.addresses ?? []) out.push({ ip: a.ip, port: port.port, ...(a.targetRef?.name ? { pod: a.targetRef.name } : {}) });
  }
  return out;
}
