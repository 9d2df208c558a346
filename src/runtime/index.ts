export { Informer, InformerFactory, storeListWatch, type InformerEvent, type InformerHandler } from './informer.js';
export { WorkQueue, type WorkQueueOptions } from './workqueue.js';
export { ControllerManager, type Controller, type ReconcileObserver, type ReconcileResult } from './manager.js';
export { ObjectWriter, admittingWriter } from './writer.js';
export {
  EventRecorder,
  involvedObjectOf,
  reapEvents,
  type EventInput,
  type EventObject,
  type EventSink,
  type InvolvedObject,
} from './events.js';
export { EventBroadcaster } from './broadcaster.js';
export { storeEventSink } from './store-events.js';
export type { KubeObject, KindRef, ObjectRef, Store } from '../store/types.js';
export { QuotaAdmission, namespaceUsage, policiesSeenBy } from './quota.js';
