/**
 * What the service proxy and ingress routers route by, kept current from the API's watches:
 * Services, Endpoints and Ingresses, and the TLS Secrets Ingresses name (read when named, and
 * again every minute, so renewed certificates are picked up). Changes are delivered coalesced:
 * one `onChange` per burst of events, after the route table was rebuilt.
 */
import { isBerthError } from '../api/errors.js';
import { kindInfo, type KindInfo } from '../api/kinds.js';
import { portKey, proxyPortsOf, readyEndpoints, type ServiceObject, type ServicePortSpec } from '../api/services.js';
import type { Endpoints } from '../api/types.gen.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { Informer } from '../informer/index.js';
import { buildRouteTable, type Backend, type IngressObject, type RouteTable } from './routes.js';

const SERVICES = kindInfo('Service')!;
const ENDPOINTS = kindInfo('Endpoints')!;
const INGRESSES = kindInfo('Ingress')!;
const SECRETS = kindInfo('Secret')!;
const SECRET_REFRESH_MS = 60_000;

export type ServiceRecord = KubeObject & ServiceObject;
export type EndpointsRecord = KubeObject & Pick<Endpoints, 'subsets'>;
export interface TlsPair {
  cert: string;
  key: string;
}

export interface Target {
  ip: string;
  port: number;
  pod?: string;
}

/** A backend's ready endpoints, and the Service port's node proxy port (see api/services.ts). */
export type Resolution =
  | { ok: true; targets: Target[]; service: ServiceRecord; portName: string | undefined; proxyPort: number | undefined }
  | { ok: false; status: 503; reason: string };

export class ClusterView {
  readonly services = new Map<string, ServiceRecord>();
  readonly endpoints = new Map<string, EndpointsRecord>();
  readonly ingresses = new Map<string, KubeObject & IngressObject>();
  readonly secrets = new Map<string, TlsPair>();
  routes: RouteTable = buildRouteTable([]);
  private readonly listeners: (() => void)[] = [];
  private pending = false;
  private readonly synced = new Set<string>();
  private markReady!: () => void;
  /** Resolves once Services, Endpoints and Ingresses were listed. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(
    private readonly client: BerthClient,
    private readonly o: { ingresses?: boolean; log?: { warn(o: object, m: string): void } } = {},
  ) {}

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async start(signal: AbortSignal): Promise<void> {
    const kinds: [KindInfo, Map<string, KubeObject>][] = [
      [SERVICES, this.services],
      [ENDPOINTS, this.endpoints],
    ];
    if (this.o.ingresses !== false) kinds.push([INGRESSES, this.ingresses as Map<string, KubeObject>]);
    const refresh = setInterval(() => void this.readSecrets(true), SECRET_REFRESH_MS);
    refresh.unref();
    signal.addEventListener('abort', () => clearInterval(refresh), { once: true });
    await Promise.all(kinds.map(([info, into]) => this.follow(info, into, signal, kinds.length)));
  }

  /** One kind through an informer: `into` mirrors its cache, the view is ready once every kind is listed. */
  private async follow(
    info: KindInfo,
    into: Map<string, KubeObject>,
    signal: AbortSignal,
    kinds: number,
  ): Promise<void> {
    const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const informer = new Informer(this.client.listWatch(info), { group: info.group, kind: info.kind }, (err) =>
      this.o.log?.warn({ err, kind: info.kind }, 'watch failed; listing again'),
    );
    informer.on((e) => {
      if (e.type === 'DELETED') into.delete(keyOf(e.object));
      else into.set(keyOf(e.object), e.object);
      this.changed();
    });
    void informer.synced.then(() => {
      this.changed();
      this.listed(info.kind, kinds);
    });
    await informer.start(signal);
  }

  private listed(kind: string, kinds: number): void {
    this.synced.add(kind);
    if (this.synced.size >= kinds) this.markReady();
  }

  /** Rebuilds after the current burst of events (one macrotask later). */
  private changed(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.routes = buildRouteTable([...this.ingresses.values()]);
      void this.readSecrets(false);
      for (const l of this.listeners) l();
    });
  }

  private async readSecrets(again: boolean): Promise<void> {
    let changed = false;
    for (const { namespace, secretName } of new Map(
      [...this.routes.tls.values()].map((t) => [`${t.namespace}/${t.secretName}`, t]),
    ).values()) {
      const key = `${namespace}/${secretName}`;
      if (this.secrets.has(key) && !again) continue;
      try {
        const s = await this.client.get<KubeObject & { data?: Record<string, string> }>(SECRETS, namespace, secretName);
        const cert = Buffer.from(s.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
        const key64 = Buffer.from(s.data?.['tls.key'] ?? '', 'base64').toString('utf8');
        const before = this.secrets.get(key);
        if (cert && key64 && (before?.cert !== cert || before.key !== key64)) {
          this.secrets.set(key, { cert, key: key64 });
          changed = true;
        }
      } catch (e) {
        if (!isBerthError(e, 'NotFound')) this.o.log?.warn({ err: e, secret: key }, 'reading a TLS Secret failed');
      }
    }
    if (changed) for (const l of this.listeners) l();
  }

  /** The ready endpoints of one port of a Service. */
  targetsOf(service: ServiceRecord, port: Pick<ServicePortSpec, 'name'>): Target[] {
    return readyEndpoints(
      this.endpoints.get(`${service.metadata.namespace ?? 'default'}/${service.metadata.name}`),
      port.name,
    );
  }

  /** The ready endpoints behind an Ingress backend (a Service port by number or name). */
  resolve(backend: Backend): Resolution {
    const id = `${backend.namespace}/${backend.service}`;
    const service = this.services.get(id);
    if (!service) return { ok: false, status: 503, reason: `Service ${id} does not exist` };
    const port = (service.spec?.ports ?? []).find((p) =>
      typeof backend.port === 'number' ? p.port === backend.port : p.name === backend.port,
    );
    if (!port) return { ok: false, status: 503, reason: `Service ${id} has no port ${backend.port}` };
    if (service.spec?.type === 'ExternalName')
      return {
        ok: false,
        status: 503,
        reason: `Service ${id} is an ExternalName Service (${service.spec.externalName}), which the ingress does not route to`,
      };
    const targets = this.targetsOf(service, port);
    if (!targets.length) return { ok: false, status: 503, reason: `Service ${id} has no ready endpoints` };
    return { ok: true, targets, service, portName: port.name, proxyPort: proxyPortsOf(service).get(portKey(port)) };
  }
}
