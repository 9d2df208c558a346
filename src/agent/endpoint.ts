/**
 * The agent's own HTTP endpoint, for the server only (it proxies logs, exec, attach, port-forward):
 * every request needs the bearer secret this agent made at start and gave the server with its
 * heartbeat. GET /logs?namespace&pod&container[&follow][&previous][&tailLines][&sinceSeconds]
 * streams a container's log; GET /metrics/resource gives the newest resource usage report, GET
 * /metrics/load the node's request load, GET /metrics the agent's Prometheus metrics. A WebSocket upgrade of GET /exec, /attach or /portforward
 * (?namespace&pod and the Kubernetes query) opens a stream in Kubernetes' protocols (agent/streams).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import {
  PORT_FORWARD_PROTOCOLS,
  SPDY_TUNNEL_PROTOCOL,
  STREAM_PROTOCOLS,
  parsePorts,
  parseStreamRequest,
} from '../api/channels.js';
import type { LoadReport, ResourceUsageReport } from '../api/metrics.js';
import type { ContainerRuntime, RuntimeContainer } from './runtime.js';
import { serveAttach, serveExec, servePortForwardChannels, servePortForwardSpdy, type PortTarget } from './streams.js';

export interface EndpointLookup {
  /** The pod's containers' instances, newest last, by namespace and pod name. */
  instances(namespace: string, pod: string): RuntimeContainer[] | undefined;
  /** The container to use when none is named (the pod's first). */
  defaultContainer(namespace: string, pod: string): string | undefined;
  /** The node's address, where pods' host ports are published. */
  address: string;
  /** The newest resource usage report (agent/usage.ts), served at GET /metrics/resource. */
  usage?: () => ResourceUsageReport;
  /** The node's data plane's request load, served at GET /metrics/load. */
  load?: () => LoadReport | undefined;
  /** The agent's Prometheus metrics, served at GET /metrics. */
  prometheus?: { contentType: string; metrics(): Promise<string> };
}

const STREAM_PATHS = new Set(['/exec', '/attach', '/portforward']);

