/**
 * Node registration and heartbeats. An agent registers its Node with a join token (an unbound
 * node token) and gets back a token bound to that node (header X-Berth-Node-Token), with which it
 * renews the node's lease (`PUT /api/v1/nodes/NAME/heartbeat`) and reports its pods. A second
 * agent claiming the name of a node whose lease is live is refused (409); a node whose lease has
 * expired may be taken over by a new registration, which revokes the tokens the old agent held.
 * Leases live outside the object log (see the store), so heartbeats do not fill it.
 */
import { CONDITION } from '../api/conditions.js';
import { randomUUID } from 'node:crypto';
import { BerthError, isBerthError } from '../api/errors.js';
import { prepareCreate, timestamp } from '../api/lifecycle.js';
import { getIfExists } from '../store/lookup.js';
import type { KubeObject, LeaseRecord, Store } from '../store/types.js';
import { DATA_DIR_ANNOTATION } from '../api/pod-security.js';
import { isRestrictedNodeLabel } from './admission.js';
import type { Registry, WriteOptions } from './registry.js';
import type { ResourceRequest } from './routes.js';
import type { Principal, TokenBook } from './tokens.js';

export const NODE_TOKEN_HEADER = 'x-berth-node-token';
export const DEFAULT_LEASE_SECONDS = 40;
export const nodeLeaseName = (node: string): string => `node/${node}`;

export interface NodeRegistration {
  object: KubeObject;
  /** The node-bound token, when the registration came with a join token. */
  token?: string;
  warnings: string[];
}

export async function registerNode(
  deps: { store: Store; registry: Registry; tokens: TokenBook; now?: () => number },
  p: Principal,
  r: ResourceRequest,
  body: unknown,
  options: WriteOptions,
): Promise<NodeRegistration> {
  const name = (body as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
  if (typeof name !== 'string' || !name) throw new BerthError('Invalid', 'Node needs metadata.name');
  const now = deps.now?.() ?? Date.now();
  const lease = await deps.store.leases.get(nodeLeaseName(name));
  const ref = { ...r, name };
  let existing: KubeObject | undefined;
  try {
    existing = await deps.registry.get(ref);
  } catch (e) {
    if (!isBerthError(e, 'NotFound')) throw e;
  }
  // The node's own agent (its bound token) may register again; another agent only once the node
  // was found lost (NotReady: the lifecycle controller saw its lease lapse) or its lease expired.
  const ready = (
    (existing?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []
  ).find((c) => c.type === CONDITION.Ready);
  const live = lease !== undefined && lease.renewTime + lease.ttlMs > now && ready?.status !== 'Unknown';
  if (existing && live && lease.holder !== p.tokenId) {
    throw new BerthError(
      'Conflict',
      `node "${name}" is already registered by a live agent (lease renewed ${Math.round((now - lease.renewTime) / 1000)}s ago)`,
    );
  }
  // Taking over a lost node: the old agent's lease goes with it.
  if (lease && lease.holder !== p.tokenId) await deps.store.leases.release(nodeLeaseName(name), lease.holder);
  // The lease first, then the Node: the lifecycle controller never sees this node without one.
  let issued: { token: string; record: { id: string } } | undefined;
  if (!p.node) {
    // A join token: this node gets its own credential, and the agent that held the name before loses its.
    for (const t of await deps.tokens.list())
      if (t.role === 'node' && t.node === name) await deps.tokens.revoke(t.id).catch(() => {});
    issued = await deps.tokens.create({ role: 'node', node: name, description: `node ${name}` });
  }
  await deps.store.leases.acquire(
    nodeLeaseName(name),
    issued?.record.id ?? p.tokenId,
    DEFAULT_LEASE_SECONDS * 1000,
    now,
  );
  let written;
  try {
    written = await writeNode(deps, ref, r, existing, body, options);
  } catch (e) {
    // An invalid Node: nothing of this registration stays.
    if (issued) await deps.tokens.revoke(issued.record.id).catch(() => {});
    await deps.store.leases.release(nodeLeaseName(name), issued?.record.id ?? p.tokenId);
    throw e;
  }
  return { object: written.object, ...(issued ? { token: issued.token } : {}), warnings: written.warnings };
}

/**
 * A first registration creates the Node from the agent's view. Registering again keeps what others
 * decided about the node — its spec (a cordon, taints) and the labels only an admin may set — and
 * takes the rest (labels, capacity) from the agent.
 */
async function writeNode(
  deps: { registry: Registry },
  ref: ResourceRequest,
  r: ResourceRequest,
  existing: KubeObject | undefined,
  body: unknown,
  options: WriteOptions,
) {
  if (!existing) return deps.registry.create(r, body, options);
  const { metadata, spec: _agentSpec, ...rest } = body as KubeObject;
  const restricted = (labels: Record<string, string | undefined> | undefined, keep: boolean) =>
    Object.fromEntries(Object.entries(labels ?? {}).filter(([k]) => isRestrictedNodeLabel(k) === keep));
  const labels = { ...restricted(metadata.labels, false), ...restricted(existing.metadata.labels, true) };
  const dataDir = metadata.annotations?.[DATA_DIR_ANNOTATION];
  const annotations = { ...existing.metadata.annotations, ...(dataDir ? { [DATA_DIR_ANNOTATION]: dataDir } : {}) };
  return deps.registry.update(
    ref,
    {
      ...rest,
      spec: existing.spec ?? {},
      metadata: {
        ...existing.metadata,
        labels,
        ...(Object.keys(annotations).length ? { annotations } : {}),
        resourceVersion: existing.metadata.resourceVersion,
      },
    },
    options,
  );
}

/** A Lease object (coordination.k8s.io/v1's shape) for a lease record. */
export function leaseObject(name: string, lease: LeaseRecord, namespace = NODE_LEASE_NAMESPACE): KubeObject {
  const at = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      uid: `lease-${namespace}-${name}`,
      resourceVersion: String(lease.renewTime),
      creationTimestamp: timestamp(new Date(lease.acquireTime)),
    },
    spec: {
      holderIdentity: lease.holder,
      leaseDurationSeconds: Math.round(lease.ttlMs / 1000),
      acquireTime: at(lease.acquireTime),
      renewTime: at(lease.renewTime),
    },
  };
}

