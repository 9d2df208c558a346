/**
 * The self-reviews kubectl asks (`kubectl auth can-i`, `kubectl auth whoami`), answered from
 * Berth's own roles: SelfSubjectAccessReview (authorization.k8s.io/v1) runs the request it
 * describes through the same authorizer as a real request; SelfSubjectReview
 * (authentication.k8s.io/v1) says who the token is.
 */
import { BerthError } from '../api/errors.js';
import { KINDS } from '../api/kinds.js';
import type { Store } from '../store/types.js';
import { authorize } from './authz.js';
import { SUBRESOURCES, VERBS, type ResourceRequest, type Subresource, type Verb } from './routes.js';
import type { Principal } from './tokens.js';

export const ACCESS_REVIEW_PATH = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';
export const SUBJECT_REVIEW_PATH = '/apis/authentication.k8s.io/v1/selfsubjectreviews';

/** The groups these reviews live in, for discovery. */
export const REVIEW_GROUPS = [
  { group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview' },
  { group: 'authentication.k8s.io', resource: 'selfsubjectreviews', kind: 'SelfSubjectReview' },
] as const;

interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

export async function accessReview(p: Principal, body: unknown, store: Store): Promise<unknown> {
  const spec = (
    body as
      | { spec?: { resourceAttributes?: ResourceAttributes; nonResourceAttributes?: { path?: string; verb?: string } } }
      | undefined
  )?.spec;
  if (!spec?.resourceAttributes && !spec?.nonResourceAttributes)
    throw new BerthError('Invalid', 'SelfSubjectAccessReview.spec needs resourceAttributes or nonResourceAttributes');
  const answer = (allowed: boolean, reason: string) => ({
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    metadata: {},
    spec,
    status: { allowed, reason },
  });
  if (spec.nonResourceAttributes) {
    const read = ['get', 'head', 'list'].includes(spec.nonResourceAttributes.verb ?? 'get');
    const allowed = p.role === 'admin' || (p.role === 'readonly' && read);
    return answer(
      allowed,
      allowed
        ? `role ${p.role} may`
        : `role ${p.role} may not ${spec.nonResourceAttributes.verb} ${spec.nonResourceAttributes.path}`,
    );
  }
  const a = spec.resourceAttributes!;
  if (p.role === 'admin') return answer(true, 'role admin may do anything');
  const info = KINDS.find((k) => k.plural === a.resource && k.group === (a.group ?? ''));
  const verb = a.verb as Verb;
  if (!info || !(VERBS as readonly string[]).includes(verb))
    return answer(false, `no such resource or verb here: ${a.verb} ${a.resource}${a.group ? `.${a.group}` : ''}`);
  if (a.subresource && !(SUBRESOURCES as readonly string[]).includes(a.subresource))
    return answer(false, `no subresource ${a.subresource}`);
  const request: ResourceRequest = {
    type: 'resource',
    info,
    verb,
    ...(info.namespaced && a.namespace ? { namespace: a.namespace } : {}),
    ...(a.name ? { name: a.name } : {}),
    ...(a.subresource ? { subresource: a.subresource as Subresource } : {}),
  };
  const decision = await authorize(p, request, new URLSearchParams(), store);
  return answer(decision.allowed, decision.allowed ? `role ${p.role} may` : decision.reason);
}

export function subjectReview(p: Principal): unknown {
  return {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'SelfSubjectReview',
    metadata: {},
    status: {
      userInfo: {
        username: p.node ? `system:node:${p.node}` : `berth:token:${p.tokenId}`,
        uid: p.tokenId,
        groups: [`berth:${p.role}`, 'system:authenticated'],
      },
    },
  };
}