export class AgentEndpoint {
  readonly secret = randomBytes(24).toString('base64url');
  private server: Server | undefined;
  /** The subprotocol chosen for each upgrade (by path), for the WebSocket handshake to answer. */
  private readonly chosenProtocol = new WeakMap<IncomingMessage, string>();
  private readonly sockets = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
    handleProtocols: (_offered, req) => this.chosenProtocol.get(req) ?? false,
  });

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly lookup: EndpointLookup,
  ) {}

  async listen(address: string, port = 0): Promise<number> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(e as Error).message}\n`);
        else res.destroy();
      });
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, address, () => resolve());
    });
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    for (const ws of this.sockets.clients) ws.terminate();
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }

  private authorized(req: IncomingMessage): boolean {
    const presented = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const expected = Buffer.from(this.secret);
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  }

  /** The container a request names: the newest (or the previous) instance, or why there is none. */
  private pick(
    namespace: string,
    pod: string,
    container: string | null | undefined,
    previous: boolean,
  ): RuntimeContainer | string {
    const all = this.lookup.instances(namespace, pod);
    if (!all) return `pod ${namespace}/${pod} is not on this node`;
    const name = container || this.lookup.defaultContainer(namespace, pod);
    const mine = all.filter((c) => c.name === name).sort((a, b) => a.restartCount - b.restartCount);
    const chosen = previous ? mine.at(-2) : mine.at(-1);
    if (!chosen)
      return previous
        ? `previous terminated container "${name}" in pod "${pod}" not found`
        : `container "${name}" in pod "${pod}" is not running yet`;
    return chosen;
  }

  private portTarget(namespace: string, pod: string): PortTarget {
    return (port) => {
      const bound = (this.lookup.instances(namespace, pod) ?? [])
        .flatMap((c) => (c.state === 'running' ? c.ports : []))
        .find((p) => p.containerPort === port && p.protocol === 'TCP');
      return bound
        ? { host: this.lookup.address, port: bound.hostPort }
        : `pod ${namespace}/${pod} has no running container with TCP port ${port} (Berth forwards the ports a pod declares)`;
    };
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, message: string) => {
      socket.end(
        `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${message}\n`,
      );
    };
    socket.on('error', () => undefined);
    if (!this.authorized(req)) return refuse(401, 'unauthorized');
    const url = new URL(req.url ?? '/', 'http://agent');
    if (!STREAM_PATHS.has(url.pathname)) return refuse(400, `no stream at ${url.pathname}`);
    const q = url.searchParams;
    const namespace = q.get('namespace') ?? 'default';
    const pod = q.get('pod') ?? '';
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    const known: readonly string[] =
      url.pathname === '/portforward' ? [SPDY_TUNNEL_PROTOCOL, ...PORT_FORWARD_PROTOCOLS] : STREAM_PROTOCOLS;
    const protocol = known.find((p) => offered.includes(p));
    if (!protocol) return refuse(400, `offer one of the WebSocket subprotocols ${known.join(', ')}`);
    this.chosenProtocol.set(req, protocol);
    // ws would refuse "SPDY/3.1+portforward.k8s.io" ('/' is not a token character): the choice is
    // made above, and ws answers with it (handleProtocols).
    req.headers['sec-websocket-protocol'] = 'chosen';
    if (url.pathname === '/portforward') {
      const ports = parsePorts(q);
      if (protocol !== SPDY_TUNNEL_PROTOCOL && typeof ports === 'string') return refuse(400, ports);
      if (!this.lookup.instances(namespace, pod)) return refuse(400, `pod ${namespace}/${pod} is not on this node`);
      return this.sockets.handleUpgrade(req, socket, head, (ws) => {
        if (protocol === SPDY_TUNNEL_PROTOCOL) servePortForwardSpdy(ws, this.portTarget(namespace, pod));
        else servePortForwardChannels(ws, ports as number[], this.portTarget(namespace, pod));
      });
    }
    const request = parseStreamRequest(q);
    const chosen = this.pick(namespace, pod, request.container, false);
    if (typeof chosen === 'string') return refuse(400, chosen);
    if (chosen.state !== 'running') return refuse(400, `container "${chosen.name}" is not running`);
    this.sockets.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined);
      const serve = url.pathname === '/exec' ? serveExec : serveAttach;
      serve(ws, this.runtime, chosen, request).catch(() => ws.terminate());
    });
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    if (!this.authorized(req)) return void res.writeHead(401, { 'Content-Type': 'text/plain' }).end('unauthorized\n');
    const url = new URL(req.url ?? '/', 'http://agent');
    const fail = (status: number, message: string) =>
      void res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`${message}\n`);
    if (req.method === 'GET' && url.pathname === '/metrics' && this.lookup.prometheus) {
      const body = await this.lookup.prometheus.metrics();
      return void res.writeHead(200, { 'Content-Type': this.lookup.prometheus.contentType }).end(body);
    }
    if (req.method === 'GET' && url.pathname === '/metrics/load') {
      const report = this.lookup.load?.() ?? { timestamp: Date.now(), windowMs: 0, entries: [] };
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(report));
    }
    if (req.method === 'GET' && url.pathname === '/metrics/resource') {
      const report = this.lookup.usage?.() ?? { pods: [] };
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(report));
    }
    if (req.method === 'GET' && url.pathname === '/logs') {
      const q = url.searchParams;
      const chosen = this.pick(
        q.get('namespace') ?? 'default',
        q.get('pod') ?? '',
        q.get('container'),
        q.get('previous') === 'true',
      );
      if (typeof chosen === 'string') return fail(400, chosen);
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      const since = q.get('sinceSeconds');
      const timestamps = q.get('timestamps') === 'true';
      if ((since || timestamps) && this.runtime.name === 'process')
        return fail(
          400,
          `the process runtime keeps no timestamps in its logs (its processes write their log file directly): ${since ? 'use --tail instead of --since' : 'leave out --timestamps'}`,
        );
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      for await (const line of this.runtime.logs(chosen.id, {
        follow: q.get('follow') === 'true',
        signal: abort.signal,
        timestamps,
        ...(q.get('tailLines') ? { tailLines: Number(q.get('tailLines')) } : {}),
        ...(since ? { sinceMs: Date.now() - Number(since) * 1000 } : {}),
      })) {
        if (!res.write(line)) await new Promise((r) => res.once('drain', r));
      }
      return void res.end();
    }
    fail(404, 'not found');
  }
}
