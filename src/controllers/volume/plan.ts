/**
 * Kubernetes' PersistentVolume controller, pure: which volume a claim binds to (static binding by
 * class, access modes, volume mode, selector and the smallest capacity that fits; a volume
 * pre-bound by claimRef or a claim naming its volume first), whether a class's provisioner makes
 * one instead (berth.dev/local-path, once the first pod's node is chosen), and each volume's
 * phase (Available, Bound, Released; Delete reclaims by deleting it).
 */
import { parseQuantity } from '../../api/quantity.js';
import { selectorFromObject, type LabelSelectorObject } from '../../api/selector.js';
import { DEFAULT_CLASS_ANNOTATION, LOCAL_PATH_PROVISIONER, SELECTED_NODE } from '../../api/storage.js';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../api/types.gen.js';

export type Claim = Pick<PersistentVolumeClaim, 'spec' | 'status'> & {
  metadata: { name: string; namespace?: string; uid?: string; annotations?: Record<string, string | undefined> };
};
export type Volume = Pick<PersistentVolume, 'spec' | 'status'> & {
  metadata: { name: string; labels?: Record<string, string | undefined>; deletionTimestamp?: string };
};
export type Class = Pick<StorageClass, 'provisioner' | 'reclaimPolicy' | 'volumeBindingMode'> & {
  metadata: { name: string; annotations?: Record<string, string | undefined> };
};

const storageOf = (q: Record<string, unknown> | undefined): bigint | undefined =>
  q?.storage === undefined ? undefined : parseQuantity(q.storage as string).intValue();

/** The default class: the one annotated as such (of several, the last by name: a stable choice). */
export function defaultClass(classes: readonly Class[]): Class | undefined {
  return classes
    .filter((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true')
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .at(-1);
}

/** The class a claim asks for: its own, `''` for none; no storageClassName at all means the default class (if any). */
export function classOf(claim: Claim, classes: readonly Class[]): string {
  return claim.spec?.storageClassName ?? defaultClass(classes)?.metadata.name ?? '';
}

const isBoundTo = (volume: Volume, claim: Claim) =>
  volume.spec?.claimRef?.name === claim.metadata.name &&
  (volume.spec.claimRef.namespace ?? 'default') === (claim.metadata.namespace ?? 'default') &&
  (!volume.spec.claimRef.uid || volume.spec.claimRef.uid === claim.metadata.uid);

/** Why `volume` cannot serve `claim` (of class `cls`), or undefined when it can. */
export function mismatch(claim: Claim, volume: Volume, cls: string): string | undefined {
  const spec = volume.spec;
  if (volume.metadata.deletionTimestamp) return 'being deleted';
  if (spec?.claimRef && !isBoundTo(volume, claim)) return `bound to ${spec.claimRef.namespace}/${spec.claimRef.name}`;
  if (claim.spec?.volumeName && claim.spec.volumeName !== volume.metadata.name) return 'not the volume the claim names';
  if ((spec?.storageClassName ?? '') !== cls) return `of class "${spec?.storageClassName ?? ''}", not "${cls}"`;
  const modes = spec?.accessModes ?? [];
  const missing = (claim.spec?.accessModes ?? []).filter((m) => !modes.includes(m));
  if (missing.length) return `no access mode ${missing.join(', ')}`;
  if ((spec?.volumeMode ?? 'Filesystem') !== (claim.spec?.volumeMode ?? 'Filesystem')) return 'another volume mode';
  const wanted = storageOf(claim.spec?.resources?.requests as Record<string, unknown> | undefined) ?? 0n;
  const has = storageOf(spec?.capacity as Record<string, unknown> | undefined) ?? 0n;
  if (has < wanted) return 'too small';
  if (
    claim.spec?.selector &&
    !selectorFromObject(claim.spec.selector as LabelSelectorObject).matches(volume.metadata.labels ?? {})
  )
    return "labels the claim's selector does not match";
  return undefined;
}

/**
 * The volume a claim binds to: one bound to it already (by claimRef, or the one it names); else,
 * of the Available ones that fit, the smallest (Kubernetes' findBestMatchForClaim).
 */
export function findVolume(claim: Claim, volumes: readonly Volume[], cls: string): Volume | undefined {
  const fits = volumes.filter((v) => mismatch(claim, v, cls) === undefined);
  const prebound = fits.find((v) => v.spec?.claimRef || claim.spec?.volumeName === v.metadata.name);
  if (prebound) return prebound;
  const available = fits.filter((v) => !v.status?.phase || v.status.phase === 'Available');
  const size = (v: Volume) => storageOf(v.spec?.capacity as Record<string, unknown> | undefined) ?? 0n;
  return available.sort((a, b) => (size(a) < size(b) ? -1 : size(a) > size(b) ? 1 : 0))[0];
}

export type ClaimPlan =
  /** Bind to this volume (or confirm the binding). */
  | { action: 'bind'; volume: Volume }
  /** Make a volume on this node with the class's provisioner, then bind. */
  | { action: 'provision'; node: string; className: string; reclaimPolicy: 'Retain' | 'Delete' }
  /** The volume it was bound to is gone. */
  | { action: 'lost'; message: string }
  | { action: 'wait'; reason: string; message: string };

export function planClaim(claim: Claim, volumes: readonly Volume[], classes: readonly Class[]): ClaimPlan {
  const boundTo = claim.spec?.volumeName;
  if (boundTo && claim.status?.phase === 'Bound' && !volumes.some((v) => v.metadata.name === boundTo))
    return {
      action: 'lost',
      message: `Bound claim has lost its PersistentVolume ${boundTo}. Data on the volume is lost!`,
    };
  const cls = classOf(claim, classes);
  const volume = findVolume(claim, volumes, cls);
  if (volume) return { action: 'bind', volume };
  const klass = cls ? classes.find((c) => c.metadata.name === cls) : undefined;
  if (!boundTo && klass?.provisioner === LOCAL_PATH_PROVISIONER) {
    const node = claim.metadata.annotations?.[SELECTED_NODE];
    if (!node)
      return {
        action: 'wait',
        reason: 'WaitForFirstConsumer',
        message: 'waiting for first consumer to be created before binding',
      };
    return { action: 'provision', node, className: cls, reclaimPolicy: klass.reclaimPolicy ?? 'Delete' };
  }
  if (cls && !klass)
    return { action: 'wait', reason: 'ProvisioningFailed', message: `storageclass.storage.k8s.io "${cls}" not found` };
  return {
    action: 'wait',
    reason: 'FailedBinding',
    message: cls
      ? `no persistent volumes available for this claim and storage class "${cls}" provisions none`
      : 'no persistent volumes available for this claim and no storage class is set',
  };
}

/**
 * A volume's phase: Bound to the claim it names (by uid: bound once), Released once that claim is
 * gone; Available when free, or reserved (a claimRef without uid) for a claim still to come.
 */
export function volumePhase(volume: Volume, claimExists: (namespace: string, name: string, uid: string) => boolean) {
  const ref = volume.spec?.claimRef;
  if (!ref?.name || !ref.uid) return 'Available' as const;
  return claimExists(ref.namespace ?? 'default', ref.name, ref.uid) ? ('Bound' as const) : ('Released' as const);
}

/** What Delete does to a Released volume; Retain keeps it Released (its data for someone to recover). */
export const reclaims = (volume: Volume): boolean =>
  (volume.spec?.persistentVolumeReclaimPolicy ?? 'Retain') === 'Delete';
