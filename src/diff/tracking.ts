/**
 * How Berth knows which live objects an Application manages: the label `app.berth.dev/instance`
 * (for selecting them) and the annotation `berth.dev/tracking-id` (the exact identity, as Argo CD's
 * annotation tracking: `<app namespace>/<app name>:<group>/<Kind>:<namespace>/<name>`).
 */
import { groupOf } from '../api/kinds.js';

export const INSTANCE_LABEL = 'app.berth.dev/instance';
export const TRACKING_ANNOTATION = 'berth.dev/tracking-id';
export const SYNC_WAVE_ANNOTATION = 'berth.dev/sync-wave';
/** Set by `berth app sync`: a manual sync is wanted when it differs from status.lastSyncRequest. */
export const SYNC_REQUESTED_ANNOTATION = 'berth.dev/sync-requested';
/**
 * Set (to a time) by a server that is not the leader on the Applications a Git push webhook names:
 * the leader's controller fetches them afresh, as if the push had reached it (Argo CD's refresh).
 */
export const REFRESH_REQUESTED_ANNOTATION = 'berth.dev/refresh-requested';
/** Set by `berth app rollback`: the commit to pin the app to (removed by `app sync --resume`). */
export const ROLLBACK_ANNOTATION = 'berth.dev/rollback';
/** Set by `berth app sync --revision R`: a branch, tag or commit to pin the app to (removed by `--resume`). */
export const SYNC_REVISION_ANNOTATION = 'berth.dev/sync-revision';

export interface AppRef {
  namespace: string;
  name: string;
}

export interface ObjectLike {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string | undefined>;
    annotations?: Record<string, string | undefined>;
  };
  [k: string]: unknown;
}

export function trackingId(app: AppRef, o: ObjectLike): string {
  return `${app.namespace}/${app.name}:${groupOf(o.apiVersion)}/${o.kind}:${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** The object as the app writes it: its desired state, labelled and annotated as the app's. */
export function withTracking<T extends ObjectLike>(app: AppRef, o: T): T {
  return {
    ...o,
    metadata: {
      ...o.metadata,
      labels: { ...o.metadata.labels, [INSTANCE_LABEL]: app.name },
      annotations: { ...o.metadata.annotations, [TRACKING_ANNOTATION]: trackingId(app, o) },
    },
  };
}

/** The Application that manages a live object, if any (from its tracking annotation). */
export function managerOf(o: ObjectLike): AppRef | undefined {
  const id = o.metadata.annotations?.[TRACKING_ANNOTATION];
  const m = id ? /^([^/]+)\/([^:]+):/.exec(id) : null;
  return m ? { namespace: m[1]!, name: m[2]! } : undefined;
}
