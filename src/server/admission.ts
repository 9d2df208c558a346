/**
 * Admission: checks on a write after it is validated and defaulted, before it is stored, that
 * need to know who writes. One chain per request, built from the principal.
 *
 * NodeRestriction (Kubernetes' admission plugin of that name): a node token may register its
 * Node, then change only its status, its lease and labels outside the node-restriction and
 * node-role prefixes — not its spec (a cordon, taints), not its other metadata; and it may write
 * Events only about itself and the pods bound to it.
 */
import { isDeepStrictEqual } from 'node:util';
import { BerthError } from '../api/errors.js';
import { getIfExists } from '../store/lookup.js';
import type { KubeObject, Store } from '../store/types.js';
import type { Admission, AdmissionRequest } from './registry.js';
import type { Principal } from './tokens.js';

/** Label prefixes only an admin may set on a Node (as Kubernetes' NodeRestriction). */
export const NODE_RESTRICTED_LABEL_PREFIXES = ['node-restriction.kubernetes.io/', 'node-role.kubernetes.io/'] as const;

export const isRestrictedNodeLabel = (key: string): boolean => NODE_RESTRICTED_LABEL_PREFIXES.some((p) => key.startsWith(p) || key.includes(`.${p}`));

export function admissionFor(p: Principal, store: Store, more: Admission[] = []): Admission {
  return async (write) => {
    if (p.role === 'node') await nodeRestriction(p, store, write);
    for (const admit of more) await admit(write);
  };
}

async function nodeRestriction(p: Principal, store: Store, w: AdmissionRequest): Promise<void> {
  const self = `node "${p.node ?? '(joining)'}"`;
  if (w.info.kind === 'Node') {
    const changed = changedRestrictedLabels(w.current?.metadata.labels, w.object.metadata.labels);
    if (changed.length) throw new BerthError('Forbidden', `${self} is not allowed to modify labels: ${changed.join(', ')}`);
    if (w.verb === 'create' || w.subresource === 'status' || !w.current) return;
    if (!isDeepStrictEqual(w.object.spec ?? {}, w.current.spec ?? {})) throw new BerthError('Forbidden', `${self} is not allowed to modify its spec (unschedulable, taints): only an admin may cordon, uncordon or taint a node`);
    const meta = (o: KubeObject) => {
      const { labels: _l, resourceVersion: _r, generation: _g, managedFields: _m, ...rest } = o.metadata as KubeObject['metadata'] & { managedFields?: unknown };
      return rest;
    };
    if (!isDeepStrictEqual(meta(w.object), meta(w.current))) throw new BerthError('Forbidden', `${self} may change only its status and its labels, not other metadata`);
    return;
  }
  if (w.info.kind === 'Event') {
    const about = (w.object as { involvedObject?: { kind?: string; namespace?: string; name?: string } }).involvedObject ?? {};
    if (about.kind === 'Node' && about.name === p.node) return;
    if (about.kind === 'Pod' && about.name) {
      const pod = await getIfExists(store, { group: '', kind: 'Pod', namespace: about.namespace ?? w.object.metadata.namespace ?? 'default', name: about.name });
      if ((pod?.spec as { nodeName?: string } | undefined)?.nodeName === p.node) return;
    }
    throw new BerthError('Forbidden', `${self} may record Events only about itself and the pods bound to it, not about ${about.kind ?? 'an object'} ${[about.namespace, about.name].filter(Boolean).join('/')}`);
  }
}

function changedRestrictedLabels(before: Record<string, string | undefined> | undefined, after: Record<string, string | undefined> | undefined): string[] {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  return [...keys].filter((k) => isRestrictedNodeLabel(k) && before?.[k] !== after?.[k]).sort();
}
