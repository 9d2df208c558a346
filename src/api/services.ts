/**
 * What the server gives a Service, as Kubernetes' API server does: a ClusterIP from the service
 * CIDR (the address the node's service proxy answers on, and cluster DNS resolves its name to), a
 * NodePort (30000–32767) for NodePort and LoadBalancer Services, and — Berth's own — for every
 * Service port a cluster-unique proxy port on the node's address, which Kubernetes' environment
 * variables point at (they work where a ClusterIP cannot be reached: see the README's networking).
 * Pure: the server's allocator and the agents' proxies share these rules.
 */
import { addressAt, contains, type Cidr } from './cidr.js';
import type { Endpoints, Service } from './types.gen.js';

/** Kubernetes' default --service-cluster-ip-range. */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/12';

export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;
/** Below Linux's ephemeral range (32768–60999), where agents' host ports come from. */
export const PROXY_PORT_RANGE = { min: 20000, max: 29999 } as const;
/** `PORT/PROTOCOL=PROXYPORT,…`: set by the server, like spec.clusterIP on Kubernetes. */
export const PROXY_PORTS_ANNOTATION = 'berth.dev/proxy-ports';

export type ServiceObject = Pick<Service, 'spec' | 'status'> & {
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string | undefined>;
    creationTimestamp?: string;
  };
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
  /** ClusterIP → the Service holding it. */
  clusterIPs: Map<string, string>;
  /**
   * Where the search for a free value starts, by range: nothing below it was free when last
   * looked, and an allocation only adds values, so a batch of 2,000 Services scans each range
   * once instead of once per Service (which took 0.6 s of a 10,000-object first sync).
   */
  searchFrom?: Map<string, number>;
}

/** The first value in [from, to] that is not taken, searching from where the last search of `range` ended. */
function firstFree(
  inUse: PortsInUse,
  range: string,
  from: number,
  to: number,
  taken: (n: number) => boolean,
): number | undefined {
  const searchFrom = (inUse.searchFrom ??= new Map());
  let n = Math.max(from, searchFrom.get(range) ?? from);
  while (n <= to && taken(n)) n++;
  searchFrom.set(range, n);
  return n <= to ? n : undefined;
}

/** The fields of a Service's spec the server fills in (and drops for ExternalName Services). */
export const ALLOCATED_SERVICE_FIELDS = ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy'] as const;

/** A Service without a ClusterIP of its own: DNS answers with its pods' addresses. */
export const isHeadless = (service: Pick<ServiceObject, 'spec'>): boolean => service.spec?.clusterIP === 'None';

/** The ClusterIP the node's proxy answers on, when the Service has one. */
export function clusterIPOf(service: Pick<ServiceObject, 'spec'>): string | undefined {
  const ip = service.spec?.clusterIP;
  return ip && ip !== 'None' && service.spec?.type !== 'ExternalName' ? ip : undefined;
}

/**
 * The first address handed out without being asked for: Kubernetes (KEP-3070) keeps the low
 * part of the range (1/16 of it, 16 to 256 addresses) for ClusterIPs given in manifests, such as
 * the DNS Service's 10.96.0.10, and allocates from above it first.
 */
export function dynamicStart(cidr: Cidr): number {
  return Math.min(Math.max(16, Math.floor(cidr.size / 16)), 256);
}

/**
 * The Service's ClusterIP: kept from `previous` (it may not change once set), else the one the
 * manifest asks for if it is in the range and free, else the first free one (above the static
 * band, then within it; never the network address, the first one — kubernetes.default's — or
 * the broadcast address). `None` is a headless Service; ExternalName Services have none.
 * spec.clusterIPs, ipFamilies and ipFamilyPolicy are filled as a single-stack IPv4 cluster does.
 */
function assignClusterIP(
  spec: NonNullable<Service['spec']>,
  previous: ServiceObject | undefined,
  inUse: PortsInUse,
  self: string,
  cidr: Cidr,
  problems: PortProblem[],
): void {
  if (spec.type === 'ExternalName') {
    if (spec.clusterIP && spec.clusterIP !== 'None' && previous?.spec?.clusterIP !== spec.clusterIP)
      problems.push({ path: ['spec', 'clusterIP'], message: 'may not be set for ExternalName services' });
    for (const field of ALLOCATED_SERVICE_FIELDS) delete spec[field];
    return;
  }
  const had = previous?.spec?.type !== 'ExternalName' ? previous?.spec?.clusterIP : undefined;
  const asked = spec.clusterIP || spec.clusterIPs?.[0] || undefined;
  if (spec.clusterIPs?.length && spec.clusterIP && spec.clusterIPs[0] !== spec.clusterIP)
    problems.push({ path: ['spec', 'clusterIPs', 0], message: `must match spec.clusterIP (${spec.clusterIP})` });
  if ((spec.clusterIPs?.length ?? 0) > 1)
    problems.push({ path: ['spec', 'clusterIPs'], message: 'may hold one address: this cluster is single-stack IPv4' });
  if (spec.ipFamilies?.some((f) => f !== 'IPv4'))
    problems.push({ path: ['spec', 'ipFamilies'], message: 'only IPv4 is configured on this cluster' });
  if (spec.ipFamilyPolicy === 'RequireDualStack')
    problems.push({ path: ['spec', 'ipFamilyPolicy'], message: 'RequireDualStack: this cluster is single-stack IPv4' });
  let ip: string | undefined;
  if (had) {
    if (asked && asked !== had)
      problems.push({ path: ['spec', 'clusterIP'], message: `field is immutable (it is ${had})` });
    ip = had;
  } else if (asked === 'None') {
    if (usesNodePorts({ spec }))
      problems.push({ path: ['spec', 'clusterIP'], message: `may not be set to 'None' for ${spec.type} services` });
    ip = 'None';
  } else if (asked) {
    const holder = inUse.clusterIPs.get(asked);
    if (!contains(cidr, asked))
      problems.push({
        path: ['spec', 'clusterIP'],
        message: `failed to allocate IP ${asked}: the provided IP is not in the valid range. The range of valid IPs is ${cidr.text}`,
      });
    else if (holder !== undefined && holder !== self)
      problems.push({
        path: ['spec', 'clusterIP'],
        message: `failed to allocate IP ${asked}: provided IP is already allocated (to Service ${holder})`,
      });
    ip = asked;
  } else {
    const taken = (offset: number) => inUse.clusterIPs.has(addressAt(cidr, offset));
    const offset =
      firstFree(inUse, 'clusterIP', dynamicStart(cidr), cidr.size - 2, taken) ??
      firstFree(inUse, 'clusterIP (static band)', 2, Math.min(dynamicStart(cidr) - 1, cidr.size - 2), taken);
    if (offset === undefined)
      problems.push({ path: ['spec', 'clusterIP'], message: `no ClusterIP is free in ${cidr.text}` });
    else ip = addressAt(cidr, offset);
  }
  if (!ip) return;
  if (ip !== 'None') inUse.clusterIPs.set(ip, self);
  spec.clusterIP = ip;
  spec.clusterIPs = [ip];
  spec.ipFamilies = ['IPv4'];
  spec.ipFamilyPolicy = spec.ipFamilyPolicy ?? 'SingleStack';
}

