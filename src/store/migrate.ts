/**
 * `berth store migrate`: a stopped server's objects copied into another store (SQLite to etcd, as a
 * one-machine cluster grows), each as it was — uid, creation time, spec and status — kind by kind,
 * in transactions the target takes. Their resourceVersions are the target's revisions: clients
 * list afresh against the new store, as after any restore. Node heartbeats are not copied (the
 * agents renew them within seconds). The target must hold no objects yet: nothing is overwritten.
 */
import { BerthError } from '../api/errors.js';
import { KINDS } from '../api/kinds.js';
import { splitTxn } from './store.js';
import type { KubeObject, Store, TxnOp } from './types.js';

export async function copyStore(
  from: Store,
  to: Store,
  progress: (kind: string, copied: number) => void = () => undefined,
): Promise<{ objects: number; kinds: number }> {
  for (const k of KINDS) {
    const { items } = await to.list({ group: k.group, kind: k.kind, limit: 1 });
    if (items.length)
      throw new BerthError(
        'Conflict',
        `the target store already holds objects (${k.kind} ${items[0]!.metadata.name}): migrate into an empty store (or another prefix)`,
      );
  }
  let objects = 0;
  let kinds = 0;
  for (const k of KINDS) {
    const { items } = await from.list({ group: k.group, kind: k.kind });
    if (!items.length) continue;
    kinds++;
    const ops: TxnOp[] = items.map((o) => {
      const { resourceVersion: _stale, ...metadata } = o.metadata;
      return { op: 'create', object: { ...o, metadata } as KubeObject };
    });
    for (const part of splitTxn(ops, to.txnLimits)) {
      await to.txn(part);
      objects += part.length;
      progress(k.kind, objects);
    }
  }
  return { objects, kinds };
}
