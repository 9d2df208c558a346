/**
 * The ingress route table, pure: networking.k8s.io/v1 Ingresses of class `berth` (or none) become
 * host groups (exact hosts, one-label wildcards, and rules without a host) of paths matched as the
 * Kubernetes Ingress documentation defines — Exact, Prefix element by element, and
 * ImplementationSpecific as Prefix — longest path first, Exact before Prefix on a tie — with the
 * oldest Ingress's defaultBackend last. Both data planes (the Node router and nginx) use it.
 */
import type { Ingress } from '../api/types.gen.js';

export const INGRESS_CLASS = 'berth';

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

export interface Backend {
  namespace: string;
  service: string;
  /** The Service port, by number or by name. */
  port: number | string;
}

export interface Route {
  path: string;
  pathType: PathType;
  backend: Backend;
  /** namespace/name of the Ingress the rule comes from. */
  ingress: string;
  /** The path's elements, for element-wise Prefix matching. */
  elements: string[];
}

export interface TlsEntry {
  namespace: string;
  secretName: string;
}

export interface RouteTable {
  exact: Map<string, Route[]>;
  /** By the wildcard's suffix: `*.example.com` → `.example.com`. */
  wildcard: Map<string, Route[]>;
  anyHost: Route[];
  defaultBackend?: Backend & { ingress: string };
  /** TLS certificates by host (exact or `*.suffix`). */
  tls: Map<string, TlsEntry>;
  /** Every Service a route names, as namespace/name. */
  services: Set<string>;
}

export type IngressObject = Pick<Ingress, 'spec'> & {
  metadata: { name: string; namespace?: string; creationTimestamp?: string };
};

export function servesClass(
  ingress: Pick<IngressObject, 'spec' | 'metadata'> & {
    metadata: { annotations?: Record<string, string | undefined> };
  },
): boolean {
  const cls = ingress.spec?.ingressClassName ?? ingress.metadata.annotations?.['kubernetes.io/ingress.class'];
  return cls === undefined || cls === INGRESS_CLASS;
}

const elementsOf = (path: string): string[] => path.split('/').filter(Boolean);

function byPrecedence(a: Route, b: Route): number {
  // Longest path first; on equal paths Exact first; then the older Ingress (stable: sort keeps order).
  const len = (r: Route) => r.elements.join('/').length + r.elements.length;
  return len(b) - len(a) || (a.pathType === 'Exact' ? 0 : 1) - (b.pathType === 'Exact' ? 0 : 1);
}