export interface PortProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Fills in what the server allocates: the ClusterIP (see assignClusterIP), NodePorts left out
 * (kept from `previous` for the same port, as an update must not move them) and proxy ports.
 * Values another Service holds are problems.
 * Returns the Service to store; `inUse` gains what it was given.
 */
export function assignServicePorts<T extends ServiceObject>(
  service: T,
  previous: ServiceObject | undefined,
  inUse: PortsInUse,
  serviceCidr: Cidr,
): { service: T; problems: PortProblem[] } {
  const self = `${service.metadata.namespace ?? 'default'}/${service.metadata.name}`;
  const out = structuredClone(service);
  const problems: PortProblem[] = [];
  if (out.spec) assignClusterIP(out.spec, previous, inUse, self, serviceCidr, problems);
  const ports = out.spec?.ports ?? [];
  const before = new Map((previous?.spec?.ports ?? []).map((p) => [portKey(p), p]));
  const next = (range: { min: number; max: number }, taken: (port: number) => boolean): number | undefined =>
    firstFree(inUse, `${range.min}-${range.max}`, range.min, range.max, taken);
  if (ports.length && out.spec?.type !== 'ExternalName') {
    ports.forEach((p, i) => {
      if (!usesNodePorts(out)) {
        delete p.nodePort;
        return;
      }
      if (!p.nodePort) {
        const kept = before.get(portKey(p))?.nodePort;
        p.nodePort =
          kept && inUse.nodePorts.get(kept) === undefined ? kept : next(NODE_PORT_RANGE, (n) => inUse.nodePorts.has(n));
        if (!p.nodePort)
          problems.push({ path: ['spec', 'ports', i, 'nodePort'], message: 'no NodePort is free in 30000-32767' });
      } else if (inUse.nodePorts.has(p.nodePort) && inUse.nodePorts.get(p.nodePort) !== self) {
        problems.push({
          path: ['spec', 'ports', i, 'nodePort'],
          message: `provided port ${p.nodePort} is already allocated (to Service ${inUse.nodePorts.get(p.nodePort)})`,
        });
      }
      if (p.nodePort) inUse.nodePorts.set(p.nodePort, self);
    });
    const had = previous ? proxyPortsOf(previous) : new Map<string, number>();
    const given = ports.map((p) => {
      const port = had.get(portKey(p)) ?? next(PROXY_PORT_RANGE, (n) => inUse.proxyPorts.has(n));
      if (port === undefined)
        problems.push({ path: ['spec', 'ports'], message: 'no service proxy port is free in 20000-29999' });
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
  const inUse: PortsInUse = { nodePorts: new Map(), proxyPorts: new Set(), clusterIPs: new Map() };
  for (const s of services) {
    if (except && s.metadata.name === except.name && (s.metadata.namespace ?? 'default') === except.namespace) continue;
    const id = `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`;
    for (const p of s.spec?.ports ?? []) if (p.nodePort) inUse.nodePorts.set(p.nodePort, id);
    for (const port of proxyPortsOf(s).values()) inUse.proxyPorts.add(port);
    const ip = clusterIPOf(s);
    if (ip) inUse.clusterIPs.set(ip, id);
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
export function readyEndpoints(
  endpoints: Pick<Endpoints, 'subsets'> | undefined,
  portName: string | undefined,
): { ip: string; port: number; pod?: string }[] {
  const out: { ip: string; port: number; pod?: string }[] = [];
  for (const s of endpoints?.subsets ?? []) {
    const port =
      (s.ports ?? []).find((p) => (p.name ?? '') === (portName ?? '')) ??
      (s.ports?.length === 1 && !portName ? s.ports[0] : undefined);
    if (!port) continue;
    for (const a of s.addresses ?? [])
      out.push({ ip: a.ip, port: port.port, ...(a.targetRef?.name ? { pod: a.targetRef.name } : {}) });
  }
  return out;
}
