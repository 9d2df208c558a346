/**
 * `pods/NAME/log` (and, through server/upgrade, exec, attach and port-forward): the server finds
 * the pod's node and its agent's endpoint (recorded by the agent's heartbeat, with the secret the
 * agent wants) and passes the request on, streaming logs back as they come.
 */
import type { ServerResponse } from 'node:http';
import { BerthError } from '../api/errors.js';
import type { KubeObject, Store } from '../store/types.js';
import { agentEndpoint } from './nodes.js';

export async function agentFor(store: Store, pod: KubeObject): Promise<{ base: string; token: string }> {
  const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
  if (!nodeName) throw new BerthError('BadRequest', `pod "${pod.metadata.name}" is not scheduled to a node yet`);
  const agent = await agentOfNode(store, await store.get({ group: '', kind: 'Node', namespace: '', name: nodeName }));
  if (!agent)
    throw new BerthError(
      'BadRequest',
      `node "${nodeName}" has no agent endpoint (a simulated node, or an agent that has not reported one)`,
    );
  return agent;
}

/** Where a node's agent answers (its InternalIP, the port its heartbeat reported), if it has one. */
export async function agentOfNode(
  store: Store,
  node: KubeObject,
): Promise<{ base: string; token: string } | undefined> {
  const address = (
    (node.status as { addresses?: { type: string; address: string }[] } | undefined)?.addresses ?? []
  ).find((a) => a.type === 'InternalIP')?.address;
  const endpoint = await agentEndpoint(store, node.metadata.name);
  if (!address || !endpoint) return undefined;
  return { base: `http://${address.includes(':') ? `[${address}]` : address}:${endpoint.port}`, token: endpoint.token };
}

async function failed(res: Response): Promise<never> {
  const text = (await res.text()).trim();
  throw new BerthError(res.status === 401 ? 'Unavailable' : 'BadRequest', text || `agent answered ${res.status}`);
}

export async function proxyLogs(
  store: Store,
  pod: KubeObject,
  query: URLSearchParams,
  res: ServerResponse,
): Promise<void> {
  const agent = await agentFor(store, pod);
  const q = new URLSearchParams({ namespace: pod.metadata.namespace ?? 'default', pod: pod.metadata.name });
  for (const k of ['container', 'follow', 'previous', 'tailLines', 'sinceSeconds', 'timestamps'])
    if (query.get(k)) q.set(k, query.get(k)!);
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  let upstream: Response;
  try {
    upstream = await fetch(`${agent.base}/logs?${q}`, {
      headers: { authorization: `Bearer ${agent.token}` },
      signal: abort.signal,
    });
  } catch (e) {
    throw new BerthError(
      'Unavailable',
      `cannot reach the agent of node for pod "${pod.metadata.name}": ${(e as Error).message}`,
    );
  }
  if (!upstream.ok) await failed(upstream);
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  try {
    for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    }
  } catch {
    // the client or the agent went away
  }
  res.end();
}
