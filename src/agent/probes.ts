/**
 * Liveness, readiness and startup probes as Kubernetes defines them: httpGet (2xx/3xx, to the
 * published host port), tcpSocket and exec; initialDelaySeconds, periodSeconds (10), timeoutSeconds
 * (1), successThreshold (1), failureThreshold (3). Until the startup probe passes the others wait;
 * a container without a readiness probe is ready once started. Results change sets the planner
 * reads (ProbeView); a change calls `onChange` for the pod.
 */
import { connect } from 'node:net';
import type { Container, Probe } from '../api/types.gen.js';
import type { ProbeView } from './plan.js';
import type { ContainerRuntime, RuntimeContainer } from './runtime.js';

type Kind = 'startup' | 'readiness' | 'liveness';

interface Worker {
  timers: NodeJS.Timeout[];
  counts: Record<Kind, { ok: number; failed: number }>;
}

export class Prober {
  readonly view: ProbeView = { ready: new Set(), unhealthy: new Set(), started: new Set() };
  private readonly workers = new Map<string, Worker>();

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly address: string,
    private readonly onChange: (podUid: string) => void,
    private readonly onFailure?: (probe: Kind) => void,
  ) {}

  /** Probes every running instance given, stops probing the others of that pod. */
  sync(podUid: string, running: { instance: RuntimeContainer; container: Container }[]): void {
    const ids = new Set(running.map((r) => r.instance.id));
    for (const [id, w] of this.workers) {
      if (id.startsWith(`${podUid.slice(0, 8)}-`) && !ids.has(id)) this.drop(id, w);
    }
    for (const { instance, container } of running)
      if (!this.workers.has(instance.id)) this.begin(podUid, instance, container);
  }

  /** Forgets everything about a pod's instances (stopped or removed). */
  forget(ids: string[]): void {
    for (const id of ids) {
      const w = this.workers.get(id);
      if (w) this.drop(id, w);
      this.view.ready.delete(id);
      this.view.unhealthy.delete(id);
      this.view.started.delete(id);
    }
  }

  stopAll(): void {
    for (const [id, w] of this.workers) this.drop(id, w);
  }

  private drop(id: string, w: Worker): void {
    for (const t of w.timers) clearTimeout(t);
    this.workers.delete(id);
  }

  private begin(podUid: string, instance: RuntimeContainer, c: Container): void {
    const w: Worker = {
      timers: [],
      counts: { startup: { ok: 0, failed: 0 }, readiness: { ok: 0, failed: 0 }, liveness: { ok: 0, failed: 0 } },
    };
    this.workers.set(instance.id, w);
    const changed = () => this.onChange(podUid);
    if (!c.startupProbe) this.view.started.add(instance.id);
    if (!c.readinessProbe && !c.startupProbe) {
      this.view.ready.add(instance.id);
      changed();
    }
    for (const kind of ['startup', 'readiness', 'liveness'] as const) {
      const probe = c[`${kind}Probe`];
      if (!probe) continue;
      const period = (probe.periodSeconds ?? 10) * 1000;
      const tick = async (): Promise<void> => {
        if (!this.workers.has(instance.id)) return;
        const started = this.view.started.has(instance.id);
        if (kind === 'startup' ? !started : started) {
          const ok = await this.run(probe, instance);
          if (!this.workers.has(instance.id)) return;
          this.record(kind, ok, probe, instance.id, w, c, changed);
        }
        w.timers.push(setTimeout(() => void tick(), period));
      };
      w.timers.push(setTimeout(() => void tick(), (probe.initialDelaySeconds ?? 0) * 1000));
    }
  }

  private record(
    kind: Kind,
    ok: boolean,
    probe: Probe,
    id: string,
    w: Worker,
    c: Container,
    changed: () => void,
  ): void {
    const n = w.counts[kind];
    if (ok) {
      n.ok++;
      n.failed = 0;
    } else {
      n.failed++;
      n.ok = 0;
      this.onFailure?.(kind);
    }
    const success = n.ok >= (kind === 'readiness' ? (probe.successThreshold ?? 1) : 1);
    const failure = n.failed >= (probe.failureThreshold ?? 3);
    if (kind === 'startup') {
      if (success && !this.view.started.has(id)) {
        this.view.started.add(id);
        if (!c.readinessProbe) this.view.ready.add(id);
        changed();
      } else if (failure && !this.view.unhealthy.has(id)) {
        this.view.unhealthy.add(id);
        changed();
      }
    } else if (kind === 'readiness') {
      if (success && !this.view.ready.has(id)) {
        this.view.ready.add(id);
        changed();
      } else if (failure && this.view.ready.has(id)) {
        this.view.ready.delete(id);
        changed();
      }
    } else if (failure && !this.view.unhealthy.has(id)) {
      this.view.unhealthy.add(id);
      changed();
    }
  }

  /** One probe: true on success. */
  private async run(probe: Probe, instance: RuntimeContainer): Promise<boolean> {
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    const portOf = (p: number | string): number | undefined => {
      const binding = instance.ports.find((b) => (typeof p === 'number' ? b.containerPort === p : b.name === p));
      return binding?.hostPort ?? (typeof p === 'number' ? p : undefined);
    };
    try {
      if (probe.httpGet) {
        const port = portOf(probe.httpGet.port);
        if (port === undefined) return false;
        const url = `${(probe.httpGet.scheme ?? 'HTTP').toLowerCase()}://${probe.httpGet.host || this.address}:${port}${probe.httpGet.path ?? '/'}`;
        const headers = Object.fromEntries((probe.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value]));
        const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
        await res.arrayBuffer().catch(() => {});
        return res.status >= 200 && res.status < 400;
      }
      if (probe.tcpSocket) {
        const port = portOf(probe.tcpSocket.port);
        if (port === undefined) return false;
        return await new Promise<boolean>((resolve) => {
          const s = connect({ host: probe.tcpSocket!.host || this.address, port, timeout: timeoutMs });
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('timeout', () => {
            s.destroy();
            resolve(false);
          });
          s.once('error', () => resolve(false));
        });
      }
      if (probe.exec?.command?.length)
        return (await this.runtime.exec(instance.id, probe.exec.command, { timeoutMs })).exitCode === 0;
      return false;
    } catch {
      return false;
    }
  }
}
