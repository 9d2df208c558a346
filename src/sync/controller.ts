/**
 * Keeps every Application reconciled: each one on its own poll interval (default 30 s, with
 * jitter so many apps do not fetch in step), at once when its spec changes, one reconcile at a
 * time per app, with exponential backoff after an error. Its own status writes do not trigger it.
 * A change to an object an Application manages (its tracking annotation), or to the Endpoints of
 * a Service it manages, reconciles it soon (at most once a second): its health, the ledger's
 * healthy and serving times and the commit status follow the cluster, not the poll.
 */
import type { Logger } from 'pino';
import { parseDuration } from '../api/duration.js';
import { isBerthError } from '../api/errors.js';
import { SYNC_REQUESTED_ANNOTATION, managerOf, type ObjectLike } from '../diff/index.js';
import type { KubeObject } from '../store/types.js';
import { reconcileApplication, type AppMemo, type ApplicationObject, type SyncDeps } from './sync.js';

const APPLICATION = { group: 'berth.dev', kind: 'Application' };
export const DEFAULT_POLL_MS = 30_000;
const MAX_BACKOFF_MS = 5 * 60_000;
const RUNNING_POLL_MS = 2_000;
/** A change to a managed object reconciles its app after this long (changes in a burst coalesce)… */
const NUDGE_DELAY_MS = 200;
/** …and not sooner than this after the app's last reconcile began. */
const NUDGE_INTERVAL_MS = 1_000;

/** spec.pollInterval (the schema admits only durations), else the default. */
export function pollIntervalOf(app: ApplicationObject): number {
  return app.spec.pollInterval ? parseDuration(app.spec.pollInterval) || DEFAULT_POLL_MS : DEFAULT_POLL_MS;
}

interface Entry {
  timer?: NodeJS.Timeout;
  /** When the timer fires (epoch ms). */
  due?: number;
  /** When the last reconcile began. */
  startedAt?: number;
  /** A managed object changed while a reconcile ran: reconcile again after the interval. */
  nudged: boolean;
  running: boolean;
  again: boolean;
  failures: number;
  /** The next reconcile fetches even within the source's minimum interval (a webhook). */
  force: boolean;
  /** The Application as last seen, for matching webhook pushes. */
  app?: ApplicationObject;
}

export class ApplicationController {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();
  private readonly memo = new Map<string, AppMemo>();

  private warmedUp = false;

