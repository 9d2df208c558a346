/**
 * Keeps every Application reconciled, on the controller runtime like every other controller: a
 * workqueue that never holds a key twice nor hands one to two workers, per-key backoff after an
 * error. Each Application is reconciled at once when its spec changes or a webhook names its
 * repository, again after its poll interval (default 30 s, with jitter so many apps do not fetch
 * in step), and soon (at most once a second) when an object it manages changes (its tracking
 * annotation) or the Endpoints of a Service it manages do: its health, the ledger's healthy and
 * serving times and the commit status follow the cluster, not the poll. Such a reconcile does not
 * fetch (the cluster changed, not Git), and does not put the next poll off. Its own status writes
 * do not trigger it.
 */
import type { Logger } from 'pino';
import { parseDuration } from '../api/duration.js';
import { BerthError, isBerthError } from '../api/errors.js';
import { KINDS, groupOf } from '../api/kinds.js';
import {
  INSTANCE_LABEL,
  REFRESH_REQUESTED_ANNOTATION,
  SYNC_REQUESTED_ANNOTATION,
  managerOf,
  type ObjectLike,
} from '../diff/index.js';
import type { Controller, Informer, InformerEvent, InformerFactory, ReconcileResult } from '../runtime/index.js';
import type { KubeObject, Store } from '../store/types.js';
import type { LiveSource } from './live.js';
import { reconcileApplication, type AppMemo, type ApplicationObject, type SyncDeps } from './sync.js';

const APPLICATION = { group: 'berth.dev', kind: 'Application' };
export const DEFAULT_POLL_MS = 30_000;
const RUNNING_POLL_MS = 2_000;
/** A change to a managed object reconciles its app after this long (changes in a burst coalesce)… */
const NUDGE_DELAY_MS = 200;
/** …and not sooner than this after the app's last reconcile began. */
const NUDGE_INTERVAL_MS = 1_000;
/** Objects by their app.berth.dev/instance label. */
const INSTANCE_INDEX = 'instance';
/** Apps reconciled at once (one app is never reconciled twice at once). */
const WORKERS = 4;

/** spec.pollInterval (the schema admits only durations), else the default. */
export function pollIntervalOf(app: ApplicationObject): number {
  return app.spec.pollInterval ? parseDuration(app.spec.pollInterval) || DEFAULT_POLL_MS : DEFAULT_POLL_MS;
}

export class ApplicationController implements Controller {
  readonly name = 'applications';
  readonly workers = WORKERS;
  // A source that failed is asked again from a second on, not from 5 ms.
  readonly backoff = { baseDelayMs: 1000, maxDelayMs: 5 * 60_000 };
  private apps?: Informer<ApplicationObject>;
  /** The live objects, from the informers, for every app's sync. */
  private live?: LiveSource;
  private enqueue: (key: string) => void = () => undefined;
  private enqueueAfter: (key: string, ms: number) => void = () => undefined;
  /** What each app's reconciles keep for the next one. */
  private readonly memo = new Map<string, AppMemo>();
  /** When each app's last reconcile began (nudges keep a second after it). */
  private readonly startedAt = new Map<string, number>();
  /** Apps whose next reconcile fetches even within the source's minimum interval (a webhook). */
  private readonly forced = new Set<string>();
  /** Apps an object of which changed since their last reconcile began: they observe in full. */
  private readonly changed = new Set<string>();
  /** When each app's next poll of its source is due: reconciles for the cluster's changes do not fetch. */
  private readonly nextPoll = new Map<string, number>();
  private warmedUp = false;

  /**
   * `warmUp` runs once, when the first Application appears: the server starts its manifest loader
   * threads then (a server with no Applications never needs them).
   */
  constructor(
    private readonly deps: SyncDeps & {
      log: Logger;
      warmUp?: () => void;
      reconciled?: (seconds: number, result: string, app: { namespace: string; name: string }) => void;
    },
    private readonly random: () => number = Math.random,
  ) {}

  watch(
    enqueue: (key: string) => void,
    informers: InformerFactory,
    enqueueAfter: (key: string, ms: number) => void,
  ): void {
    this.enqueue = enqueue;
    this.enqueueAfter = enqueueAfter;
    this.apps = informers.for<ApplicationObject>(APPLICATION);
    this.apps.on((e) => this.onApplication(e));
    // Every kind an app can declare: a change to one of its objects nudges the app, and the sync
    // reads an app's objects from these informers, by their instance label.
    const declarable = new Map(
      KINDS.filter((k) => k.declarable).map((k) => [
        `${k.group}/${k.kind}`,
        informers.for({ group: k.group, kind: k.kind }),
      ]),
    );
    for (const informer of declarable.values()) {
      informer.addIndex(INSTANCE_INDEX, (o) => o.metadata.labels?.[INSTANCE_LABEL]);
      if (informer.kind.kind === APPLICATION.kind && informer.kind.group === APPLICATION.group) continue;
      informer.on((e) => {
        this.nudge(appKeyOf(e.object));
        if (e.prevObject) this.nudge(appKeyOf(e.prevObject));
      });
    }
    this.live = {
      labelled: (app) => [...declarable.values()].flatMap((i) => i.byIndex(INSTANCE_INDEX, app)),
      get: (o) => declarable.get(`${groupOf(o.apiVersion)}/${o.kind}`)?.get(o.metadata.namespace, o.metadata.name),
    };
    // Endpoints have no tracking annotation of their own: the app managing their Service owns them.
    const services = informers.for({ group: '', kind: 'Service' });
    informers.for({ group: '', kind: 'Endpoints' }).on((e) => {
      const service = services.get(e.object.metadata.namespace, e.object.metadata.name);
      if (service) this.nudge(appKeyOf(service));
    });
  }

