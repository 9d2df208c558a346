/**
 * The service proxy every agent runs (kube-proxy's userspace mode): for each Service port a
 * listener on the Service's ClusterIP at the port (the ClusterIP held on the node: see
 * addresses.ts), one on the node's address at the Service's proxy port (what pods reach through
 * the `<NAME>_SERVICE_HOST/_PORT` variables) and, for NodePort and LoadBalancer Services, one
 * at its NodePort. TCP: each connection goes to a ready endpoint in turn — or, with sessionAffinity
 * ClientIP, to the one this client had — and to the next one if connecting fails. UDP: each
 * client address and port is a flow, relayed to the endpoint chosen the same way by a socket of
 * its own while that endpoint stays ready, until it has been idle for UDP_IDLE_MS. SCTP is not
 * proxied.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIPv6, type Socket } from 'node:net';
import { clusterIPOf, portKey, proxyPortsOf, usesNodePorts } from '../api/services.js';
import { LocalAddresses } from './addresses.js';
import type { LoadCounter } from './load.js';
import { Turns } from './turns.js';
import type { ClusterView, ServiceRecord, Target } from './view.js';

/** Kubernetes' default for sessionAffinityConfig.clientIP.timeoutSeconds: 3 hours. */
const AFFINITY_SECONDS = 10_800;
/** A UDP flow with no datagram either way for this long is forgotten (Linux conntrack's UDP timeout). */
export const UDP_IDLE_MS = 30_000;
/** While a port cannot be listened on (another program holds it), it is tried again this often. */
export const UNSERVED_RETRY_MS = 10_000;

/** A listener the proxy wants and cannot open. */
export interface Unserved {
  /** `PROTOCOL/host:port`. */
  listener: string;
  service: string;
  message: string;
}

type Protocol = 'TCP' | 'UDP';

interface Wanted {
  /** namespace/name and the Service port's key: what to route by, re-read per connection or flow. */
  service: string;
  port: string;
  protocol: Protocol;
  host: string;
  at: number;
  /** A ClusterIP listener: its address must be held on the node first. */
  clusterIP?: boolean;
}

interface Listener extends Wanted {
  close(): Promise<void>;
}

interface UdpFlow {
  target: Target;
  upstream: UdpSocket;
  idle: NodeJS.Timeout;
}

export class ServiceProxy {
  /** By `PROTOCOL/host:port`: a Service may use one NodePort for both TCP and UDP. */
  private readonly listeners = new Map<string, Listener>();
  private readonly addresses = new LocalAddresses();
  /** What could not be listened on, said once each (not on every change of the view). */
  private readonly reported = new Set<string>();
  private readonly sockets = new Set<Socket>();
  private readonly turns = new Turns();
  private readonly affinity = new Map<string, { target: Target; until: number }>();
  private closed = false;
  private syncing = Promise.resolve();
  /** The listeners wanted and not open, by id; told to onUnservedChange whenever the set changes. */
  private readonly unserved = new Map<string, Unserved>();
  private retry: NodeJS.Timeout | undefined;
  /** The list last told to onUnservedChange (none yet: undefined). */
  private told: string | undefined;

  /**
   * holdAddresses: add ClusterIPs the machine lacks to its loopback device (an agent, as root);
   * without it only ClusterIPs that are local already (a service range in 127.0.0.0/8) are served.
   */
  constructor(
    private readonly view: ClusterView,
    private readonly address: string,
    private readonly log?: { warn(o: object, m: string): void },
    private readonly holdAddresses = false,
    /** Told once per listener that cannot be served (the agent records it as an Event on its Node). */
    private readonly onProblem?: (service: string, message: string) => void,
    /** Told the whole list each time it changes (the agent keeps it as a condition of its Node). */
    private readonly onUnservedChange?: (unserved: Unserved[]) => void,
    /** Counts connections per Service and pod (custom metrics). */
    private readonly load?: LoadCounter,
  ) {
    view.onChange(() => {
      this.syncing = this.syncing.then(() => this.sync());
    });
  }

  /** The ports listened on at the node's address (TCP or UDP), for tests and logs. */
  ports(): number[] {
    return [...new Set([...this.listeners.values()].filter((l) => !l.clusterIP).map((l) => l.at))].sort(
      (a, b) => a - b,
    );
  }

  /** Waits until the listeners match the view as it is now. */
  async settled(): Promise<void> {
    this.syncing = this.syncing.then(() => this.sync());
    await this.syncing;
  }

