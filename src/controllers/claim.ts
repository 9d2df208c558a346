/**
 * Kubernetes' ControllerRefManager: an owner claims the objects its selector matches. Orphans that
 * match are adopted (unless owner or object is being deleted); objects it controls that no longer
 * match are released. `claim` decides (pure); `applyClaim` writes the ownerReferences.
 */
import type { ObjectMeta } from '../api/types.gen.js';
import { selectorFromObject, type LabelSelectorObject } from '../api/selector.js';
import type { ObjectWriter } from '../runtime/index.js';
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
export async function applyClaim<T extends Claimable>(writer: ObjectWriter, owner: ClaimOwner, c: Pick<Claim<T>, 'adopt' | 'release'>): Promise<{ adopted: T[]; released: T[] }> {
  const adopted: T[] = [];
  const released: T[] = [];
  for (const o of c.adopt) adopted.push(await writer.update(o, { ...o, metadata: { ...o.metadata, ownerReferences: [...(o.metadata.ownerReferences ?? []), controllerRef(owner)] } }));
  for (const o of c.release) released.push(await writer.update(o, { ...o, metadata: { ...o.metadata, ownerReferences: o.metadata.ownerReferences!.filter((r) => r.uid !== owner.metadata.uid) } }));
  return { adopted, released };
}