/** Builds the table; Ingresses in creation order decide ties and which defaultBackend counts. */
export function buildRouteTable(ingresses: IngressObject[]): RouteTable {
  const table: RouteTable = { exact: new Map(), wildcard: new Map(), anyHost: [], tls: new Map(), services: new Set() };
  const ordered = [...ingresses]
    .filter((i) => servesClass(i as never))
    .sort(
      (a, b) =>
        (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
        `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
    );
  for (const ing of ordered) {
    const namespace = ing.metadata.namespace ?? 'default';
    const id = `${namespace}/${ing.metadata.name}`;
    const backendOf = (b: NonNullable<NonNullable<IngressObject['spec']>['defaultBackend']>): Backend | undefined => {
      const svc = b.service;
      if (!svc) return undefined;
      const port = svc.port?.number ?? svc.port?.name;
      if (port === undefined) return undefined;
      table.services.add(`${namespace}/${svc.name}`);
      return { namespace, service: svc.name, port };
    };
    const dflt = ing.spec?.defaultBackend && backendOf(ing.spec.defaultBackend);
    if (dflt && !table.defaultBackend) table.defaultBackend = { ...dflt, ingress: id };
    for (const rule of ing.spec?.rules ?? []) {
      const host = rule.host?.toLowerCase();
      const group =
        host === undefined
          ? table.anyHost
          : host.startsWith('*.')
            ? getOrAdd(table.wildcard, host.slice(1))
            : getOrAdd(table.exact, host);
      for (const p of rule.http?.paths ?? []) {
        const backend = backendOf(p.backend);
        if (!backend) continue;
        const path = p.path ?? '/';
        group.push({ path, pathType: p.pathType, backend, ingress: id, elements: elementsOf(path) });
      }
    }
    for (const t of ing.spec?.tls ?? []) {
      if (!t.secretName) continue;
      for (const h of t.hosts ?? [])
        if (!table.tls.has(h.toLowerCase())) table.tls.set(h.toLowerCase(), { namespace, secretName: t.secretName });
    }
  }
  for (const list of [table.anyHost, ...table.exact.values(), ...table.wildcard.values()]) list.sort(byPrecedence);
  return table;
}

function getOrAdd<K, V>(map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key);
  if (!list) map.set(key, (list = []));
  return list;
}

/** Whether one path rule matches a request path (without its query). */
export function pathMatches(route: Pick<Route, 'path' | 'pathType' | 'elements'>, requestPath: string): boolean {
  if (route.pathType === 'Exact') return requestPath === route.path;
  const want = route.elements;
  if (want.length === 0) return true;
  const got = elementsOf(requestPath);
  if (got.length < want.length) return false;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return false;
  return true;
}

/** The host part of a Host header or SNI name: lowercased, without a port or trailing dot. */
export function normalizeHost(host: string | undefined): string {
  if (!host) return '';
  let h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  if (colon !== -1) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** The wildcard suffix a host falls under: exactly one label in front (`a.example.com` → `.example.com`). */
export function wildcardSuffix(host: string): string | undefined {
  const dot = host.indexOf('.');
  return dot > 0 ? host.slice(dot) : undefined;
}

export interface RouteMatch {
  backend: Backend;
  ingress: string;
  route?: Route;
}

/**
 * The backend for a request: the exact host's rules, else its wildcard's, else the rules without a
 * host; the first (most precise) matching path of the first group that has one; else the
 * defaultBackend.
 */
export function matchRoute(table: RouteTable, host: string, path: string): RouteMatch | undefined {
  const suffix = wildcardSuffix(host);
  const groups = [table.exact.get(host), suffix !== undefined ? table.wildcard.get(suffix) : undefined, table.anyHost];
  for (const group of groups) {
    if (!group) continue;
    for (const r of group) if (pathMatches(r, path)) return { backend: r.backend, ingress: r.ingress, route: r };
  }
  return table.defaultBackend ? { backend: table.defaultBackend, ingress: table.defaultBackend.ingress } : undefined;
}

/** The TLS certificate for an SNI name: the exact host's, else its wildcard's. */
export function tlsFor(table: RouteTable, serverName: string): TlsEntry | undefined {
  const host = normalizeHost(serverName);
  const suffix = wildcardSuffix(host);
  return table.tls.get(host) ?? (suffix !== undefined ? table.tls.get(`*${suffix}`) : undefined);
}

/** Two Ingresses claiming one host and path: only the older serves it (the router's tie rule). */
export interface RouteConflict {
  /** The host as written (`*.suffix` for a wildcard), `*` for rules without a host. */
  host: string;
  /** The path, or `defaultBackend`. */
  path: string;
  /** namespace/name of the Ingress of `ours` and of the other one. */
  ours: string;
  theirs: string;
  /** Which of the two serves it. */
  serving: string;
}

/**
 * Where `ours` (a revision's Ingresses) and `others` (live ones someone else manages) claim the
 * same host and path (Exact paths equal, Prefix paths equal element-wise) or both name a
 * defaultBackend. One of ours without a creationTimestamp is new: the other, older, one serves.
 */
export function routeConflicts(ours: IngressObject[], others: IngressObject[]): RouteConflict[] {
  const idOf = (i: IngressObject) => `${i.metadata.namespace ?? 'default'}/${i.metadata.name}`;
  const mine = new Set(ours.map(idOf));
  const NEWEST = '\uffff';
  const table = buildRouteTable([
    ...ours.map((i) => ({
      ...i,
      metadata: { ...i.metadata, creationTimestamp: i.metadata.creationTimestamp ?? NEWEST },
    })),
    ...others.filter((i) => !mine.has(idOf(i))),
  ]);
  const out: RouteConflict[] = [];
  const groups: [string, Route[]][] = [
    ['*', table.anyHost],
    ...[...table.exact],
    ...[...table.wildcard].map(([suffix, routes]): [string, Route[]] => [`*${suffix}`, routes]),
  ];
  const sameRule = (a: Route, b: Route) =>
    (a.pathType === 'Exact') === (b.pathType === 'Exact') &&
    (a.pathType === 'Exact' ? a.path === b.path : a.elements.join('/') === b.elements.join('/'));
  for (const [host, routes] of groups)
    routes.forEach((first, i) => {
      // Routes are in precedence order, the older Ingress first on a tie: `first` serves.
      for (const later of routes.slice(i + 1)) {
        if (!sameRule(first, later) || mine.has(first.ingress) === mine.has(later.ingress)) continue;
        const [ours, theirs] = mine.has(first.ingress) ? [first, later] : [later, first];
        if (!out.some((c) => c.host === host && c.path === ours.path && c.theirs === theirs.ingress))
          out.push({ host, path: ours.path, ours: ours.ingress, theirs: theirs.ingress, serving: first.ingress });
      }
    });
  // Only the oldest Ingress's defaultBackend counts.
  const withDefault = (list: IngressObject[]) =>
    list.filter((i) => servesClass(i as never) && i.spec?.defaultBackend).map(idOf);
  const theirDefaults = withDefault(others).filter((id) => !mine.has(id));
  for (const id of withDefault(ours))
    for (const theirs of theirDefaults)
      out.push({ host: '*', path: 'defaultBackend', ours: id, theirs, serving: table.defaultBackend!.ingress });
  return out;
}
