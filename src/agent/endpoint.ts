/**
 * The agent's own HTTP endpoint, for the server only (it proxies `berth logs` and `berth exec`):
 * every request needs the bearer secret this agent made at start and gave the server with its
 * heartbeat. GET /logs?namespace&pod&container[&follow][&previous][&tailLines][&sinceSeconds]
 * streams a container's log; POST /exec {namespace, pod, container, command} runs a command in it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { ContainerRuntime, RuntimeContainer } from './runtime.js';

export interface EndpointLookup {
  /** The pod's containers' instances, newest last, by namespace and pod name. */
  instances(namespace: string, pod: string): RuntimeContainer[] | undefined;
  /** The container to use when none is named (the pod's first). */
  defaultContainer(namespace: string, pod: string): string | undefined;
}

export class AgentEndpoint {
  readonly secret = randomBytes(24).toString('base64url');
  private server: Server | undefined;

  constructor(private readonly runtime: ContainerRuntime, private readonly lookup: EndpointLookup) {}

  async listen(address: string, port = 0): Promise<number> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(e as Error).message}\n`);
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, address, () => resolve());
    });
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }

  private authorized(req: IncomingMessage): boolean {
    const presented = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const expected = Buffer.from(this.secret);
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    if (!this.authorized(req)) return void res.writeHead(401, { 'Content-Type': 'text/plain' }).end('unauthorized\n');
    const url = new URL(req.url ?? '/', 'http://agent');
    const fail = (status: number, message: string) => void res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`${message}\n`);
    const pick = (namespace: string, pod: string, container: string | null, previous: boolean): RuntimeContainer | string => {
      const all = this.lookup.instances(namespace, pod);
      if (!all) return `pod ${namespace}/${pod} is not on this node`;
      const name = container || this.lookup.defaultContainer(namespace, pod);
      const mine = all.filter((c) => c.name === name).sort((a, b) => a.restartCount - b.restartCount);
      const chosen = previous ? mine.at(-2) : mine.at(-1);
      if (!chosen) return previous ? `previous terminated container "${name}" in pod "${pod}" not found` : `container "${name}" in pod "${pod}" is not running yet`;
      return chosen;
    };
    if (req.method === 'GET' && url.pathname === '/logs') {
      const q = url.searchParams;
      const chosen = pick(q.get('namespace') ?? 'default', q.get('pod') ?? '', q.get('container'), q.get('previous') === 'true');
      if (typeof chosen === 'string') return fail(400, chosen);
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      const since = q.get('sinceSeconds');
      if (since && this.runtime.name === 'process') return fail(400, 'the process runtime keeps no timestamps in its logs: use --tail instead of --since');
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      for await (const line of this.runtime.logs(chosen.id, {
        follow: q.get('follow') === 'true', signal: abort.signal,
        ...(q.get('tailLines') ? { tailLines: Number(q.get('tailLines')) } : {}),
        ...(since ? { sinceMs: Date.now() - Number(since) * 1000 } : {}),
      })) {
        if (!res.write(line)) await new Promise((r) => res.once('drain', r));
      }
      return void res.end();
    }
    if (req.method === 'POST' && url.pathname === '/exec') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { namespace?: string; pod?: string; container?: string; command?: string[] };
      if (!Array.isArray(body.command) || body.command.length === 0) return fail(400, 'command is required');
      const chosen = pick(body.namespace ?? 'default', body.pod ?? '', body.container ?? null, false);
      if (typeof chosen === 'string') return fail(400, chosen);
      if (chosen.state !== 'running') return fail(400, `container "${chosen.name}" is not running`);
      const result = await this.runtime.exec(chosen.id, body.command).catch((e: Error) => ({ stdout: '', stderr: `${e.message}\n`, exitCode: 126 }));
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(result));
    }
    fail(404, 'not found');
  }
}
