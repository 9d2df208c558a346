/**
 * Resource usage, as the kubelet's summary API gives metrics-server: every interval the agent
 * reads each running container's cumulative CPU time and working set (the runtime's `usage`), and
 * the node's (/proc/stat, /proc/meminfo); CPU in cores is the CPU time spent between two samples
 * over the time between them. The server reads the newest report from the agent's endpoint
 * (GET /metrics/resource) and serves it as metrics.k8s.io.
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { NodeUsage, PodUsage, ResourceUsageReport } from '../api/metrics.js';
import type { ContainerRuntime, RuntimeContainer } from './runtime.js';

/** What a runtime reports of one container: CPU time spent since it started (ns) and its working set (bytes). */
export interface Usage {
  cpuNanos: number;
  memoryBytes: number;
}

/** USER_HZ, the unit of /proc's CPU times: 100 on every Linux architecture (it is part of the ABI). */
const NANOS_PER_TICK = 1e9 / 100;

export interface ProcStat {
  pid: number;
  pgrp: number;
  /** utime + stime + cutime + cstime: its own CPU time and that of the children it has reaped. */
  cpuTicks: number;
  rssPages: number;
}

/** One /proc/PID/stat line. The command (field 2) may hold spaces and parentheses: fields resume after its last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(' ')));
  const f = text
    .slice(close + 2)
    .trim()
    .split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  const num = (n: number) => Number(f[n - 3]);
  return { pid, pgrp: num(5), cpuTicks: num(14) + num(15) + num(16) + num(17), rssPages: num(24) };
}

let pageSize: number | undefined;
/** The kernel's page size, from this process's own VmRSS (kB) against its resident pages. */
function pageBytes(): number {
  if (pageSize) return pageSize;
  const statm = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  const guess = (rssKb * 1024) / statm;
  pageSize = [4096, 16384, 65536].reduce((a, b) => (Math.abs(b - guess) < Math.abs(a - guess) ? b : a));
  return pageSize;
}

/**
 * The usage of each process group (a process-runtime container runs as one, led by its shell):
 * one pass over /proc for all of them.
 */
export function processGroupUsage(groups: ReadonlySet<number>): Map<number, Usage> {
  const out = new Map<number, Usage>();
  if (groups.size === 0) return out;
  const page = pageBytes();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: ProcStat | undefined;
    try {
      stat = parseProcStat(readFileSync(`/proc/${entry}/stat`, 'utf8'));
    } catch {
      continue; // gone since the listing
    }
    if (!stat || !groups.has(stat.pgrp)) continue;
    const u = out.get(stat.pgrp) ?? { cpuNanos: 0, memoryBytes: 0 };
    u.cpuNanos += stat.cpuTicks * NANOS_PER_TICK;
    u.memoryBytes += stat.rssPages * page;
    out.set(stat.pgrp, u);
  }
  return out;
}

/** The node's busy CPU time (all CPUs, not idle nor waiting on I/O) and memory in use (total − available). */
export function nodeUsage(procStat: string, meminfo: string): Usage {
  const cpu = procStat.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0) * 1024;
  return {
    cpuNanos: (user + nice + system + irq + softirq + steal) * NANOS_PER_TICK,
    memoryBytes: kb('MemTotal') - kb('MemAvailable'),
  };
}

/** A running pod as the sampler sees it. */
export interface SampledPod {
  uid: string;
  namespace: string;
  name: string;
  containers: RuntimeContainer[];
}

interface Previous {
  cpuNanos: number;
  at: number;
}

/** Cores used between two cumulative CPU readings. */
export function coresBetween(before: Previous, now: Previous): number | undefined {
  const seconds = (now.at - before.at) / 1000;
  if (seconds <= 0 || now.cpuNanos < before.cpuNanos) return undefined; // restarted: no rate yet
  return (now.cpuNanos - before.cpuNanos) / 1e9 / seconds;
}

export class UsageSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly previous = new Map<string, Previous>();
  private report: ResourceUsageReport = { pods: [] };
  /** CPU this process spent sampling (ms, user + system, summed), for the benchmark. */
  spentCpuMs = 0;

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly node: string,
    private readonly pods: () => SampledPod[],
    private readonly intervalMs = 10_000,
    private readonly readNode: () => Usage = () =>
      nodeUsage(readFileSync('/proc/stat', 'utf8'), readFileSync('/proc/meminfo', 'utf8')),
  ) {}

  start(): void {
    const tick = () => {
      this.sample().catch(() => undefined);
      this.timer = setTimeout(tick, this.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** The newest report: pods and node with two readings so far; nothing before. */
  latest(): ResourceUsageReport {
    return this.report;
  }

  async sample(): Promise<ResourceUsageReport> {
    const started = process.cpuUsage();
    const pods = this.pods();
    const running = pods.flatMap((p) => p.containers.filter((c) => c.state === 'running'));
    const usage = await this.runtime.usage(running.map((c) => c.id));
    const at = Date.now();
    const seen = new Set<string>();
    const window = (key: string, cpuNanos: number): { cores: number; windowMs: number } | undefined => {
      seen.add(key);
      const before = this.previous.get(key);
      this.previous.set(key, { cpuNanos, at });
      const cores = before && coresBetween(before, { cpuNanos, at });
      return cores === undefined ? undefined : { cores, windowMs: at - before!.at };
    };
    const podReports: PodUsage[] = [];
    for (const pod of pods) {
      const containers = [];
      let windowMs = 0;
      for (const c of pod.containers) {
        const u = c.state === 'running' ? usage.get(c.id) : undefined;
        if (!u) continue;
        const w = window(c.id, u.cpuNanos);
        if (!w) continue;
        windowMs = Math.max(windowMs, w.windowMs);
        containers.push({ name: c.name, cpuCores: w.cores, memoryBytes: u.memoryBytes });
      }
      if (containers.length)
        podReports.push({
          namespace: pod.namespace,
          name: pod.name,
          uid: pod.uid,
          timestamp: at,
          windowMs,
          containers,
        });
    }
    let nodeReport: NodeUsage | undefined;
    try {
      const n = this.readNode();
      const w = window('node', n.cpuNanos);
      if (w)
        nodeReport = {
          name: this.node,
          timestamp: at,
          windowMs: w.windowMs,
          cpuCores: w.cores,
          memoryBytes: n.memoryBytes,
        };
    } catch {
      // no /proc (not Linux): pods only
    }
    for (const key of this.previous.keys()) if (!seen.has(key)) this.previous.delete(key);
    this.report = { ...(nodeReport ? { node: nodeReport } : {}), pods: podReports };
    const spent = process.cpuUsage(started);
    this.spentCpuMs += (spent.user + spent.system) / 1000;
    return this.report;
  }
}
