/**
 * Berth's data plane on a machine: the service proxy (every agent) and the ingress router (the
 * server with --ingress-listen, agents with --ingress), over one view of the cluster.
 */
import type { BerthClient } from '../client/index.js';
import { NginxDataPlane } from './nginx.js';
import { IngressRouter, type Listen } from './router.js';
import { LoadCounter } from './load.js';
import type { IngressMetrics } from './metrics.js';
import { ServiceProxy, type Unserved } from './serviceproxy.js';
import { ClusterDns } from './dns-server.js';
import { publishIngressStatus } from './status.js';
import { ClusterView } from './view.js';

export { ClusterView } from './view.js';
export { LoadCounter } from './load.js';
export { IngressMetrics } from './metrics.js';
export { IngressRouter, type Listen } from './router.js';
export { ServiceProxy, type Unserved } from './serviceproxy.js';
export { ClusterDns } from './dns-server.js';
export { DEFAULT_CLUSTER_DOMAIN } from './dns.js';
export { NginxDataPlane, renderNginxConfig } from './nginx.js';

export const INGRESS_MODES = ['builtin', 'nginx'] as const;
export type IngressMode = (typeof INGRESS_MODES)[number];
export {
  buildRouteTable,
  matchRoute,
  pathMatches,
  tlsFor,
  INGRESS_CLASS,
  type RouteTable,
  type Route,
  type Backend,
} from './routes.js';

export interface NetworkOptions {
  client: BerthClient;
  /** The node's address: where the service proxy listens. */
  address: string;
  serviceProxy: boolean;
  /** The proxy adds ClusterIPs to the node's loopback device (root); else it serves only local ones. */
  holdClusterIPs?: boolean;
  /** nginx mode runs a Berth-managed nginx with its files under `nginxPrefix`. */
  ingress?: { http?: Listen; https?: Listen; publishStatus?: boolean; mode?: IngressMode; nginxPrefix?: string };
  /** Serve cluster DNS here (port 53 for pods to use it: resolv.conf names no port). */
  dns?: { hosts: string[]; optionalHosts?: string[]; port: number; domain: string };
  log?: { warn(o: object, m: string): void };
  /** A Service this node cannot serve (its proxy port taken by another program): `namespace/name`, why. */
  onServiceProblem?: (service: string, message: string) => void;
  /** Every listener the service proxy wants and cannot open, each time that list changes. */
  onUnservedChange?: (unserved: Unserved[]) => void;
  /** Count requests for custom metrics (default true; false only to measure what counting costs). */
  countLoad?: boolean;
  /** The ingress router's Prometheus metrics (network/metrics.ts). */
  ingressMetrics?: IngressMetrics;
}

export interface RunningNetwork {
  view: ClusterView;
  /** Requests per second and in flight, per Ingress, Service and pod, as this node's data plane saw them. */
  load: LoadCounter;
  ingressPorts: { http?: number; https?: number };
  proxy?: ServiceProxy;
  router?: IngressRouter;
  nginx?: NginxDataPlane;
  dns?: ClusterDns;
  /** Why cluster DNS was asked for and is not served (the port is taken, or needs root). */
  dnsUnavailable?: string;
  close(): Promise<void>;
}

export async function startNetwork(o: NetworkOptions): Promise<RunningNetwork> {
  const abort = new AbortController();
  const view = new ClusterView(o.client, { ingresses: Boolean(o.ingress), ...(o.log ? { log: o.log } : {}) });
  const mode = o.ingress?.mode ?? 'builtin';
  // nginx mode falls back on the service proxy (see NginxDataPlane): it runs wherever nginx does.
  const load = new LoadCounter();
  const proxy =
    o.serviceProxy || mode === 'nginx'
      ? new ServiceProxy(
          view,
          o.address,
          o.log,
          o.holdClusterIPs === true,
          o.onServiceProblem,
          o.onUnservedChange,
          o.countLoad === false ? undefined : load,
        )
      : undefined;
  const router =
    o.ingress && mode === 'builtin'
      ? new IngressRouter(view, {
          ...(o.log ? { log: o.log } : {}),
          ...(o.countLoad === false ? {} : { load }),
          ...(o.ingressMetrics ? { observe: o.ingressMetrics.observe } : {}),
        })
      : undefined;
  const nginx =
    o.ingress && mode === 'nginx'
      ? new NginxDataPlane(view, {
          prefix: o.ingress.nginxPrefix ?? 'nginx',
          serviceProxyAddress: o.address,
          ...(o.ingress.http ? { http: o.ingress.http } : {}),
          ...(o.ingress.https ? { https: o.ingress.https } : {}),
          ...(o.log ? { log: o.log } : {}),
        })
      : undefined;
  const watching = view.start(abort.signal);
  await view.ready;
  await proxy?.settled();
  let dns: ClusterDns | undefined;
  let dnsUnavailable: string | undefined;
  if (o.dns) {
    const server = new ClusterDns(view, { ...o.dns, ...(o.log ? { log: o.log } : {}) });
    try {
      await server.listen();
      dns = server;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      dnsUnavailable = `cluster DNS cannot listen on ${o.dns.hosts.join(', ')} port ${o.dns.port}: ${code === 'EACCES' ? 'ports below 1024 need root (or CAP_NET_BIND_SERVICE)' : code === 'EADDRINUSE' ? 'the port is taken' : (e as Error).message}`;
      o.log?.warn({ err: e }, dnsUnavailable);
    }
  }
  let ingressPorts: { http?: number; https?: number } = {};
  if (router) ingressPorts = await router.listen(o.ingress?.http, o.ingress?.https);
  if (nginx) {
    if (o.ingress?.http?.port === 0 || o.ingress?.https?.port === 0)
      throw new Error('the nginx ingress needs fixed ports, not 0');
    await nginx.start();
    ingressPorts = {
      ...(o.ingress?.http ? { http: o.ingress.http.port } : {}),
      ...(o.ingress?.https ? { https: o.ingress.https.port } : {}),
    };
  }
  if (o.ingress && o.ingress.publishStatus) {
    const addresses = [o.ingress.http?.host, o.ingress.https?.host]
      .filter((h): h is string => Boolean(h))
      .map((h) => (h === '0.0.0.0' || h === '::' ? o.address : h));
    publishIngressStatus(o.client, view, addresses.length ? addresses : [o.address], o.log);
  }
  return {
    view,
    load,
    ingressPorts,
    ...(proxy ? { proxy } : {}),
    ...(router ? { router } : {}),
    ...(nginx ? { nginx } : {}),
    ...(dns ? { dns } : {}),
    ...(dnsUnavailable ? { dnsUnavailable } : {}),
    async close() {
      abort.abort();
      await dns?.close();
      await router?.close();
      await nginx?.close();
      await proxy?.close();
      await watching;
    },
  };
}