/** Where an agent's endpoint is and the secret it wants (kept in a Secret in berth-system). */
export interface AgentEndpointRecord {
  port: number;
  token: string;
}

const endpointSecret = (node: string) => ({
  group: '',
  kind: 'Secret',
  namespace: 'berth-system',
  name: `agent-endpoint-${node}`,
});

export async function agentEndpoint(store: Store, node: string): Promise<AgentEndpointRecord | undefined> {
  const s = await getIfExists(store, endpointSecret(node));
  if (!s) return undefined;
  const data = (s as { data?: Record<string, string> }).data ?? {};
  return {
    port: Number(Buffer.from(data.port ?? '', 'base64').toString()),
    token: Buffer.from(data.token ?? '', 'base64').toString(),
  };
}

async function saveEndpoint(store: Store, node: string, e: AgentEndpointRecord): Promise<void> {
  const current = await agentEndpoint(store, node);
  if (current?.port === e.port && current.token === e.token) return;
  const ref = endpointSecret(node);
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'berth.dev/agent-endpoint',
    metadata: { name: ref.name, namespace: ref.namespace },
    data: { port: Buffer.from(String(e.port)).toString('base64'), token: Buffer.from(e.token).toString('base64') },
  };
  if (current) {
    const old = await store.get(ref);
    await store.update({ ...secret, metadata: { ...old.metadata } });
  } else await store.create(prepareCreate(secret as KubeObject, new Date(), randomUUID()));
}

/**
 * PUT nodes/NAME/heartbeat: renews the node's lease (`spec.leaseDurationSeconds` sets its length)
 * and records where the agent's endpoint is (`spec.endpoint {port, token}`), for logs and exec.
 */
export async function heartbeat(
  store: Store,
  p: Principal,
  node: string,
  body: unknown,
  now = Date.now(),
): Promise<KubeObject> {
  await store.get({ group: '', kind: 'Node', namespace: '', name: node });
  const spec = (
    body as { spec?: { leaseDurationSeconds?: unknown; endpoint?: { port?: unknown; token?: unknown } } } | undefined
  )?.spec;
  const seconds = Number(spec?.leaseDurationSeconds ?? DEFAULT_LEASE_SECONDS);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600)
    throw new BerthError('BadRequest', 'spec.leaseDurationSeconds must be between 1 and 3600');
  const lease = await store.leases.acquire(nodeLeaseName(node), p.tokenId, seconds * 1000, now);
  if (spec?.endpoint) {
    const { port, token } = spec.endpoint;
    if (
      !Number.isInteger(port) ||
      (port as number) <= 0 ||
      (port as number) > 65535 ||
      typeof token !== 'string' ||
      !token
    )
      throw new BerthError('BadRequest', 'spec.endpoint needs a port and a token');
    await saveEndpoint(store, node, { port: port as number, token });
  }
  return leaseObject(node, lease);
}

/** Where node leases show, as on Kubernetes (`kubectl describe node` reads its Lease there). */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** Every node's lease as a Lease object (the kube-node-lease namespace's list). */
export async function listLeases(store: Store): Promise<KubeObject[]> {
  const { items } = await store.list({ group: '', kind: 'Node' });
  const leases = await Promise.all(
    items.map(async (n) => {
      const lease = await store.leases.get(nodeLeaseName(n.metadata.name));
      return lease && leaseObject(n.metadata.name, lease);
    }),
  );
  return leases.filter((l): l is KubeObject => Boolean(l));
}

export async function getLease(store: Store, node: string): Promise<KubeObject> {
  const lease = await store.leases.get(nodeLeaseName(node));
  if (!lease) throw new BerthError('NotFound', `node "${node}" has no lease`);
  return leaseObject(node, lease);
}
