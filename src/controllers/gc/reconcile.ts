/**
 * The garbage collector: an object whose owners (ownerReferences, by uid) are all gone is
 * deleted, however its owner went (a sync prune, an API delete, another controller); references
 * to some gone owners are dropped while another owner lives; objects of a deleted Namespace are
 * deleted. Absence is confirmed with a read from the store before anything is deleted, as the
 * Kubernetes garbage collector does, since informers of different kinds are not in step.
 * (Foreground and Orphan propagation are carried out by the API's delete.)
 */
import { isBerthError } from '../../api/errors.js';
import { KINDS, groupOf } from '../../api/kinds.js';
import type { Controller, InformerFactory, KubeObject, ReconcileResult } from '../../runtime/index.js';
import type { ControllerContext } from '../context.js';

/** Every kind that can own or be owned (Events are neither, and are many). */
const KIND_REFS = KINDS.filter((k) => k.kind !== 'Event').map((k) => ({
  group: k.group,
  kind: k.kind,
  namespaced: k.namespaced,
}));
const NAMESPACE_KEY = 'namespace:';

export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector';
  readonly workers = 2;
  private informers!: InformerFactory;

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    this.informers = informers;
    for (const k of KIND_REFS) {
      informers.for(k).on((e) => {
        // Only a new object or new owners can orphan it (an owner's deletion is handled below):
        // a pod's status writes are not the collector's business.
        const owners = e.object.metadata.ownerReferences;
        if (
          owners?.length &&
          e.type !== 'DELETED' &&
          (!e.prevObject || JSON.stringify(owners) !== JSON.stringify(e.prevObject.metadata.ownerReferences))
        )
          enqueue(objectKey(k, e.object));
        if (e.type !== 'DELETED') return;
        if (k.kind === 'Namespace') enqueue(NAMESPACE_KEY + e.object.metadata.name);
        const uid = e.object.metadata.uid;
        if (uid)
          for (const d of KIND_REFS)
            for (const dependent of informers.for(d).ownedBy(uid)) enqueue(objectKey(d, dependent));
      });
    }
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    if (key.startsWith(NAMESPACE_KEY)) return this.emptyNamespace(key.slice(NAMESPACE_KEY.length));
    const [group, kind, namespace, name] = key.split('/') as [string, string, string, string];
    const object = this.informers.for({ group, kind }).get(namespace, name);
    const refs = object?.metadata.ownerReferences ?? [];
    if (!object || refs.length === 0 || object.metadata.deletionTimestamp) return {};
    const alive = [];
    for (const r of refs) if (await this.ownerExists(r, namespace)) alive.push(r);
    if (alive.length === refs.length) return {};
    if (alive.length > 0) {
      await this.ctx.writer.update(object, { ...object, metadata: { ...object.metadata, ownerReferences: alive } });
      return {};
    }
    this.ctx.log?.debug({ object: key }, 'deleting an object whose owners are gone');
    await this.ctx.writer.delete(object);
    return {};
  }

  private async ownerExists(
    r: { apiVersion: string; kind: string; name: string; uid: string },
    namespace: string,
  ): Promise<boolean> {
    const info = KIND_REFS.find((k) => k.kind === r.kind && k.group === groupOf(r.apiVersion));
    // An owner of a kind Berth does not serve: not ours to judge.
    if (!info) return true;
    const ns = info.namespaced ? namespace : '';
    const cached = this.informers.for(info).get(ns, r.name);
    if (cached?.metadata.uid === r.uid) return true;
    try {
      return (
        (await this.ctx.writer.store.get({ group: info.group, kind: info.kind, namespace: ns, name: r.name })).metadata
          .uid === r.uid
      );
    } catch (e) {
      if (isBerthError(e, 'NotFound')) return false;
      throw e;
    }
  }

  private async emptyNamespace(namespace: string): Promise<ReconcileResult> {
    if (['default', 'berth-system'].includes(namespace)) return {};
    try {
      await this.ctx.writer.store.get({ group: '', kind: 'Namespace', namespace: '', name: namespace });
      return {}; // created again meanwhile
    } catch (e) {
      if (!isBerthError(e, 'NotFound')) throw e;
    }
    for (const k of KIND_REFS.filter((x) => x.namespaced)) {
      for (const o of this.informers.for(k).list(namespace)) await this.ctx.writer.delete(o);
    }
    return {};
  }
}

const objectKey = (k: { group: string; kind: string }, o: KubeObject): string =>
  `${k.group}/${k.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
