/**
 * The container images a revision changes, per workload and container: what reviewers look for
 * first in a deploy PR (a tag bumped, a digest pinned, a sidecar added). Pure.
 */
import { podTemplateOf } from '../api/pod-security.js';
import type { ObjectLike } from './tracking.js';

export interface ImageChange {
  kind: string;
  namespace?: string;
  name: string;
  container: string;
  /** The image running now; absent for a new workload or container. */
  from?: string;
  /** The image the revision asks for; absent for a workload or container it removes. */
  to?: string;
}

type Containers = { name: string; image?: string }[];

function imagesOf(o: ObjectLike | undefined): Map<string, string> {
  const spec = o
    ? (podTemplateOf(o)?.spec as { containers?: Containers; initContainers?: Containers } | undefined)
    : undefined;
  const out = new Map<string, string>();
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) if (c.image) out.set(c.name, c.image);
  return out;
}

/** Each container whose image differs between `before` (live) and `after` (the revision), in container order. */
export function imageChanges(pairs: readonly { before?: ObjectLike; after?: ObjectLike }[]): ImageChange[] {
  const out: ImageChange[] = [];
  for (const { before, after } of pairs) {
    const o = (after ?? before)!;
    const [was, will] = [imagesOf(before), imagesOf(after)];
    for (const container of new Set([...will.keys(), ...was.keys()])) {
      const [from, to] = [was.get(container), will.get(container)];
      if (from === to) continue;
      out.push({
        kind: o.kind,
        ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
        name: o.metadata.name,
        container,
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
      });
    }
  }
  return out;
}
