/**
 * The agent's Prometheus metrics, served on its endpoint (GET /metrics) and through the API as
 * Kubernetes serves a kubelet's: GET /api/v1/nodes/NAME/proxy/metrics.
 */
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly containerStarts = new Counter({
    name: 'berth_agent_container_starts_total',
    help: 'Containers the agent started, by result (started, or the reason it could not: ErrImagePull, FailedMount, …)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly probeFailures = new Counter({
    name: 'berth_agent_probe_failures_total',
    help: 'Failed probe runs by probe (startup, readiness, liveness)',
    labelNames: ['probe'],
    registers: [this.registry],
  });
  /** The sampler's own count of the CPU it spent (agent/usage.ts), read when scraped. */
  samplingCpuMs: () => number = () => 0;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const spent = () => this.samplingCpuMs();
    new Counter({
      name: 'berth_agent_usage_sampling_cpu_seconds_total',
      help: "CPU the agent spent sampling containers' and the node's usage",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(spent() / 1000);
      },
    });
  }
}
