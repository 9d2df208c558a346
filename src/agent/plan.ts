/**
 * What the agent does for one pod (the kubelet's syncPod, pure): init containers one by one to
 * success, then the app containers; restarts by restartPolicy with CrashLoopBackOff (10 s
 * doubling to 5 min, reset after 10 min of running); a container failing its liveness or startup
 * probe is restarted; a terminating pod stops everything; and the status the agent reports.
 */
import { CONDITION, REASON } from '../api/conditions.js';
import { timestamp } from '../api/lifecycle.js';
import type { Condition, Container, ContainerStatus, PodStatus } from '../api/types.gen.js';
import type { RuntimeContainer } from './runtime.js';

export const BACKOFF_BASE_MS = 10_000;
export const BACKOFF_MAX_MS = 5 * 60_000;
/** A container that ran this long before it ended starts again without waiting. */
export const BACKOFF_RESET_MS = 10 * 60_000;

type Pod = {
  metadata: { uid?: string; deletionTimestamp?: string };
  spec: { containers: Container[]; initContainers?: Container[]; restartPolicy?: string };
  status?: PodStatus;
};

export interface ProbeView {
  /** Passed its readiness probe (or has none) — per container instance id. */
  ready: Set<string>;
  /** Failed liveness or startup past its threshold: restart it. */
  unhealthy: Set<string>;
  /** Passed its startup probe (or has none). */
  started: Set<string>;
}

export interface PodPlan {
  /** Containers to start, with the restart count of the new instance. */
  start: { name: string; restartCount: number; init: boolean }[];
  /** Instances to stop (running ones that must not be). */
  stop: string[];
  /** Old exited instances to forget (the one before the current is kept, for --previous). */
  remove: string[];
  /** Everything stopped and removed: the pod may go. */
  terminated: boolean;
  status: PodStatus;
  /** When a backoff ends. */
  requeueAfterMs?: number;
}

/** The wait before the next start, after `restarts` restarts so far. */
export function restartDelay(restarts: number): number {
  return restarts <= 0 ? 0 : Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (restarts - 1));
}

const stamp = (ms: number) => timestamp(new Date(ms));

export function planPod(
  pod: Pod,
  instances: RuntimeContainer[],
  probes: ProbeView,
  now: number,
  runtime: string,
  failed?: string | { reason: string; message: string },
): PodPlan {
  // Why the pod cannot start: its config (a missing ConfigMap, a refused spec) or its image.
  const failure = typeof failed === 'string' ? { reason: 'CreateContainerConfigError', message: failed } : failed;
  const plan: PodPlan = { start: [], stop: [], remove: [], terminated: false, status: {} };
  const policy = pod.spec.restartPolicy ?? 'Always';
  const byName = new Map<string, RuntimeContainer[]>();
  for (const c of instances)
    byName.set(
      c.name,
      [...(byName.get(c.name) ?? []), c].sort((a, b) => a.restartCount - b.restartCount || a.startedAt - b.startedAt),
    );
  const latest = (name: string) => byName.get(name)?.at(-1);
  // The current instance and the one before it (its logs are `--previous`) stay; older ones go.
  for (const list of byName.values()) for (const old of list.slice(0, -2)) plan.remove.push(old.id);

  if (pod.metadata.deletionTimestamp) {
    plan.stop = instances.filter((c) => c.state === 'running').map((c) => c.id);
    plan.terminated = plan.stop.length === 0;
    plan.status = status(pod, byName, probes, now, runtime, { phase: pod.status?.phase ?? 'Running' });
    return plan;
  }
  if (failure) {
    plan.status = status(pod, byName, probes, now, runtime, { phase: 'Pending', failure });
    return plan;
  }

  const waits: number[] = [];
  /** Whether the container should (re)start now; records why it waits otherwise. */
  const consider = (c: Container, init: boolean): 'running' | 'succeeded' | 'failed' | 'starting' => {
    const last = latest(c.name);
    if (last?.state === 'running') {
      if (probes.unhealthy.has(last.id)) {
        plan.stop.push(last.id);
        return 'starting';
      }
      return 'running';
    }
    if (!last) {
      plan.start.push({ name: c.name, restartCount: 0, init });
      return 'starting';
    }
    const succeeded = last.exitCode === 0;
    const restart = policy === 'Always' ? !init || !succeeded : policy === 'OnFailure' ? !succeeded : false;
    if (!restart) return succeeded ? 'succeeded' : 'failed';
    const ran = (last.finishedAt ?? now) - last.startedAt;
    // As the kubelet: the first restart at once, then 10 s, 20 s, … after each end.
    const delay = ran >= BACKOFF_RESET_MS ? 0 : restartDelay(last.restartCount);
    const at = (last.finishedAt ?? now) + delay;
    if (at <= now) plan.start.push({ name: c.name, restartCount: last.restartCount + 1, init });
    else waits.push(at - now);
    return 'starting';
  };

  let initialized = true;
  for (const c of pod.spec.initContainers ?? []) {
    const state = consider(c, true);
    if (state === 'succeeded') continue;
    initialized = false;
    if (state === 'failed') {
      plan.status = status(pod, byName, probes, now, runtime, { phase: 'Failed' });
      return plan;
    }
    break; // one at a time, in order
  }
  const states = initialized ? pod.spec.containers.map((c) => consider(c, false)) : [];
  if (waits.length) plan.requeueAfterMs = Math.min(...waits);

  let phase: PodStatus['phase'] = 'Pending';
  if (initialized && states.length) {
    if (states.some((s) => s === 'running')) phase = 'Running';
    else if (states.every((s) => s === 'succeeded')) phase = 'Succeeded';
    else if (states.every((s) => s === 'succeeded' || s === 'failed')) phase = 'Failed';
    else if (pod.status?.phase === 'Running' && states.some((s) => s === 'starting') && instances.length)
      phase = 'Running';
  }
  plan.status = status(pod, byName, probes, now, runtime, {
    phase,
    initialized,
    waiting: new Set(waits.length ? pod.spec.containers.map((c) => c.name) : []),
  });
  return plan;
}

