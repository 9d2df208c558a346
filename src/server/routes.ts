/**
 * Kubernetes REST paths → what the request is about:
 *   /api/v1/{plural}                          list/watch across namespaces, or a cluster-scoped collection
 *   /api/v1/{plural}/{name}[/{sub}]           a cluster-scoped object
 *   /api/v1/namespaces/{ns}/{plural}[/{name}[/{sub}]]
 *   /apis/{group}/{version}/…                 the same under a named group
 */
import { BerthError } from '../api/errors.js';
import { KINDS, apiVersionOf, type KindInfo } from '../api/kinds.js';

export const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] as const;
export type Verb = (typeof VERBS)[number];

export const SUBRESOURCES = [
  'status',
  'log',
  'exec',
  'attach',
  'portforward',
  'eviction',
  'diff',
  'manifests',
  'revisions',
  'heartbeat',
  'scale',
] as const;
export type Subresource = (typeof SUBRESOURCES)[number];
/** A pod's subresources that are WebSocket streams (server/upgrade), not requests. */
export const STREAM_SUBRESOURCES: readonly string[] = ['exec', 'attach', 'portforward'];
const POD_ACTIONS: readonly string[] = [...STREAM_SUBRESOURCES, 'eviction'];

export interface ResourceRequest {
  type: 'resource';
  info: KindInfo;
  verb: Verb;
  namespace?: string;
  name?: string;
  subresource?: Subresource;
  /** The item under a subresource: revisions/{sha}. */
  item?: string;
}

export interface DiscoveryRequest {
  type: 'discovery';
  /** '' for /api, 'apis' for /apis, else a group, or group/version. */
  path: string[];
}

export type RouteMatch = ResourceRequest | DiscoveryRequest;

const BY_GROUP_VERSION_PLURAL = new Map<string, KindInfo>(KINDS.map((k) => [`${apiVersionOf(k)}/${k.plural}`, k]));

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BerthError(
      'BadRequest',
      `the path segment ${JSON.stringify(segment.slice(0, 200))} is not valid percent-encoding`,
    );
  }
}

export function route(method: string, pathname: string, query: URLSearchParams): RouteMatch | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeSegment);
  let groupVersion: string;
  let rest: string[];
  if (parts[0] === 'api') {
    if (parts.length === 1) return { type: 'discovery', path: ['api'] };
    if (parts[1] !== 'v1') return undefined;
    if (parts.length === 2) return { type: 'discovery', path: ['api', 'v1'] };
    groupVersion = 'v1';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    if (parts.length <= 3) return { type: 'discovery', path: parts };
    groupVersion = `${parts[1]}/${parts[2]}`;
    rest = parts.slice(3);
  } else {
    return undefined;
  }

  let namespace: string | undefined;
  // namespaces/{ns}/{plural}… is a namespaced resource; namespaces/{name}[/status] is a Namespace.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(SUBRESOURCES as readonly string[]).includes(rest[2]!)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, item, ...extra] = rest;
  if (!plural || extra.length > 0) return undefined;
  // Only an Application's revisions/{sha} has an item below its subresource.
  if (item !== undefined && !(subresource === 'revisions' && plural === 'applications')) return undefined;
  const info = BY_GROUP_VERSION_PLURAL.get(`${groupVersion}/${plural}`);
  if (!info) return undefined;
  if (namespace !== undefined && !info.namespaced) return undefined;
  if (subresource !== undefined && !(SUBRESOURCES as readonly string[]).includes(subresource)) return undefined;

  // exec, attach, port-forward and eviction are a pod's alone, and only POSTed (or, for the
  // streams, upgraded from a GET): never a way to update or patch the object itself.
  if (POD_ACTIONS.includes(subresource ?? '')) {
    if (info.kind !== 'Pod') return undefined;
    if (method !== 'POST' && method !== 'GET')
      throw new BerthError('MethodNotAllowed', `method ${method} is not allowed on ${pathname}`);
  }
  const verb =
    POD_ACTIONS.includes(subresource ?? '') && method === 'POST' ? 'create' : verbOf(method, name !== undefined, query);
  if (!verb) throw new BerthError('MethodNotAllowed', `method ${method} is not allowed on ${pathname}`);
  return {
    type: 'resource',
    info,
    verb,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource: subresource as Subresource } : {}),
    ...(item !== undefined ? { item } : {}),
  };
}

function verbOf(method: string, named: boolean, query: URLSearchParams): Verb | undefined {
  const watch = ['1', 'true'].includes(query.get('watch') ?? '');
  switch (method) {
    case 'GET':
      return named ? 'get' : watch ? 'watch' : 'list';
    case 'POST':
      return named ? undefined : 'create';
    case 'PUT':
      return named ? 'update' : undefined;
    case 'PATCH':
      return named ? 'patch' : undefined;
    case 'DELETE':
      return named ? 'delete' : undefined;
    default:
      return undefined;
  }
}

/** The object a subresource request is about: the same request without its subresource. */
export function parentRequest(r: ResourceRequest): ResourceRequest {
  const { subresource: _, item: _item, ...parent } = r;
  return parent;
}
