/**
 * Store keys: `<group>/<Kind>/<namespace>/<name>`, with `core` for the core group and an empty
 * namespace for cluster-scoped objects. Sorting keys sorts objects by kind, namespace, name.
 */
import { BerthError } from '../api/errors.js';
import { groupOf } from '../api/kinds.js';
import type { KindRef, KubeObject, ObjectRef } from './types.js';

export function refOf(obj: KubeObject): ObjectRef {
  if (!obj || typeof obj !== 'object' || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    throw new BerthError('Invalid', 'object needs apiVersion and kind');
  }
  const name = obj.metadata?.name;
  if (typeof name !== 'string' || name === '') throw new BerthError('Invalid', `${obj.kind} needs metadata.name`);
  return { group: groupOf(obj.apiVersion), kind: obj.kind, namespace: obj.metadata.namespace ?? '', name };
}

export function kindPrefix(k: KindRef, namespace?: string): string {
  const base = `${k.group || 'core'}/${k.kind}/`;
  return namespace === undefined ? base : `${base}${namespace}/`;
}

export function keyOf(ref: ObjectRef): string {
  for (const part of [ref.kind, ref.namespace ?? '', ref.name]) {
    if (part.includes('/'))
      throw new BerthError('Invalid', `invalid object reference: ${JSON.stringify(part)} contains '/'`);
  }
  return `${kindPrefix(ref, ref.namespace ?? '')}${ref.name}`;
}

export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

export function describeKey(key: string): string {
  const [, kind, ns, name] = key.split('/');
  return `${kind} ${ns ? `${ns}/` : ''}${name}`;
}
