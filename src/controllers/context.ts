/** What every controller shell is given: the informers it reads, the writer, events, clock, log. */
import type { Logger } from 'pino';
import { involvedObjectOf } from '../runtime/index.js';
import type {
  EventBroadcaster,
  Informer,
  InformerEvent,
  InformerFactory,
  KubeObject,
  ObjectWriter,
} from '../runtime/index.js';
import { controllerOf, type Owner } from './objects.js';

export interface ControllerContext {
  informers: InformerFactory;
  writer: ObjectWriter;
  events: EventBroadcaster;
  now: () => number;
  log?: Logger;
}

export function emit(
  ctx: ControllerContext,
  about: Owner,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
): void {
  ctx.events.emit({
    involvedObject: involvedObjectOf(about, about),
    type,
    reason,
    message,
  });
}

/** The highest resourceVersion among written objects, for Informer.waitFor. */
export function lastRevision(written: ({ metadata: { resourceVersion?: string } } | undefined)[]): number {
  let max = 0;
  for (const o of written) if (o) max = Math.max(max, Number(o.metadata.resourceVersion ?? 0));
  return max;
}

/**
 * Writes an object's status and waits until `informer` (the one its controller reads it from) has
 * seen the write. A controller reconciles one key at a time, so its next reconcile of this key
 * then starts from this status: without the wait, a reconcile queued by another event (a pod's)
 * read the object as it was before and its status write was refused as a conflict, then retried
 * after a backoff — a thousand-pod ReplicaSet hit that about a hundred times.
 */
export async function writeStatusAndWait<T extends KubeObject>(
  ctx: ControllerContext,
  informer: Pick<Informer<T>, 'waitFor'>,
  current: T,
  status: unknown,
): Promise<T> {
  const written = await ctx.writer.updateStatus(current, status);
  await informer.waitFor(Number(written.metadata.resourceVersion ?? 0));
  return written;
}

/** An informer handler that queues the owner (a controller of `kind`) of whatever changed. */
export function queueOwner(kind: string, enqueue: (key: string) => void): (e: InformerEvent<KubeObject>) => void {
  return (e) => {
    const ref = controllerOf(e.object);
    if (ref?.kind === kind) enqueue(`${e.object.metadata.namespace ?? ''}/${ref.name}`);
  };
}