  private onApplication(e: InformerEvent<ApplicationObject>): void {
    const k = key(e.object);
    // An app of apps: a child Application's change (its health) is its parent's to see.
    this.nudge(appKeyOf(e.object));
    if (e.type === 'DELETED') {
      this.memo.delete(k);
      this.startedAt.delete(k);
      this.forced.delete(k);
      this.changed.delete(k);
      this.nextPoll.delete(k);
      return;
    }
    if (!this.warmedUp) {
      this.warmedUp = true;
      this.deps.warmUp?.();
    }
    const changed =
      e.type === 'ADDED' ||
      e.object.metadata.generation !== e.prevObject?.metadata.generation ||
      syncRequest(e.object) !== syncRequest(e.prevObject);
    if (!changed) return;
    // A new or changed spec is compared with the branch as it is now, not as another app sharing
    // the repository fetched it a moment ago (the source fetches a repository at most every few seconds).
    // At server start every app is "added": those fetch once each, as after any restart.
    this.forced.add(k);
    this.enqueue(k);
  }

  /** Reconciles the app soon: after a short delay, and a second after its last reconcile began. */
  private nudge(k: string | undefined): void {
    if (!k) return;
    this.changed.add(k);
    const last = this.startedAt.get(k) ?? 0;
    this.enqueueAfter(k, Math.max(NUDGE_DELAY_MS, last + NUDGE_INTERVAL_MS - Date.now()));
  }

  /** Reconciles now, fetching afresh, every Application the predicate picks; returns how many. */
  refreshWhere(pick: (app: ApplicationObject) => boolean): number {
    let n = 0;
    for (const app of this.apps?.list() ?? []) {
      if (!pick(app)) continue;
      this.forced.add(key(app));
      this.enqueue(key(app));
      n++;
    }
    return n;
  }

  async reconcile(k: string): Promise<ReconcileResult | void> {
    const [namespace, name] = k.split('/') as [string, string];
    if (!this.apps?.get(namespace, name)) return;
    this.startedAt.set(k, Date.now());
    const force = this.forced.delete(k);
    const changed = this.changed.delete(k);
    const pollDue = (this.nextPoll.get(k) ?? 0) <= Date.now();
    try {
      // Read afresh, not from the cache: the reconcile writes the status onto what it read.
      const app = await this.deps.store.get<ApplicationObject>({ ...APPLICATION, namespace, name });
      const started = performance.now();
      const outcome = await reconcileApplication(
        { ...this.deps, memo: this.memo, ...(this.live ? { live: this.live } : {}) },
        app,
        { force, changed, offline: !pollDue },
      );
      this.deps.reconciled?.((performance.now() - started) / 1000, outcome.result, { namespace, name });
      this.deps.log.debug({ app: k, ...outcome, plan: undefined }, 'reconciled');
      const poll = pollIntervalOf(app) * (0.9 + 0.2 * this.random());
      if (pollDue || force) this.nextPoll.set(k, Date.now() + poll);
      const untilPoll = Math.max(0, this.nextPoll.get(k)! - Date.now());
      // A sync operation still running (a wave's health, hooks) is looked at again soon.
      return { requeueAfterMs: outcome.running ? Math.min(untilPoll, RUNNING_POLL_MS) : untilPoll };
    } catch (e) {
      if (force) this.forced.add(k);
      if (changed) this.changed.add(k);
      if (isBerthError(e, 'NotFound')) return;
      // The manager gives up on Invalid (the object cannot change by itself); an Application's
      // source can, so every failure is retried with backoff.
      if (isBerthError(e, 'Invalid')) throw new BerthError('Unavailable', (e as Error).message);
      throw e;
    }
  }
}

/** The key of the Application managing `o`, from its tracking annotation. */
function appKeyOf(o: KubeObject): string | undefined {
  const app = managerOf(o as unknown as ObjectLike);
  return app ? `${app.namespace}/${app.name}` : undefined;
}

const key = (a: { metadata: { namespace?: string; name: string } }): string =>
  `${a.metadata.namespace ?? 'default'}/${a.metadata.name}`;
/** What asks for a reconcile that fetches afresh: a sync request (berth app sync), a refresh (a webhook at a follower). */
const syncRequest = (a: ApplicationObject | undefined): string =>
  `${a?.metadata.annotations?.[SYNC_REQUESTED_ANNOTATION] ?? ''} ${a?.metadata.annotations?.[REFRESH_REQUESTED_ANNOTATION] ?? ''}`;

/**
 * A follower's answer to a Git push webhook: it marks the Applications `pick` chooses with
 * REFRESH_REQUESTED_ANNOTATION, and the leader's controller fetches them afresh (see
 * onApplication). Returns how many were marked.
 */
export async function requestRefresh(store: Store, pick: (app: ApplicationObject) => boolean): Promise<number> {
  const { items } = await store.list<ApplicationObject & KubeObject>(APPLICATION);
  const now = new Date().toISOString();
  let marked = 0;
  for (const app of items.filter(pick)) {
    try {
      await store.update({
        ...app,
        metadata: {
          ...app.metadata,
          annotations: { ...app.metadata.annotations, [REFRESH_REQUESTED_ANNOTATION]: now },
        },
      });
      marked++;
    } catch (e) {
      // Changed meanwhile (its status): the leader reconciles it for that change anyway.
      if (!isBerthError(e, 'Conflict')) throw e;
    }
  }
  return marked;
}
