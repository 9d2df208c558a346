/** The ingress router's Prometheus metrics, in whichever registry its process serves at /metrics. */
import { Counter, Histogram, type Registry } from 'prom-client';

export class IngressMetrics {
  private readonly requests: Counter<'host' | 'code'>;
  private readonly latency: Histogram<'host'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'berth_ingress_requests_total',
      help: 'Requests the ingress router answered, by Host and HTTP status',
      labelNames: ['host', 'code'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'berth_ingress_request_duration_seconds',
      help: 'Time from a request arriving at the ingress router until its response ended, by Host',
      labelNames: ['host'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }

  /** prom-client's children per label values, kept: looking labels up is most of an observation's cost. */
  private readonly counters = new Map<string, { inc(): void }>();
  private readonly histograms = new Map<string, { observe(v: number): void }>();

  readonly observe = (host: string, status: number, seconds: number): void => {
    const key = `${status} ${host}`;
    let counter = this.counters.get(key);
    if (!counter) this.counters.set(key, (counter = this.requests.labels(host, String(status))));
    counter.inc();
    let histogram = this.histograms.get(host);
    if (!histogram) this.histograms.set(host, (histogram = this.latency.labels(host)));
    histogram.observe(seconds);
  };
}
