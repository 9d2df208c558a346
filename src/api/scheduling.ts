/**
 * Whether a pod may run on a node, as Kubernetes' scheduler plugins decide it: nodeSelector,
 * required node affinity (terms ORed, requirements ANDed; In, NotIn, Exists, DoesNotExist, Gt,
 * Lt; matchFields on metadata.name) and taints against tolerations (NoSchedule and NoExecute
 * must be tolerated; PreferNoSchedule only scores). Shared by the DaemonSet controller and the
 * scheduler.
 */
import type { Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration } from './types.gen.js';

type NodeLike = Pick<Node, 'spec'> & { metadata: { name?: string; labels?: Record<string, string | undefined> } };

export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if ((toleration.operator ?? 'Equal') === 'Exists') return !toleration.key || toleration.key === taint.key;
  return toleration.key === taint.key && (toleration.value ?? '') === (taint.value ?? '');
}

/** The first NoSchedule/NoExecute taint none of the tolerations tolerate. */
export function untoleratedTaint(
  taints: Taint[] | undefined,
  tolerations: Toleration[] | undefined,
): Taint | undefined {
  return (taints ?? []).find(
    (t) => t.effect !== 'PreferNoSchedule' && !(tolerations ?? []).some((tol) => tolerates(tol, t)),
  );
}

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
      return value !== undefined && /^-?[0-9]+$/.test(value) && Number(value) > Number(values[0]);
    case 'Lt':
      return value !== undefined && /^-?[0-9]+$/.test(value) && Number(value) < Number(values[0]);
    default:
      return false;
  }
}

export function termMatches(term: NodeSelectorTerm, node: NodeLike): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  // An empty term matches nothing, as in Kubernetes.
  if (exprs.length === 0 && fields.length === 0) return false;
  return (
    exprs.every((r) => requirementMatches(r, node.metadata.labels?.[r.key])) &&
    fields.every((r) => r.key === 'metadata.name' && requirementMatches(r, node.metadata.name))
  );
}

/** nodeSelector and required node affinity; undefined when they hold, else why not. */
export function nodeSelectionProblem(
  spec: Pick<PodSpec, 'nodeSelector' | 'affinity'>,
  node: NodeLike,
): string | undefined {
  const selector = spec.nodeSelector;
  if (selector)
    for (const k in selector)
      if (node.metadata.labels?.[k] !== selector[k]) return "node(s) didn't match Pod's node affinity/selector";
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && !terms.some((t) => termMatches(t, node))) return "node(s) didn't match Pod's node affinity/selector";
  return undefined;
}
