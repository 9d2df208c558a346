/** An EventSink over the store, for components that run beside it (the server, controllers). */
import { randomUUID } from 'node:crypto';
import { prepareCreate } from '../api/lifecycle.js';
import { getIfExists } from '../store/lookup.js';
import type { KubeObject, Store } from '../store/types.js';
import type { EventObject, EventSink } from './events.js';

const EVENT = { group: '', kind: 'Event' };

export function storeEventSink(store: Store): EventSink {
  return {
    async get(namespace, name) {
      return (await getIfExists(store, { ...EVENT, namespace, name })) as unknown as EventObject | undefined;
    },
    async create(event) {
      // As every object: a uid and a creationTimestamp.
      await store.create(prepareCreate(event as unknown as KubeObject, new Date(), randomUUID()));
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
