/**
 * exec, attach and port-forward: the client's WebSocket upgrade (kubectl's, berth's) is checked
 * here as any request is (bearer token, route, role: `create` on pods/exec, pods/attach,
 * pods/portforward, as Kubernetes' RBAC asks) and then passed through to the pod's agent
 * byte for byte, handshake included, as kube-apiserver passes it to the kubelet. The agent
 * speaks the protocols (agent/streams).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { BerthError, isBerthError } from '../api/errors.js';
import { authorize } from './authz.js';
import { requestUrl, statusObject, type ApiContext } from './http.js';
import { agentFor } from './podproxy.js';
import { STREAM_SUBRESOURCES, route } from './routes.js';

/** The handshake headers that go to the agent unchanged. */
const PASSED = ['upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol'];

function refuse(socket: Duplex, e: unknown): void {
  const err = isBerthError(e) ? e : new BerthError('Internal', `internal error: ${(e as Error).message}`);
  const body = JSON.stringify(statusObject(err));
  socket.end(
    `HTTP/1.1 ${err.httpStatus} ${err.code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function upgradeHandler(ctx: ApiContext) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined);
    passThrough(ctx, req, socket, head).catch((e) => {
      if (!isBerthError(e)) ctx.log.error({ err: e, path: req.url }, 'stream upgrade failed');
      refuse(socket, e);
    });
  };
}

async function passThrough(ctx: ApiContext, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const url = requestUrl(req.url);
  const auth = String(req.headers.authorization ?? '');
  if (!/^Bearer\s+\S/i.test(auth)) throw new BerthError('Unauthorized', 'Unauthorized: a bearer token is required');
  const principal = await ctx.tokens.authenticate(auth.replace(/^Bearer\s+/i, ''));
  const match = route('POST', url.pathname, url.searchParams);
  if (
    match?.type !== 'resource' ||
    match.info.kind !== 'Pod' ||
    !match.name ||
    !STREAM_SUBRESOURCES.includes(match.subresource ?? '')
  ) {
    throw new BerthError(
      'BadRequest',
      `no stream at ${url.pathname}: upgrades are for pods/NAME/exec, attach and portforward`,
    );
  }
  if (!/^websocket$/i.test(String(req.headers.upgrade ?? '')))
    throw new BerthError(
      'BadRequest',
      `Berth streams speak WebSocket, not ${JSON.stringify(String(req.headers.upgrade ?? ''))}`,
    );
  const decision = await authorize(principal, match, url.searchParams, ctx.store);
  if (!decision.allowed) throw new BerthError('Forbidden', decision.reason);
  const pod = await ctx.registry.get(match);
  const agent = await agentFor(ctx.store, pod);
  const query = new URLSearchParams(url.searchParams);
  query.set('namespace', pod.metadata.namespace ?? 'default');
  query.set('pod', pod.metadata.name);
  const headers: Record<string, string> = { connection: 'Upgrade', authorization: `Bearer ${agent.token}` };
  for (const h of PASSED) if (req.headers[h]) headers[h] = String(req.headers[h]);
  const base = new URL(agent.base);
  await new Promise<void>((resolve, reject) => {
    const upstream = httpRequest({
      host: base.hostname.replace(/^\[|\]$/g, ''),
      port: base.port,
      path: `/${match.subresource}?${query}`,
      method: 'GET',
      headers,
    });
    upstream.on('upgrade', (res, agentSocket, agentHead) => {
      const lines = [`HTTP/1.1 101 Switching Protocols`];
      for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (agentHead.length) socket.write(agentHead);
      if (head.length) agentSocket.write(head);
      agentSocket.pipe(socket);
      socket.pipe(agentSocket);
      agentSocket.on('error', () => socket.destroy());
      agentSocket.on('close', () => socket.destroy());
      socket.on('close', () => agentSocket.destroy());
      resolve();
    });
    upstream.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        reject(
          new BerthError(
            res.statusCode === 401 ? 'Unavailable' : 'BadRequest',
            Buffer.concat(chunks).toString('utf8').trim() || `the agent answered ${res.statusCode}`,
          ),
        ),
      );
    });
    upstream.on('error', (e) =>
      reject(new BerthError('Unavailable', `cannot reach the agent for pod "${pod.metadata.name}": ${e.message}`)),
    );
    upstream.end();
  });
}