  private wanted(): Map<string, Wanted> {
    const out = new Map<string, Wanted>();
    for (const [id, s] of this.view.services) {
      if (s.spec?.type === 'ExternalName') continue;
      const proxy = proxyPortsOf(s);
      for (const p of s.spec?.ports ?? []) {
        const protocol = p.protocol ?? 'TCP';
        if (protocol !== 'TCP' && protocol !== 'UDP') continue;
        const key = portKey(p);
        const want = (host: string, at: number, clusterIP = false) =>
          out.set(`${protocol}/${host}:${at}`, {
            service: id,
            port: key,
            protocol,
            host,
            at,
            ...(clusterIP ? { clusterIP } : {}),
          });
        const at = proxy.get(key);
        if (at) want(this.address, at);
        if (usesNodePorts(s) && p.nodePort) want(this.address, p.nodePort);
        const ip = clusterIPOf(s);
        if (ip) want(ip, p.port, true);
      }
    }
    return out;
  }

  private async sync(): Promise<void> {
    if (this.closed) return;
    const wanted = this.wanted();
    for (const [id, l] of this.listeners) {
      const w = wanted.get(id);
      if (w && w.service === l.service && w.port === l.port) continue;
      this.listeners.delete(id);
      await l.close();
    }
    const stillWanted = new Set([...wanted.values()].filter((w) => w.clusterIP).map((w) => w.host));
    for (const [id, w] of wanted) {
      if (this.listeners.has(id)) continue;
      if (w.clusterIP) {
        const held = await this.addresses.hold(w.host, this.holdAddresses);
        if (!held.held) {
          this.reportOnce(
            `hold ${w.host}`,
            { service: w.service, clusterIP: w.host },
            `ClusterIP not served on this node: ${held.reason}; pods reach the Service through its environment variables`,
          );
          continue;
        }
      }
      try {
        this.listeners.set(id, w.protocol === 'TCP' ? await this.listenTcp(w) : await this.listenUdp(w));
        this.reported.delete(id);
      } catch (e) {
        // Two agents on one machine (tests, berth up beside an agent) share its ClusterIPs: the first serves them.
        if (w.clusterIP && (e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          this.reportOnce(id, { service: w.service }, `${id} is served by another proxy on this machine`);
          continue;
        }
        const message = `the service proxy cannot listen on ${w.host}:${w.at}/${w.protocol} on this node: ${(e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'another program holds the port' : (e as Error).message}`;
        this.unserved.set(id, { listener: id, service: w.service, message });
        if (
          this.reportOnce(
            id,
            { err: e, port: w.at, host: w.host, protocol: w.protocol, service: w.service },
            'service proxy could not listen',
          )
        )
          this.onProblem?.(w.service, message);
      }
    }
    for (const l of this.listeners.values()) if (l.clusterIP) stillWanted.add(l.host);
    for (const ip of this.addresses.added()) if (!stillWanted.has(ip)) await this.addresses.release(ip);
    this.settleUnserved(wanted);
  }

  /**
   * Forgets what is served now or no longer wanted, tells a changed list, and tries what is left
   * again later: the program holding a port may let it go without the view changing.
   */
  private settleUnserved(wanted: Map<string, Wanted>): void {
    for (const id of this.unserved.keys())
      if (this.listeners.has(id) || !wanted.has(id)) {
        this.unserved.delete(id);
        this.reported.delete(id);
      }
    // The first sync tells its list too, empty or not: it replaces what an earlier run of the node said.
    const now = [...this.unserved.values()];
    const told = JSON.stringify(now);
    if (told !== this.told) this.onUnservedChange?.(now);
    this.told = told;
    if (this.unserved.size && !this.retry && !this.closed)
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.syncing = this.syncing.then(() => this.sync());
      }, UNSERVED_RETRY_MS);
  }

  /** Logs a problem the first time it is seen; answers whether this was the first time. */
  private reportOnce(key: string, fields: object, message: string): boolean {
    if (this.reported.has(key)) return false;
    this.reported.add(key);
    this.log?.warn(fields, message);
    return true;
  }

  private async listenTcp(w: Wanted): Promise<Listener> {
    // Half-open as TCP allows: a client that ends its request (shuts down writing) still gets the answer.
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket, w));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(w.at, w.host, () => resolve());
    });
    server.on('error', (e) => this.log?.warn({ err: e, port: w.at }, 'service proxy listener failed'));
    return { ...w, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  /**
   * The endpoints of a listener's Service port, and (first()) which to try first: the one this
   * client is held to (ClientIP affinity, within its timeout), else the next in turn. `chosen`
   * records the one that answered, for the affinity.
   */
  private route(
    w: Wanted,
    clientIp: string,
  ): { targets: Target[]; first(): number; chosen(target: Target): void } | undefined {
    const service = this.view.services.get(w.service);
    const targets = service ? this.targets(service, w.port) : [];
    if (!service || !targets.length) return undefined;
    const sticky = service.spec?.sessionAffinity === 'ClientIP';
    const affinityKey = `${w.service}|${w.port}|${clientIp}`;
    const first = (): number => {
      const held = sticky ? this.affinity.get(affinityKey) : undefined;
      const heldIndex =
        held && held.until > Date.now()
          ? targets.findIndex((t) => t.ip === held.target.ip && t.port === held.target.port)
          : -1;
      return heldIndex >= 0 ? heldIndex : this.turns.take(`${w.service}|${w.port}`, targets.length);
    };
    const chosen = (target: Target): void => {
      if (!sticky) return;
      const seconds = service.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? AFFINITY_SECONDS;
      this.affinity.set(affinityKey, { target, until: Date.now() + seconds * 1000 });
    };
    return { targets, first, chosen };
  }

  private accept(client: Socket, w: Wanted): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    const route = this.route(w, client.remoteAddress ?? '');
    if (!route) {
      client.destroy();
      return;
    }
    client.pause();
    const { targets, chosen } = route;
    const first = route.first();
    const attempt = (n: number): void => {
      const target = targets[(first + n) % targets.length]!;
      const upstream = connect({ port: target.port, host: target.ip, allowHalfOpen: true });
      upstream.once('connect', () => {
        chosen(target);
        this.countConnection(w.service, target, client);
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

  private async listenUdp(w: Wanted): Promise<Listener> {
    const socket = createSocket(isIPv6(w.host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(w.at, w.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const flows = new Map<string, UdpFlow>();
    const end = (id: string): void => {
      const flow = flows.get(id);
      if (!flow) return;
      flows.delete(id);
      clearTimeout(flow.idle);
      flow.upstream.close();
    };
    socket.on('error', (e) => this.log?.warn({ err: e, port: w.at }, 'service proxy UDP listener failed'));
    socket.on('message', (datagram, from) => this.relay(socket, flows, end, w, datagram, from));
    return {
      ...w,
      close: async () => {
        for (const id of [...flows.keys()]) end(id);
        await new Promise<void>((resolve) => socket.close(() => resolve()));
      },
    };
  }

  /**
   * One datagram from a client: to its flow's endpoint, opening the flow when it has none, or when
   * its endpoint is no longer a ready one (the next datagram goes to another). With no endpoint
   * the datagram is dropped. The upstream socket is not connected: a server bound to every address
   * may answer from another of the node's addresses than the one it was sent to (on loopback
   * aliases it always does), and a connected socket would drop that answer. Answers are taken
   * from the endpoint's port.
   */
  private relay(
    listener: UdpSocket,
    flows: Map<string, UdpFlow>,
    end: (id: string) => void,
    w: Wanted,
    datagram: Buffer,
    from: RemoteInfo,
  ): void {
    const id = `${from.address}|${from.port}`;
    const route = this.route(w, from.address);
    let flow = flows.get(id);
    if (flow && !route?.targets.some((t) => t.ip === flow!.target.ip && t.port === flow!.target.port)) {
      end(id);
      flow = undefined;
    }
    if (!route) return;
    if (!flow) {
      const target = route.targets[route.first()]!;
      const upstream = createSocket(isIPv6(target.ip) ? 'udp6' : 'udp4');
      const opened: UdpFlow = (flow = { target, upstream, idle: setTimeout(() => end(id), UDP_IDLE_MS) });
      flows.set(id, opened);
      route.chosen(target);
      upstream.on('error', () => end(id));
      upstream.on('message', (reply, sender) => {
        if (sender.port !== target.port) return;
        opened.idle.refresh();
        listener.send(reply, from.port, from.address);
      });
    }
    flow.idle.refresh();
    flow.upstream.send(datagram, flow.target.port, flow.target.ip);
  }

  /** A connection is the proxy's request: counted for its Service and pod while it is open. */
  private countConnection(service: string, target: Target, client: Socket): void {
    const load = this.load;
    if (!load) return;
    const [namespace, name] = service.split('/') as [string, string];
    const ends = [
      load.begin('Service', namespace, name),
      ...(target.pod ? [load.begin('Pod', namespace, target.pod)] : []),
    ];
    client.once('close', () => ends.forEach((end) => end()));
  }

  private targets(service: ServiceRecord, key: string): Target[] {
    const port = (service.spec?.ports ?? []).find((p) => portKey(p) === key);
    return port ? this.view.targetsOf(service, port) : [];
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.syncing;
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    for (const s of this.sockets) s.destroy();
    await Promise.all(listeners.map((l) => l.close()));
    await this.addresses.releaseAll();
  }
}
