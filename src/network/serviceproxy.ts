/**
 * The service proxy every agent runs (kube-proxy's userspace mode): for each Service port a
 * listener on the node's address at the Service's proxy port (what pods reach through the
 * `<NAME>_SERVICE_HOST/_PORT` variables) and, for NodePort and LoadBalancer Services, at its
 * NodePort. Each connection goes to a ready endpoint in turn — or, with sessionAffinity
 * ClientIP, to the one this client had — and to the next one if connecting fails. TCP only.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { portKey, proxyPortsOf, usesNodePorts } from '../api/services.js';
import { Turns } from './turns.js';
import type { ClusterView, ServiceRecord, Target } from './view.js';

/** Kubernetes' default for sessionAffinityConfig.clientIP.timeoutSeconds: 3 hours. */
const AFFINITY_SECONDS = 10_800;

interface Listener {
  server: Server;
  /** namespace/name and the Service port's key: what to route by, re-read per connection. */
  service: string;
  port: string;
}

export class ServiceProxy {
  private readonly listeners = new Map<number, Listener>();
  private readonly sockets = new Set<Socket>();
  private readonly turns = new Turns();
  private readonly affinity = new Map<string, { target: Target; until: number }>();
  private closed = false;
  private syncing = Promise.resolve();

  constructor(private readonly view: ClusterView, private readonly address: string, private readonly log?: { warn(o: object, m: string): void }) {
    view.onChange(() => {
      this.syncing = this.syncing.then(() => this.sync());
    });
  }

  /** The ports listened on, for tests and logs. */
  ports(): number[] {
    return [...this.listeners.keys()].sort((a, b) => a - b);
  }

  /** Waits until the listeners match the view as it is now. */
  async settled(): Promise<void> {
    this.syncing = this.syncing.then(() => this.sync());
    await this.syncing;
  }

  private wanted(): Map<number, { service: string; port: string }> {
    const out = new Map<number, { service: string; port: string }>();
    for (const [id, s] of this.view.services) {
      if (s.spec?.type === 'ExternalName') continue;
      const proxy = proxyPortsOf(s);
      for (const p of s.spec?.ports ?? []) {
        if ((p.protocol ?? 'TCP') !== 'TCP') continue;
        const key = portKey(p);
        const at = proxy.get(key);
        if (at) out.set(at, { service: id, port: key });
        if (usesNodePorts(s) && p.nodePort) out.set(p.nodePort, { service: id, port: key });
      }
    }
    return out;
  }

  private async sync(): Promise<void> {
    if (this.closed) return;
    const wanted = this.wanted();
    for (const [port, l] of this.listeners) {
      const w = wanted.get(port);
      if (w && w.service === l.service && w.port === l.port) continue;
      this.listeners.delete(port);
      await new Promise<void>((resolve) => l.server.close(() => resolve()));
    }
    for (const [port, w] of wanted) {
      if (this.listeners.has(port)) continue;
      const server = createServer((socket) => this.accept(socket, port));
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, this.address, () => resolve());
        });
        server.on('error', (e) => this.log?.warn({ err: e, port }, 'service proxy listener failed'));
        this.listeners.set(port, { server, ...w });
      } catch (e) {
        this.log?.warn({ err: e, port, service: w.service }, 'service proxy could not listen');
      }
    }
  }

  private accept(client: Socket, port: number): void {
    const l = this.listeners.get(port);
    const service = l && this.view.services.get(l.service);
    const targets = l && service ? this.targets(service, l.port) : [];
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (!targets.length || !l || !service) {
      client.destroy();
      return;
    }
    client.pause();
    const sticky = service.spec?.sessionAffinity === 'ClientIP';
    const clientIp = client.remoteAddress ?? '';
    const affinityKey = `${l.service}|${l.port}|${clientIp}`;
    const held = sticky ? this.affinity.get(affinityKey) : undefined;
    const heldIndex = held && held.until > Date.now() ? targets.findIndex((t) => t.ip === held.target.ip && t.port === held.target.port) : -1;
    const first = heldIndex >= 0 ? heldIndex : this.turns.take(`${l.service}|${l.port}`, targets.length);
    const attempt = (n: number): void => {
      const target = targets[(first + n) % targets.length]!;
      const upstream = connect(target.port, target.ip);
      upstream.once('connect', () => {
        if (sticky) {
          const seconds = service.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? AFFINITY_SECONDS;
          this.affinity.set(affinityKey, { target, until: Date.now() + seconds * 1000 });
        }
        upstream.removeAllListeners('error');
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.once('error', () => {
        upstream.destroy();
        if (n + 1 < targets.length) attempt(n + 1);
        else client.destroy();
      });
    };
    attempt(0);
  }

  private targets(service: ServiceRecord, key: string): Target[] {
    const port = (service.spec?.ports ?? []).find((p) => portKey(p) === key);
    return port ? this.view.targetsOf(service, port) : [];
  }


  async close(): Promise<void> {
    this.closed = true;
    await this.syncing;
    const servers = [...this.listeners.values()].map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
    this.listeners.clear();
    for (const s of this.sockets) s.destroy();
    await Promise.all(servers);
  }
}
