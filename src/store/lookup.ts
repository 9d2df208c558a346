import { isBerthError } from '../api/errors.js';
import type { KubeObject, ObjectRef, Store } from './types.js';

/** The object, or undefined when there is none; any other failure is thrown. */
export async function getIfExists<T extends KubeObject = KubeObject>(
  store: Store,
  ref: ObjectRef,
): Promise<T | undefined> {
  try {
    return await store.get<T>(ref);
  } catch (e) {
    if (isBerthError(e, 'NotFound')) return undefined;
    throw e;
  }
}
