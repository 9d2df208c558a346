/**
 * What each role may do. admin: everything. readonly: get/list/watch (Secret data is redacted on
 * the way out). ci: read Applications and their status. node (a token bound to one node): its own
 * Node and its lease (heartbeat), the pods bound to it (their status, and deleting them once
 * stopped), the ConfigMaps, Secrets and claims those pods reference, and Events; PersistentVolumes
 * (the finalizer of its own local-path ones); Services, Endpoints and
 * Ingresses to read, with the TLS Secrets Ingresses name (its proxy and router); an unbound node token (a
 * join token) may only register a Node.
 */
import type { KubeObject, Store } from '../store/types.js';
import { claimNamesOf } from '../api/storage.js';
import type { ResourceRequest } from './routes.js';
import type { Principal } from './tokens.js';

const READ = new Set(['get', 'list', 'watch']);

export type Decision = { allowed: true } | { allowed: false; reason: string };

const allow: Decision = { allowed: true };
const deny = (reason: string): Decision => ({ allowed: false, reason });

export async function authorize(
  p: Principal,
  req: ResourceRequest,
  query: URLSearchParams,
  store: Store,
): Promise<Decision> {
  const what = `${req.verb} ${req.info.plural}${req.subresource ? `/${req.subresource}` : ''}`;
  switch (p.role) {
    case 'admin':
      return allow;
    case 'readonly':
      return READ.has(req.verb) ? allow : deny(`role readonly may not ${what}`);
    case 'ci':
      return READ.has(req.verb) && req.info.kind === 'Application'
        ? allow
        : deny(`role ci may only read Applications, not ${what}`);
    case 'node':
      return authorizeNode(p, req, query, store, what);
  }
}

async function authorizeNode(
  p: Principal,
  req: ResourceRequest,
  query: URLSearchParams,
  store: Store,
  what: string,
): Promise<Decision> {
  const kind = req.info.kind;
  if (!p.node) {
    return kind === 'Node' && req.verb === 'create'
      ? allow
      : deny(`a join token may only register a Node, not ${what}`);
  }
  const self = `node ${p.node}`;
  switch (kind) {
    case 'Node':
      if (req.verb === 'create') return allow; // the body's name is checked on write (nodeMayWrite)
      if (req.name === p.node && ['get', 'update', 'patch'].includes(req.verb)) return allow;
      return deny(`${self} may only read and update its own Node, not ${what} ${req.name ?? ''}`.trim());
    case 'Pod': {
      if (req.verb === 'list' || req.verb === 'watch') {
        return query.get('fieldSelector')?.split(',').includes(`spec.nodeName=${p.node}`)
          ? allow
          : deny(`${self} may only list pods with fieldSelector spec.nodeName=${p.node}`);
      }
      if (!req.name || !req.namespace) return deny(`${self} may not ${what}`);
      const pod = await getOrUndefined(store, { group: '', kind: 'Pod', namespace: req.namespace, name: req.name });
      if (!pod || (pod.spec as { nodeName?: string } | undefined)?.nodeName !== p.node)
        return deny(`pod ${req.namespace}/${req.name} is not bound to ${self}`);
      if (req.verb === 'get') return allow;
      if (req.subresource === 'status' && ['update', 'patch'].includes(req.verb)) return allow;
      // The agent finishes a pod's termination (after stopping it) by deleting the object, as the kubelet does.
      if (req.verb === 'delete' && !req.subresource) return allow;
      return deny(`${self} may only read pods bound to it, write their status and remove them, not ${what}`);
    }
    case 'ConfigMap':
    case 'Secret':
    case 'PersistentVolumeClaim': {
      if (req.verb !== 'get' || !req.name || !req.namespace)
        return deny(`${self} may only get ${kind}s its pods use, not ${what}`);
      if (kind === 'Secret' && (await referencedByIngressTls(store, req.namespace, req.name))) return allow;
      return (await referencedByNodePods(store, p.node, kind, req.namespace, req.name))
        ? allow
        : deny(`no pod on ${self} references ${kind} ${req.namespace}/${req.name}`);
    }
    case 'PersistentVolume':
      // Its local-path volumes' clean-up (agent/local-volumes): read all, update only its own,
      // and then only their finalizers (NodeRestriction checks the write).
      return ['get', 'list', 'watch', 'update'].includes(req.verb) && !req.subresource
        ? allow
        : deny(`${self} may only read PersistentVolumes and finish deleting its own local ones, not ${what}`);
    case 'Service':
    case 'Endpoints':
    case 'Ingress':
      // What the node's service proxy and ingress router route by (kube-proxy's reads).
      return ['get', 'list', 'watch'].includes(req.verb) ? allow : deny(`${self} may only read ${kind}s, not ${what}`);
    case 'Event':
      // get too: recording the same Event again counts it up in place.
      return ['create', 'patch', 'update', 'get'].includes(req.verb)
        ? allow
        : deny(`${self} may only record Events, not ${what}`);
    default:
      return deny(`${self} may not ${what}`);
  }
}

