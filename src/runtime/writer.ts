/**
 * How controllers write: through the same lifecycle rules as the API (uid, creationTimestamp,
 * generation on create; identity and status kept on a spec update), with the read revision as
 * precondition, and no write at all when nothing would change (reconciles stay idempotent).
 */
import { randomUUID } from 'node:crypto';
import { isBerthError } from '../api/errors.js';
import { finalizedBy, finalizingDeletion, gracefulDeletion, prepareCreate, prepareUpdate } from '../api/lifecycle.js';
import { refOf } from '../store/keys.js';
import type { KubeObject, Store, TxnOp } from '../store/types.js';
import { QuotaAdmission, createAdmitted, groupByNamespace, type PolicyHints } from './quota.js';

/**
 * Admits objects a controller is about to create, as the API admits a user's (quotas, limit
 * ranges: see runtime/quota.ts); throws to refuse them, or returns the operations to commit with
 * them (the quota charges). Given objects of one namespace.
 */
export type CreateAdmission = (objects: KubeObject[]) => Promise<TxnOp[]>;

export class ObjectWriter {
  constructor(
    readonly store: Store,
    private readonly now: () => number = Date.now,
    private readonly admit?: CreateAdmission,
  ) {}

  async create<T extends KubeObject>(object: T): Promise<T> {
    const prepared = prepareCreate(object, new Date(this.now()), randomUUID());
    if (!this.admit) return this.store.create(prepared);
    return (await createAdmitted(this.store, [prepared], this.admit))[0] as T;
  }

  /**
   * Creates in as few transactions as the store allows; all of a transaction or none of it.
   * Returns the objects created and the error that stopped the rest, if any.
   */
  async createMany<T extends KubeObject>(objects: T[]): Promise<{ created: T[]; error?: unknown }> {
    const created: T[] = [];
    const per = Math.max(1, Math.min(objects.length, this.store.txnLimits.maxOps, 500));
    for (let i = 0; i < objects.length; i += per) {
      const batch = objects.slice(i, i + per).map((o) => prepareCreate(o, new Date(this.now()), randomUUID()));
      try {
        if (!this.admit)
          created.push(
            ...((await this.store.txn(batch.map((object) => ({ op: 'create' as const, object })))).results as T[]),
          );
        else
          for (const group of groupByNamespace(batch, (o) => o.metadata.namespace ?? '').values())
            created.push(...((await createAdmitted(this.store, group, this.admit)) as T[]));
      } catch (error) {
        return { created, error };
      }
    }
    return { created };
  }

  /**
   * A spec/metadata update of `current` to `next`; undefined-free `next` replaces it. One that
   * takes the last finalizer off an object marked for deletion removes it (see finalizedBy).
   */
  update<T extends KubeObject>(current: T, next: T): Promise<T> {
    const prepared = prepareUpdate(current, structuredClone(next));
    delete prepared.metadata.resourceVersion;
    const expectedRevision = Number(current.metadata.resourceVersion);
    if (finalizedBy(current, prepared)) return this.store.delete<T>(refOf(current), { expectedRevision });
    return this.store.update(prepared, { expectedRevision });
  }

  /** Writes the status (the status subresource); resolves to `current` when it is unchanged. */
  async updateStatus<T extends KubeObject>(current: T, status: unknown): Promise<T> {
    if (sameJson(current.status, status)) return current;
    return this.store.update({ ...current, status }, { expectedRevision: Number(current.metadata.resourceVersion) });
  }

  /**
   * Deletes the object as read; undefined when it is already gone. A pod on a node is deleted
   * gracefully (see gracefulDeletion), an object with finalizers waits for them (see
   * finalizingDeletion): marked, and returned marked; `force` removes a pod at once.
   */
  async delete<T extends KubeObject>(current: T, options: { force?: boolean } = {}): Promise<T | undefined> {
    try {
      const now = new Date(this.now());
      const marked =
        (options.force ? undefined : gracefulDeletion(current as T & { kind: string }, now)) ??
        finalizingDeletion(current, now);
      if (marked && sameJson(marked, current)) return current;
      if (marked) {
        delete marked.metadata.resourceVersion;
        return await this.store.update(marked, { expectedRevision: Number(current.metadata.resourceVersion) });
      }
      return await this.store.delete<T>(refOf(current), { expectedRevision: Number(current.metadata.resourceVersion) });
    } catch (e) {
      if (isBerthError(e, 'NotFound')) return undefined;
      throw e;
    }
  }
}

/** Equal as JSON: a property set to undefined is the same as one not there (it is not stored). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a))
    return a.length === (b as unknown[]).length && a.every((x, i) => sameJson(x, (b as unknown[])[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return (
    ka.length === kb.length &&
    ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

/**
 * The writer controllers use: their creates are admitted as a user's are (quotas, limit ranges).
 * With `policies`, a create in a namespace that has neither reads nothing more (without, every
 * create of a pod, ReplicaSet or Endpoints listed both kinds from the store: a second of a
 * 2,000-Deployment first sync).
 */
export function admittingWriter(store: Store, now: () => number = Date.now, policies?: PolicyHints): ObjectWriter {
  const quotas = new QuotaAdmission(store, policies);
  return new ObjectWriter(store, now, (objects) => quotas.admit(objects));
}
