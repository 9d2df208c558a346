/** Prometheus metrics for /metrics: requests, latencies, active watches, store revision, Application reconciles, leadership. */
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
  readonly revision: Gauge;

  constructor(revision: () => Promise<number>) {
    collectDefaultMetrics({ register: this.registry });
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