  /**
   * `warmUp` runs once, when the first Application appears: the server starts its manifest loader
   * threads then (a server with no Applications never needs them).
   */
  constructor(private readonly deps: SyncDeps & { log: Logger; warmUp?: () => void }, private readonly random: () => number = Math.random) {}

  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => this.stop(), { once: true });
    const following = this.followManaged(signal);
    await this.followApplications(signal);
    await following;
  }

  /** Service (namespace/name) → the app managing it: Endpoints have no tracking annotation of their own. */
  private readonly serviceOwners = new Map<string, string>();

  /** Every change in the store: those to an app's objects nudge the app. */
  private async followManaged(signal: AbortSignal): Promise<void> {
    while (!this.stopped) {
      try {
        const { items, revision } = await this.deps.store.list({ group: '', kind: 'Service' });
        this.serviceOwners.clear();
        for (const s of items) this.noteService(s);
        for await (const e of this.deps.store.watch({ fromRevision: revision, signal })) {
          const o = e.object;
          if (o.kind === 'Service') this.noteService(o, e.type === 'DELETED');
          const owner = o.kind === 'Endpoints' ? this.serviceOwners.get(`${o.metadata.namespace ?? ''}/${o.metadata.name}`) : appKeyOf(o);
          if (owner) this.nudge(owner);
        }
      } catch (e) {
        if (this.stopped) break;
        if (!isBerthError(e, 'Compacted') && !isBerthError(e, 'Unavailable')) this.deps.log.error({ err: e }, 'watching managed objects failed');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private noteService(s: KubeObject, deleted = false): void {
    const k = `${s.metadata.namespace ?? ''}/${s.metadata.name}`;
    const owner = deleted ? undefined : appKeyOf(s);
    if (owner) this.serviceOwners.set(k, owner);
    else this.serviceOwners.delete(k);
  }

  /** Reconciles the app soon, unless a reconcile is due sooner already. */
  private nudge(k: string): void {
    const e = this.entries.get(k);
    if (!e || this.stopped) return;
    if (e.running) {
      e.nudged = true;
      return;
    }
    const at = Math.max(Date.now() + NUDGE_DELAY_MS, (e.startedAt ?? 0) + NUDGE_INTERVAL_MS);
    if (e.due !== undefined && e.due <= at) return;
    this.schedule(k, at - Date.now());
  }

  private async followApplications(signal: AbortSignal): Promise<void> {
    while (!this.stopped) {
      try {
        const { items, revision } = await this.deps.store.list<ApplicationObject>(APPLICATION);
        const present = new Set(items.map((a) => key(a)));
        for (const k of [...this.entries.keys()]) if (!present.has(k)) this.forget(k);
        for (const app of items) {
          this.schedule(key(app), 0);
          this.entries.get(key(app))!.app = app;
        }
        for await (const e of this.deps.store.watch<ApplicationObject>({ ...APPLICATION, fromRevision: revision, signal })) {
          const k = key(e.object);
          if (e.type === 'DELETED') this.forget(k);
          else if (this.entries.has(k)) this.entries.get(k)!.app = e.object;
          if (e.type === 'DELETED') continue;
          if (e.type === 'ADDED' || e.object.metadata.generation !== e.prevObject?.metadata.generation || syncRequest(e.object) !== syncRequest(e.prevObject)) this.schedule(k, 0);
        }
      } catch (e) {
        if (this.stopped) break;
        // A broken or compacted watch: list again and carry on.
        if (!isBerthError(e, 'Compacted') && !isBerthError(e, 'Unavailable')) this.deps.log.error({ err: e }, 'application watch failed');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await Promise.all([...this.inflight]);
  }


  /** Reconciles now, fetching afresh, every Application the predicate picks; returns how many. */
  refreshWhere(pick: (app: ApplicationObject) => boolean): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (!e.app || !pick(e.app)) continue;
      e.force = true;
      this.schedule(k, 0);
      n++;
    }
    return n;
  }

  private stop(): void {
    this.stopped = true;
    for (const k of [...this.entries.keys()]) this.forget(k);
  }

  private forget(k: string): void {
    this.memo.delete(k);
    const e = this.entries.get(k);
    if (e?.timer) clearTimeout(e.timer);
    this.entries.delete(k);
  }

  private schedule(k: string, delayMs: number): void {
    if (this.stopped) return;
    if (!this.warmedUp) {
      this.warmedUp = true;
      this.deps.warmUp?.();
    }
    let e = this.entries.get(k);
    if (!e) this.entries.set(k, (e = { running: false, again: false, failures: 0, force: false, nudged: false }));
    if (e.running) {
      e.again = true;
      return;
    }
    if (e.timer) clearTimeout(e.timer);
    e.due = Date.now() + delayMs;
    e.timer = setTimeout(() => this.run(k), delayMs);
  }

  private run(k: string): void {
    const e = this.entries.get(k);
    if (!e || this.stopped) return;
    e.running = true;
    e.timer = undefined;
    e.due = undefined;
    e.startedAt = Date.now();
    e.nudged = false;
    const [namespace, name] = k.split('/') as [string, string];
    const work = (async () => {
      let next = DEFAULT_POLL_MS;
      try {
        const app = await this.deps.store.get<ApplicationObject>({ ...APPLICATION, namespace, name });
        e.app = app;
        const force = e.force;
        e.force = false;
        const outcome = await reconcileApplication({ ...this.deps, memo: this.memo }, app, { force });
        this.deps.log.debug({ app: k, ...outcome, plan: undefined }, 'reconciled');
        e.failures = 0;
        const poll = pollIntervalOf(app);
        // A sync operation still running (a wave's health, hooks) is looked at again soon.
        next = (outcome.running ? Math.min(poll, RUNNING_POLL_MS) : poll) * (0.9 + 0.2 * this.random());
      } catch (err) {
        if (isBerthError(err, 'NotFound')) {
          this.forget(k);
          return;
        }
        e.failures++;
        next = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(e.failures, 10));
        this.deps.log.warn({ app: k, err, retryInMs: next }, 'reconcile failed');
      } finally {
        e.running = false;
      }
      if (this.entries.get(k) !== e) return;
      const nudgedAt = e.nudged ? Math.max(0, e.startedAt! + NUDGE_INTERVAL_MS - Date.now()) : next;
      this.schedule(k, e.again ? 0 : Math.min(next, nudgedAt));
      e.again = false;
      e.nudged = false;
    })();
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }
}

/** The key of the Application managing `o`, from its tracking annotation. */
function appKeyOf(o: KubeObject): string | undefined {
  const app = managerOf(o as unknown as ObjectLike);
  return app ? `${app.namespace}/${app.name}` : undefined;
}

const key = (a: { metadata: { namespace?: string; name: string } }): string => `${a.metadata.namespace ?? 'default'}/${a.metadata.name}`;
const syncRequest = (a: ApplicationObject | undefined): string | undefined => a?.metadata.annotations?.[SYNC_REQUESTED_ANNOTATION];
