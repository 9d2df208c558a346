/** An EventSink over the store, for components that run beside it (the server, controllers). */
import { isBerthError } from '../api/errors.js';
import type { KubeObject, Store } from '../store/types.js';
import type { EventObject, EventSink } from './events.js';

const EVENT = { group: '', kind: 'Event' };

export function storeEventSink(store: Store): EventSink {
  return {
    async get(namespace, name) {
      try {
        return (await store.get({ ...EVENT, namespace, name })) as unknown as EventObject;
      } catch (e) {
        if (isBerthError(e, 'NotFound')) return undefined;
        throw e;
      }
    },
    async create(event) {
      await store.create(event as unknown as KubeObject);
    },
    async update(event) {
      await store.update(event as unknown as KubeObject);
    },
    async list() {
      return (await store.list({ ...EVENT })).items as unknown as EventObject[];
    },
    async delete(namespace, name) {
      await store.delete({ ...EVENT, namespace, name });
    },
  };
}