/** For node tokens, the object being created must be the node itself. */
export function nodeMayWrite(p: Principal, obj: KubeObject): boolean {
  return p.role !== 'node' || obj.kind !== 'Node' || !p.node || obj.metadata.name === p.node;
}

async function getOrUndefined(store: Store, ref: Parameters<Store['get']>[0]): Promise<KubeObject | undefined> {
  try {
    return await store.get(ref);
  } catch {
    return undefined;
  }
}

/** The ingress router on a node serves the certificates Ingresses name, and nothing else of Secrets. */
async function referencedByIngressTls(store: Store, namespace: string, name: string): Promise<boolean> {
  const { items } = await store.list({ group: 'networking.k8s.io', kind: 'Ingress', namespace });
  return items.some((i) =>
    ((i.spec as { tls?: { secretName?: string }[] } | undefined)?.tls ?? []).some((t) => t.secretName === name),
  );
}

async function referencedByNodePods(
  store: Store,
  node: string,
  kind: 'ConfigMap' | 'Secret' | 'PersistentVolumeClaim',
  namespace: string,
  name: string,
): Promise<boolean> {
  const { items } = await store.list({ group: '', kind: 'Pod', namespace, fieldSelector: `spec.nodeName=${node}` });
  return items.some((pod) => podReferences(pod, kind).has(name));
}

/** The names of ConfigMaps, Secrets or claims a pod uses: volumes, env, envFrom, projected sources. */
export function podReferences(pod: KubeObject, kind: 'ConfigMap' | 'Secret' | 'PersistentVolumeClaim'): Set<string> {
  const out = new Set<string>();
  const spec = (pod.spec ?? {}) as Record<string, any>;
  if (kind === 'PersistentVolumeClaim') return new Set(claimNamesOf(spec));
  const refKey = kind === 'ConfigMap' ? 'configMapKeyRef' : 'secretKeyRef';
  const fromKey = kind === 'ConfigMap' ? 'configMapRef' : 'secretRef';
  for (const v of spec.volumes ?? []) {
    if (kind === 'ConfigMap' && v?.configMap?.name) out.add(v.configMap.name);
    if (kind === 'Secret' && v?.secret?.secretName) out.add(v.secret.secretName);
    for (const src of v?.projected?.sources ?? []) {
      const s = kind === 'ConfigMap' ? src?.configMap : src?.secret;
      if (s?.name) out.add(s.name);
    }
  }
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const e of c?.env ?? []) if (e?.valueFrom?.[refKey]?.name) out.add(e.valueFrom[refKey].name);
    for (const e of c?.envFrom ?? []) if (e?.[fromKey]?.name) out.add(e[fromKey].name);
  }
  if (kind === 'Secret') for (const s of spec.imagePullSecrets ?? []) if (s?.name) out.add(s.name);
  return out;
}
