/**
 * The ingress router's Prometheus metrics, in whichever registry its process serves at /metrics:
 * `berth_ingress_requests_total{host,code}` and the histogram
 * `berth_ingress_request_duration_seconds{host}`. A request only adds to plain counts (prom-client's
 * own observe hashes its labels each time, a cost the router's throughput showed); the registry
 * reads them when scraped.
 */
import type { Registry } from 'prom-client';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface HostCounts {
  codes: Map<number, number>;
  /** Per bucket of BUCKETS (not cumulative; summed when scraped), and the sum and count. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };

export class IngressMetrics {
  private readonly hosts = new Map<string, HostCounts>();

  constructor(registry: Registry) {
    const metric = (name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]) =>
      registry.registerMetric({
        name,
        help,
        type,
        aggregator: 'sum',
        get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
        reset: () => this.hosts.clear(),
      } as never);
    metric(
      'berth_ingress_requests_total',
      'Requests the ingress router answered, by Host and HTTP status',
      'counter',
      () =>
        [...this.hosts].flatMap(([host, h]) =>
          [...h.codes].map(([code, value]) => ({ labels: { host, code }, value })),
        ),
    );
    const name = 'berth_ingress_request_duration_seconds';
    metric(
      name,
      'Time from a request arriving at the ingress router until its response ended, by Host',
      'histogram',
      () =>
        [...this.hosts].flatMap(([host, h]): Sample[] => {
          let cumulative = 0;
          return [
            ...BUCKETS.map((le, i) => {
              cumulative += h.buckets[i]!;
              return { labels: { le, host }, value: cumulative, metricName: `${name}_bucket` };
            }),
            { labels: { le: '+Inf', host }, value: h.count, metricName: `${name}_bucket` },
            { labels: { host }, value: h.sum, metricName: `${name}_sum` },
            { labels: { host }, value: h.count, metricName: `${name}_count` },
          ];
        }),
    );
  }

  readonly observe = (host: string, status: number, seconds: number): void => {
    let h = this.hosts.get(host);
    if (!h) {
      h = { codes: new Map(), buckets: new Float64Array(BUCKETS.length), sum: 0, count: 0 };
      this.hosts.set(host, h);
    }
    h.codes.set(status, (h.codes.get(status) ?? 0) + 1);
    const bucket = BUCKETS.findIndex((le) => seconds <= le);
    if (bucket >= 0) h.buckets[bucket]!++;
    h.sum += seconds;
    h.count++;
  };
}
