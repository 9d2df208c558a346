/**
 * Berth's data plane on a machine: the service proxy (every agent) and the ingress router (the
 * server with --ingress-listen, agents with --ingress), over one view of the cluster.
 */
import type { BerthClient } from '../client/index.js';
import { NginxDataPlane } from './nginx.js';
import { IngressRouter, type Listen } from './router.js';
import { ServiceProxy } from './serviceproxy.js';
import { publishIngressStatus } from './status.js';
import { ClusterView } from './view.js';

export { ClusterView } from './view.js';
export { IngressRouter, type Listen } from './router.js';
export { ServiceProxy } from './serviceproxy.js';
export { NginxDataPlane, renderNginxConfig } from './nginx.js';

export const INGRESS_MODES = ['builtin', 'nginx'] as const;
export type IngressMode = (typeof INGRESS_MODES)[number];
export { buildRouteTable, matchRoute, pathMatches, tlsFor, INGRESS_CLASS, type RouteTable, type Route, type Backend } from './routes.js';

export interface NetworkOptions {
  client: BerthClient;
  /** The node's address: where the service proxy listens. */
  address: string;
  serviceProxy: boolean;
  /** nginx mode runs a Berth-managed nginx with its files under `nginxPrefix`. */
  ingress?: { http?: Listen; https?: Listen; publishStatus?: boolean; mode?: IngressMode; nginxPrefix?: string };
  log?: { warn(o: object, m: string): void };
}

export interface RunningNetwork {
  view: ClusterView;
  ingressPorts: { http?: number; https?: number };
  proxy?: ServiceProxy;
  router?: IngressRouter;
  nginx?: NginxDataPlane;
  close(): Promise<void>;
}

export async function startNetwork(o: NetworkOptions): Promise<RunningNetwork> {
  const abort = new AbortController();
  const view = new ClusterView(o.client, { ingresses: Boolean(o.ingress), ...(o.log ? { log: o.log } : {}) });
  const mode = o.ingress?.mode ?? 'builtin';
  // nginx mode falls back on the service proxy (see NginxDataPlane): it runs wherever nginx does.
  const proxy = o.serviceProxy || mode === 'nginx' ? new ServiceProxy(view, o.address, o.log) : undefined;
  const router = o.ingress && mode === 'builtin' ? new IngressRouter(view, o.log ? { log: o.log } : {}) : undefined;
  const nginx = o.ingress && mode === 'nginx'
    ? new NginxDataPlane(view, { prefix: o.ingress.nginxPrefix ?? 'nginx', serviceProxyAddress: o.address, ...(o.ingress.http ? { http: o.ingress.http } : {}), ...(o.ingress.https ? { https: o.ingress.https } : {}), ...(o.log ? { log: o.log } : {}) })
    : undefined;
  const watching = view.start(abort.signal);
  await view.ready;
  await proxy?.settled();
  let ingressPorts: { http?: number; https?: number } = {};
  if (router) ingressPorts = await router.listen(o.ingress?.http, o.ingress?.https);
  if (nginx) {
    if (o.ingress?.http?.port === 0 || o.ingress?.https?.port === 0) throw new Error('the nginx ingress needs fixed ports, not 0');
    await nginx.start();
    ingressPorts = { ...(o.ingress?.http ? { http: o.ingress.http.port } : {}), ...(o.ingress?.https ? { https: o.ingress.https.port } : {}) };
  }
  if (o.ingress && o.ingress.publishStatus) {
    const addresses = [o.ingress.http?.host, o.ingress.https?.host].filter((h): h is string => Boolean(h)).map((h) => (h === '0.0.0.0' || h === '::' ? o.address : h));
    publishIngressStatus(o.client, view, addresses.length ? addresses : [o.address], o.log);
  }
  return {
    view, ingressPorts, ...(proxy ? { proxy } : {}), ...(router ? { router } : {}), ...(nginx ? { nginx } : {}),
    async close() {
      abort.abort();
      await router?.close();
      await nginx?.close();
      await proxy?.close();
      await watching;
    },
  };
}