function status(
  pod: Pod,
  byName: Map<string, RuntimeContainer[]>,
  probes: ProbeView,
  now: number,
  runtime: string,
  o: {
    phase: PodStatus['phase'];
    initialized?: boolean;
    failure?: { reason: string; message: string };
    waiting?: Set<string>;
  },
): PodStatus {
  const prev = pod.status ?? {};
  const at = stamp(now);
  const statusOf = (c: Container): ContainerStatus => {
    const list = byName.get(c.name) ?? [];
    const last = list.at(-1);
    const before = list.at(-2);
    const terminated = (x: RuntimeContainer) => ({
      terminated: {
        exitCode: x.exitCode ?? 0,
        reason: x.exitCode === 0 ? 'Completed' : 'Error',
        startedAt: stamp(x.startedAt),
        finishedAt: stamp(x.finishedAt ?? now),
        containerID: `${runtime}://${x.id}`,
      },
    });
    let state: ContainerStatus['state'];
    if (!last)
      state = {
        waiting: o.failure ? { reason: o.failure.reason, message: o.failure.message } : { reason: 'ContainerCreating' },
      };
    else if (last.state === 'running') state = { running: { startedAt: stamp(last.startedAt) } };
    else if (o.waiting?.has(c.name) && last.exitCode !== undefined)
      state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off restarting failed container ${c.name}` } };
    else state = terminated(last);
    const lastState =
      state.waiting?.reason === 'CrashLoopBackOff' && last ? terminated(last) : before ? terminated(before) : undefined;
    return {
      name: c.name,
      image: c.image,
      imageID: '',
      ...(last ? { containerID: `${runtime}://${last.id}` } : {}),
      ready: Boolean(last && last.state === 'running' && probes.ready.has(last.id)),
      started: Boolean(last && last.state === 'running' && probes.started.has(last.id)),
      restartCount: last?.restartCount ?? 0,
      state,
      ...(lastState ? { lastState } : {}),
    } as ContainerStatus;
  };
  const containerStatuses = pod.spec.containers.map(statusOf);
  const initContainerStatuses = (pod.spec.initContainers ?? []).map(statusOf);
  const allReady = containerStatuses.length > 0 && containerStatuses.every((s) => s.ready);
  const condition = (type: string, ok: boolean, reason?: string): Condition => {
    const old = prev.conditions?.find((c) => c.type === type);
    const s = ok ? 'True' : 'False';
    return {
      type,
      status: s,
      lastTransitionTime: old?.status === s ? (old.lastTransitionTime ?? at) : at,
      ...(ok || !reason ? {} : { reason }),
    } as Condition;
  };
  const initialized = o.initialized ?? true;
  const ports = [...byName.values()]
    .map((l) => l.at(-1))
    .filter((x): x is RuntimeContainer => Boolean(x))
    .flatMap((x) =>
      x.ports.map((p) => ({
        containerName: x.name,
        ...(p.name ? { name: p.name } : {}),
        containerPort: p.containerPort,
        hostPort: p.hostPort,
        protocol: p.protocol,
      })),
    );
  const terminal = o.phase === 'Succeeded' || o.phase === 'Failed';
  return {
    phase: o.phase,
    conditions: [
      condition(CONDITION.PodScheduled, true),
      condition(CONDITION.Initialized, initialized, REASON.ContainersNotInitialized),
      condition(CONDITION.ContainersReady, allReady && !terminal, REASON.ContainersNotReady),
      condition(CONDITION.Ready, allReady && !terminal, REASON.ContainersNotReady),
    ],
    ...(o.failure ? { message: o.failure.message, reason: o.failure.reason } : {}),
    startTime: prev.startTime ?? at,
    ...(initContainerStatuses.length ? { initContainerStatuses } : {}),
    containerStatuses,
    ...(ports.length ? { hostPorts: ports } : {}),
  };
}
