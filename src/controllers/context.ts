/** What every controller shell is given: the informers it reads, the writer, events, clock, log. */
import type { Logger } from 'pino';
import { involvedObjectOf } from '../runtime/index.js';
import type { EventBroadcaster, InformerEvent, InformerFactory, KubeObject, ObjectWriter } from '../runtime/index.js';
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

/** An informer handler that queues the owner (a controller of `kind`) of whatever changed. */
export function queueOwner(kind: string, enqueue: (key: string) => void): (e: InformerEvent<KubeObject>) => void {
  return (e) => {
    const ref = controllerOf(e.object);
    if (ref?.kind === kind) enqueue(`${e.object.metadata.namespace ?? ''}/${ref.name}`);
  };
}
