/**
 * Admission: checks on a write after it is validated and defaulted, before it is stored, that
 * need more than the object: who writes it, its namespace, the rest of the cluster. One chain per
 * request, built from the principal.
 *
 * NodeRestriction (Kubernetes' admission plugin of that name): a node token may register its
 * Node, then change only its status, its lease and labels outside the node-restriction and
 * node-role prefixes — not its spec (a cordon, taints), not its other metadata; and it may write
 * Events only about itself and the pods bound to it.
 */
import { isDeepStrictEqual } from 'node:util';
import { BerthError } from '../api/errors.js';
import { LOCAL_PATH_CLEANUP, volumeNodeOf } from '../api/storage.js';
import { getIfExists } from '../store/lookup.js';
import type { QuotaAdmission } from '../runtime/quota.js';
import type { KubeObject, Store } from '../store/types.js';
import type { Admission, AdmissionRequest } from './registry.js';
import type { Principal } from './tokens.js';
import {
  DATA_DIR_ANNOTATION,
  checkPodSecurity,
  describeProtectedPath,
  enforcedLevel,
  podSecurityMessage,
  podTemplateOf,
  protectedHostPaths,
  type PodSecurityOptions,
} from '../api/pod-security.js';

/** Label prefixes only an admin may set on a Node (as Kubernetes' NodeRestriction). */
export const NODE_RESTRICTED_LABEL_PREFIXES = ['node-restriction.kubernetes.io/', 'node-role.kubernetes.io/'] as const;

export const isRestrictedNodeLabel = (key: string): boolean =>
  NODE_RESTRICTED_LABEL_PREFIXES.some((p) => key.startsWith(p) || key.includes(`.${p}`));

export function admissionFor(
  p: Principal,
  store: Store,
  podSecurity: PodSecurityOptions,
  quotas: QuotaAdmission,
): Admission {
  return async (write) => {
    if (p.role === 'node') await nodeRestriction(p, store, write);
    await admitPodSecurity(store, podSecurity, write);
    // Last: the quota charge, which the registry commits with the object.
    return write.verb === 'create' && write.info.namespaced ? quotas.admit([write.object]) : [];
  };
}

/**
 * Pod Security Admission: a Pod, and the pod template of a workload (where Kubernetes only warns,
 * Berth refuses, as its syncs do), checked against the level its namespace enforces; and no
 * hostPath reaching a data directory, whatever the level. A status write is not checked.
 */
async function admitPodSecurity(store: Store, o: PodSecurityOptions, w: AdmissionRequest): Promise<void> {
  if (w.subresource) return;
  const template = podTemplateOf(w.object);
  if (!template) return;
  // An update that leaves the pod template as it was (a scale, a label) is not checked again.
  if (w.current && isDeepStrictEqual(podTemplateOf(w.current)?.spec, template.spec)) return;
  const what = `${w.info.plural} "${w.object.metadata.name}" is forbidden`;
  const reached = protectedHostPaths(template.spec, await o.protectedDirs());
  if (reached.length)
    throw new BerthError('Forbidden', `${what}: ${reached.map(describeProtectedPath).join('; ')}: no pod may mount it`);
  const ns = await getIfExists(store, {
    group: '',
    kind: 'Namespace',
    namespace: '',
    name: w.object.metadata.namespace ?? 'default',
  });
  const level = enforcedLevel(ns?.metadata.labels, o.defaultLevel);
  const failures = checkPodSecurity(level, template.meta, template.spec);
  if (failures.length) throw new BerthError('Forbidden', `${what}: ${podSecurityMessage(level, failures)}`);
}

async function nodeRestriction(p: Principal, store: Store, w: AdmissionRequest): Promise<void> {
  const self = `node "${p.node ?? '(joining)'}"`;
  if (w.info.kind === 'Node') {
    const changed = changedRestrictedLabels(w.current?.metadata.labels, w.object.metadata.labels);
    if (changed.length)
      throw new BerthError('Forbidden', `${self} is not allowed to modify labels: ${changed.join(', ')}`);
    if (w.verb === 'create' || w.subresource === 'status' || !w.current) return;
    if (!isDeepStrictEqual(w.object.spec ?? {}, w.current.spec ?? {}))
      throw new BerthError(
        'Forbidden',
        `${self} is not allowed to modify its spec (unschedulable, taints): only an admin may cordon, uncordon or taint a node`,
      );
    const meta = (o: KubeObject) => {
      const {
        labels: _l,
        resourceVersion: _r,
        generation: _g,
        managedFields: _m,
        annotations,
        ...rest
      } = o.metadata as KubeObject['metadata'] & { managedFields?: unknown };
      // The node's own announcement of its data directory is its to update.
      const { [DATA_DIR_ANNOTATION]: _d, ...others } = annotations ?? {};
      return { ...rest, annotations: others };
    };
    if (!isDeepStrictEqual(meta(w.object), meta(w.current)))
      throw new BerthError('Forbidden', `${self} may change only its status and its labels, not other metadata`);
    return;
  }
  if (w.info.kind === 'PersistentVolume') {
    // Its agent finishes deleting a local-path volume of its own: it takes its finalizer off, nothing else.
    const { finalizers: before = [], ...rest } = metadataOf(w.current);
    const { finalizers: after = [], ...restAfter } = metadataOf(w.object);
    const takesOff = before.filter((f) => !after.includes(f));
    const ok =
      w.verb === 'update' &&
      w.current &&
      volumeNodeOf(w.current as never) === p.node &&
      isDeepStrictEqual(takesOff, [LOCAL_PATH_CLEANUP]) &&
      after.every((f) => before.includes(f)) &&
      isDeepStrictEqual(rest, restAfter) &&
      isDeepStrictEqual(w.object.spec, w.current.spec);
    if (!ok)
      throw new BerthError(
        'Forbidden',
        `${self} may only take the ${LOCAL_PATH_CLEANUP} finalizer off a local-path volume on itself, not change PersistentVolume ${w.object.metadata.name} otherwise`,
      );
    return;
  }
  if (w.info.kind === 'Event') {
    const about =
      (w.object as { involvedObject?: { kind?: string; namespace?: string; name?: string } }).involvedObject ?? {};
    if (about.kind === 'Node' && about.name === p.node) return;
    if (about.kind === 'Pod' && about.name) {
      const pod = await getIfExists(store, {
        group: '',
        kind: 'Pod',
        namespace: about.namespace ?? w.object.metadata.namespace ?? 'default',
        name: about.name,
      });
      if ((pod?.spec as { nodeName?: string } | undefined)?.nodeName === p.node) return;
    }
    throw new BerthError(
      'Forbidden',
      `${self} may record Events only about itself and the pods bound to it, not about ${about.kind ?? 'an object'} ${[about.namespace, about.name].filter(Boolean).join('/')}`,
    );
  }
}

/** Metadata as a writer sets it (not the server's bookkeeping). */
function metadataOf(o: KubeObject | undefined): Omit<KubeObject['metadata'], 'finalizers'> & { finalizers?: string[] } {
  const {
    resourceVersion: _r,
    managedFields: _m,
    generation: _g,
    ...rest
  } = (o?.metadata ?? {}) as KubeObject['metadata'] & {
    managedFields?: unknown;
  };
  return rest as never;
}

function changedRestrictedLabels(
  before: Record<string, string | undefined> | undefined,
  after: Record<string, string | undefined> | undefined,
): string[] {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  return [...keys].filter((k) => isRestrictedNodeLabel(k) && before?.[k] !== after?.[k]).sort();
}
