/**
 * Events, as Kubernetes records them: one Event per (source, object, type, reason, message),
 * named `<object>.<hash>`, whose count and lastTimestamp grow when the same thing happens again
 * (client-go's EventCorrelator), and which are deleted once older than a TTL (the API server's
 * --event-ttl, 1 h by default). The sink is a store or an API client.
 */
import { timestamp } from '../api/lifecycle.js';
import { createHash } from 'node:crypto';
import { isBerthError } from '../api/errors.js';

export interface InvolvedObject {
  apiVersion?: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  /** The part of the object, e.g. `spec.containers{web}`. */
  fieldPath?: string;
}

/** The reference an Event makes to an object (apiVersion and kind as given: the object's own may be unset). */
export function involvedObjectOf(
  o: { metadata: { name: string; namespace?: string; uid?: string } },
  type: { apiVersion: string; kind: string },
  fieldPath?: string,
): InvolvedObject {
  return {
    ...type,
    namespace: o.metadata.namespace ?? 'default',
    name: o.metadata.name,
    ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
    ...(fieldPath ? { fieldPath } : {}),
  };
}

export interface EventInput {
  involvedObject: InvolvedObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** An aggregate of similar events (the broadcaster's): one Event per object, type and reason, carrying the latest message. */
  combined?: boolean;
}

export interface EventObject {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string; resourceVersion?: string; [k: string]: unknown };
  involvedObject: InvolvedObject;
  type: string;
  reason: string;
  message: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host?: string };
  reportingComponent?: string;
}

export interface EventSink {
  get(namespace: string, name: string): Promise<EventObject | undefined>;
  create(event: EventObject): Promise<void>;
  /** Fails with a Conflict when the event changed since it was read. */
  update(event: EventObject): Promise<void>;
  list(): Promise<EventObject[]>;
  delete(namespace: string, name: string): Promise<void>;
}

export const DEFAULT_EVENT_TTL_MS = 60 * 60 * 1000;
const MAX_MESSAGE = 1024;

const stamp = (ms: number): string => timestamp(new Date(ms));

export class EventRecorder {
  constructor(
    private readonly sink: EventSink,
    private readonly source: { component: string; host?: string },
    private readonly now: () => number = Date.now,
  ) {}

  /** Records the event `times` times over (the broadcaster coalesces repeats still queued). */
  async record(input: EventInput, times = 1): Promise<void> {
    const message = input.message.length > MAX_MESSAGE ? input.message.slice(0, MAX_MESSAGE - 1) + '…' : input.message;
    const o = input.involvedObject;
    const namespace = o.namespace || 'default';
    const key = [
      this.source.component,
      this.source.host ?? '',
      o.apiVersion ?? '',
      o.kind,
      namespace,
      o.name,
      o.uid ?? '',
      input.type,
      input.reason,
      input.combined ? '(combined)' : message,
    ].join('\u0000');
    const name = `${o.name}.${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.sink.get(namespace, name);
      const at = stamp(this.now());
      try {
        if (existing) {
          await this.sink.update({
            ...existing,
            count: (existing.count ?? 1) + times,
            lastTimestamp: at,
            ...(input.combined ? { message } : {}),
          });
        } else {
          await this.sink.create({
            apiVersion: 'v1',
            kind: 'Event',
            metadata: { name, namespace },
            involvedObject: o,
            type: input.type,
            reason: input.reason,
            message,
            count: times,
            firstTimestamp: at,
            lastTimestamp: at,
            source: this.source,
            reportingComponent: this.source.component,
          });
        }
        return;
      } catch (e) {
        // Someone recorded the same event meanwhile: read it again and count this one in.
        if (!isBerthError(e, 'Conflict') && !isBerthError(e, 'AlreadyExists')) throw e;
      }
    }
  }
}

/** Deletes Events whose last occurrence is older than the TTL; returns how many it deleted. */
export async function reapEvents(sink: EventSink, ttlMs = DEFAULT_EVENT_TTL_MS, now = Date.now()): Promise<number> {
  let deleted = 0;
  for (const e of await sink.list()) {
    const last = Date.parse(e.lastTimestamp ?? e.firstTimestamp ?? '');
    if (Number.isFinite(last) && now - last > ttlMs) {
      await sink.delete(e.metadata.namespace, e.metadata.name).catch(() => {});
      deleted++;
    }
  }
  return deleted;
}
