/**
 * Prometheus metrics for the server's /metrics: API requests and latencies, watches, the store
 * revision, Application reconciles and syncs, controller reconciles and queue depths, scheduling
 * attempts, leadership (and, registered by the ingress router when it runs here, ingress requests).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'berth_api_requests_total',
    help: 'API requests by verb, resource and HTTP code',
    labelNames: ['verb', 'resource', 'code'],
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'berth_api_request_duration_seconds',
    help: 'API request latency (watches excluded)',
    labelNames: ['verb', 'resource'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  /** Argo CD's argocd_app_reconcile: how long each Application reconcile took, by its result. */
  readonly appReconciles = new Histogram({
    name: 'berth_app_reconcile_duration_seconds',
    help: 'Application reconciles (fetch, plan, writes, status) by result',
    labelNames: ['result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly watches = new Gauge({
    name: 'berth_api_watches',
    help: 'Open watch streams',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  /** 1 while this server leads (runs the controllers, the scheduler and the syncs), else 0. */
  readonly leader = new Gauge({
    name: 'berth_leader',
    help: 'Whether this server is the leader (1) or a follower serving the API only (0)',
    labelNames: ['server'],
    registers: [this.registry],
  });
  /** Per Application: how its reconciles ended, and how long the latest took. */
  readonly appSyncs = new Counter({
    name: 'berth_app_syncs_total',
    help: 'Application reconciles by Application and result (synced, unchanged, out-of-sync, invalid, conflict, error, …)',
    labelNames: ['namespace', 'name', 'result'],
    registers: [this.registry],
  });
  readonly appSyncDuration = new Gauge({
    name: 'berth_app_sync_duration_seconds',
    help: "The latest reconcile's duration, by Application",
    labelNames: ['namespace', 'name'],
    registers: [this.registry],
  });
  /** controller-runtime's reconcile metrics, per controller. */
  readonly reconciles = new Counter({
    name: 'berth_controller_reconcile_total',
    help: 'Reconciles by controller and result (success, requeue, error)',
    labelNames: ['controller', 'result'],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'berth_controller_reconcile_duration_seconds',
    help: 'Reconcile duration by controller',
    labelNames: ['controller'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  /** Keys waiting per controller queue, read when scraped from the running controller manager (none on a follower). */
  queueDepths: () => Map<string, number> = () => new Map();
  readonly schedulerAttempts = new Counter({
    name: 'berth_scheduler_schedule_attempts_total',
    help: 'Scheduling attempts by result (scheduled, unschedulable, error)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly schedulerAttemptDuration = new Histogram({
    name: 'berth_scheduler_attempt_duration_seconds',
    help: 'Scheduling attempt duration (filters, scores and the bind) by result',
    labelNames: ['result'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });
  readonly revision: Gauge;

  constructor(revision: () => Promise<number>) {
    collectDefaultMetrics({ register: this.registry });
    const depths = () => this.queueDepths();
    new Gauge({
      name: 'berth_workqueue_depth',
      help: 'Keys waiting in each controller queue',
      labelNames: ['name'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [name, depth] of depths()) this.set({ name }, depth);
      },
    });
    this.revision = new Gauge({
      name: 'berth_store_revision',
      help: 'The store revision',
      registers: [this.registry],
      async collect() {
        this.set(await revision());
      },
    });
  }
}
