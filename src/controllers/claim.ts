/**
 * Kubernetes' ControllerRefManager: an owner claims the objects its selector matches. Orphans that
 * match are adopted (unless owner or object is being deleted); objects it controls that no longer
 * match are released. `claim` decides (pure); `applyClaim` writes the ownerReferences.
 */
import type { ObjectMeta } from '../api/types.gen.js';
import { selectorFromObject, type LabelSelectorObject } from '../api/selector.js';
import type { Informer, KubeObject, ObjectWriter } from '../runtime/index.js';
import { controllerOf, controllerRef, type Owner } from './objects.js';

type Claimable = { apiVersion: string; kind: string; metadata: ObjectMeta & { name: string } };
type ClaimOwner = Owner & { spec: { selector: LabelSelectorObject } };

export interface Claim<T> {
  /** What it controls after adoption and release. */
  owned: T[];
  /** Orphans matching its selector, to take over. */
  adopt: T[];
  /** What it controls that no longer matches its selector, to let go. */
  release: T[];
}

export function claim<T extends Claimable>(owner: ClaimOwner, objects: T[]): Claim<T> {
  const selector = selectorFromObject(owner.spec.selector);
  const out: Claim<T> = { owned: [], adopt: [], release: [] };
  for (const o of objects) {
    const ref = controllerOf(o);
    const matches = !selector.matchesNothing && !selector.isEmpty() && selector.matches(o.metadata.labels);
    if (ref) {
      if (ref.uid !== owner.metadata.uid) continue;
      if (matches) out.owned.push(o);
      else if (!o.metadata.deletionTimestamp) out.release.push(o);
    } else if (matches && !owner.metadata.deletionTimestamp && !o.metadata.deletionTimestamp) {
      out.adopt.push(o);
      out.owned.push(o);
    }
  }
  return out;
}

/** Writes a claim's adoptions and releases; returns the objects as written (adopted ones first). */
export async function applyClaim<T extends Claimable>(
  writer: ObjectWriter,
  owner: ClaimOwner,
  c: Pick<Claim<T>, 'adopt' | 'release'>,
): Promise<{ adopted: T[]; released: T[] }> {
  const adopted: T[] = [];
  const released: T[] = [];
  for (const o of c.adopt)
    adopted.push(
      await writer.update(o, {
        ...o,
        metadata: { ...o.metadata, ownerReferences: [...(o.metadata.ownerReferences ?? []), controllerRef(owner)] },
      }),
    );
  for (const o of c.release)
    released.push(
      await writer.update(o, {
        ...o,
        metadata: {
          ...o.metadata,
          ownerReferences: o.metadata.ownerReferences!.filter((r) => r.uid !== owner.metadata.uid),
        },
      }),
    );
  return { adopted, released };
}

/** Each label of an object, filed as `namespace/key=value`: how a selector finds its candidates. */
export const LABELS_INDEX = 'labels';
export const labelPairs = (
  o: { metadata: ObjectMeta },
  labels: Record<string, string | undefined> | undefined = o.metadata.labels,
): string[] =>
  Object.entries(labels ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${o.metadata.namespace ?? ''}/${k}=${v}`);

/** Indexes an informer's objects by their labels (call from a controller's watch, before the informers start). */
export function indexLabels<T extends KubeObject>(informer: Informer<T>): void {
  informer.addIndex(LABELS_INDEX, (o) => labelPairs(o));
}

/**
 * The objects of a namespace that may match a selector with these matchLabels: those with its
 * rarest required label (every object of the namespace when it requires none). Callers still
 * match each: this only spares them the thousands that cannot.
 */
export function candidatesFor<T extends KubeObject>(
  informer: Informer<T>,
  namespace: string,
  matchLabels: Record<string, string | undefined> | undefined,
): T[] {
  const pairs = labelPairs({ metadata: { namespace } }, matchLabels);
  if (!pairs.length) return informer.list(namespace);
  const rarest = pairs.reduce((a, b) =>
    informer.countByIndex(LABELS_INDEX, a) <= informer.countByIndex(LABELS_INDEX, b) ? a : b,
  );
  return informer.byIndex(LABELS_INDEX, rarest);
}

/** What a claim must look at: what the owner controls, and what its selector may match. */
export function claimCandidates<T extends KubeObject>(informer: Informer<T>, owner: ClaimOwner): T[] {
  const namespace = owner.metadata.namespace ?? '';
  const out = new Map<string, T>();
  for (const o of candidatesFor(informer, namespace, owner.spec.selector?.matchLabels)) out.set(o.metadata.name, o);
  for (const o of owner.metadata.uid ? informer.ownedBy(owner.metadata.uid) : [])
    if ((o.metadata.namespace ?? '') === namespace) out.set(o.metadata.name, o);
  return [...out.values()];
}
