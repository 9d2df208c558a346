/** An EventSink over the API, for the agent (a node token may record Events). */
import { isBerthError } from '../api/errors.js';
import { kindInfo } from '../api/kinds.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import type { EventObject, EventSink } from '../runtime/index.js';

const EVENTS = kindInfo('Event')!;

export function apiEventSink(client: BerthClient): EventSink {
  return {
    async get(namespace, name) {
      try {
        return (await client.get(EVENTS, namespace, name)) as unknown as EventObject;
      } catch (e) {
        if (isBerthError(e, 'NotFound') || isBerthError(e, 'Forbidden')) return undefined;
        throw e;
      }
    },
    async create(event) {
      await client.create(EVENTS, event as unknown as KubeObject);
    },
    async update(event) {
      await client.update(EVENTS, event as unknown as KubeObject);
    },
    // Old Events are the server's to delete.
    list: async () => [],
    delete: async () => {},
  };
}
