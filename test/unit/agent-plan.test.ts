/** The agent's pod planner: starts, init order, restart policies, back-off, probes, termination, status. */
import { describe, expect, it } from 'vitest';
import { planPod, restartDelay, type ProbeView } from '../../src/agent/plan.js';
import type { RuntimeContainer } from '../../src/agent/runtime.js';
import { expand } from '../../src/agent/resolve.js';

const NOW = 1_000_000_000;
const probes = (o: Partial<Record<keyof ProbeView, string[]>> = {}): ProbeView => ({
  ready: new Set(o.ready ?? []),
  unhealthy: new Set(o.unhealthy ?? []),
  started: new Set(o.started ?? []),
});
const pod = (o: { policy?: string; init?: string[]; containers?: string[]; deleting?: boolean } = {}) => ({
  metadata: { uid: 'u', ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: {
    restartPolicy: o.policy ?? 'Always',
    containers: (o.containers ?? ['main']).map((name) => ({ name, image: 'i' })),
    ...(o.init ? { initContainers: o.init.map((name) => ({ name, image: 'i' })) } : {}),
  },
});
const running = (name: string, restartCount = 0, id = `${name}-${restartCount}`): RuntimeContainer => ({
  id,
  podUid: 'u',
  name,
  restartCount,
  state: 'running',
  startedAt: NOW - 5000,
  ports: [],
  image: 'i',
});
const exited = (
  name: string,
  exitCode: number,
  restartCount = 0,
  finishedAgoMs = 1000,
  ranMs = 1000,
): RuntimeContainer => ({
  id: `${name}-${restartCount}`,
  podUid: 'u',
  name,
  restartCount,
  state: 'exited',
  exitCode,
  startedAt: NOW - finishedAgoMs - ranMs,
  finishedAt: NOW - finishedAgoMs,
  ports: [],
  image: 'i',
});
const starts = (p: ReturnType<typeof planPod>) => p.start.map((s) => `${s.name}#${s.restartCount}`);

describe('planPod', () => {
  it('starts what has never run; init containers first, one at a time, in order', () => {
    expect(starts(planPod(pod(), [], probes(), NOW, 'process'))).toEqual(['main#0']);
    expect(starts(planPod(pod({ init: ['a', 'b'] }), [], probes(), NOW, 'process'))).toEqual(['a#0']);
    expect(starts(planPod(pod({ init: ['a', 'b'] }), [exited('a', 0)], probes(), NOW, 'process'))).toEqual(['b#0']);
    expect(
      starts(planPod(pod({ init: ['a', 'b'] }), [exited('a', 0), exited('b', 0)], probes(), NOW, 'process')),
    ).toEqual(['main#0']);
    const failedInit = planPod(pod({ init: ['a'], policy: 'Never' }), [exited('a', 1)], probes(), NOW, 'process');
    expect([starts(failedInit), failedInit.status.phase]).toEqual([[], 'Failed']);
  });

  it.each([
    ['Always', 0, ['main#1']],
    ['Always', 1, ['main#1']],
    ['OnFailure', 0, []],
    ['OnFailure', 1, ['main#1']],
    ['Never', 1, []],
  ])('restartPolicy %s, exit %i → %j', (policy, code, expected) => {
    expect(starts(planPod(pod({ policy }), [exited('main', code)], probes(), NOW, 'process'))).toEqual(expected);
  });

  it('backs off 0, 10 s, 20 s, … to 5 min, and not after a long run', () => {
    expect([0, 1, 2, 3, 10].map(restartDelay)).toEqual([0, 10_000, 20_000, 40_000, 300_000]);
    const waiting = planPod(pod(), [exited('main', 1, 2, 5_000)], probes(), NOW, 'process');
    expect(starts(waiting)).toEqual([]);
    expect(waiting.requeueAfterMs).toBe(15_000);
    expect(waiting.status.containerStatuses?.[0]).toMatchObject({
      restartCount: 2,
      state: { waiting: { reason: 'CrashLoopBackOff' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error' } },
    });
    expect(starts(planPod(pod(), [exited('main', 1, 2, 5_000, 11 * 60_000)], probes(), NOW, 'process'))).toEqual([
      'main#3',
    ]);
  });

  it('restarts a container that failed its liveness probe; Ready follows readiness', () => {
    const c = running('main');
    expect(planPod(pod(), [c], probes({ unhealthy: [c.id] }), NOW, 'process').stop).toEqual([c.id]);
    const notReady = planPod(pod(), [c], probes(), NOW, 'process').status;
    expect(notReady.conditions?.find((x) => x.type === 'Ready')?.status).toBe('False');
    const ready = planPod(pod(), [c], probes({ ready: [c.id], started: [c.id] }), NOW, 'process').status;
    expect(ready).toMatchObject({ phase: 'Running' });
    expect(ready.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');
    expect(ready.containerStatuses?.[0]).toMatchObject({
      ready: true,
      started: true,
      state: { running: {} },
      containerID: `process://${c.id}`,
    });
  });

  it('a terminating pod stops everything, then is done; finished pods report their phase', () => {
    const c = running('main');
    expect(planPod(pod({ deleting: true }), [c], probes(), NOW, 'process')).toMatchObject({
      stop: [c.id],
      terminated: false,
    });
    expect(planPod(pod({ deleting: true }), [exited('main', 0)], probes(), NOW, 'process').terminated).toBe(true);
    expect(planPod(pod({ policy: 'Never' }), [exited('main', 0)], probes(), NOW, 'process').status.phase).toBe(
      'Succeeded',
    );
    expect(
      planPod(
        pod({ policy: 'Never', containers: ['a', 'b'] }),
        [exited('a', 0), exited('b', 3)],
        probes(),
        NOW,
        'process',
      ).status.phase,
    ).toBe('Failed');
  });

  it('keeps the current and the previous instance of each container, no older one', () => {
    const plan = planPod(
      pod(),
      [exited('main', 1, 0, 60_000), exited('main', 1, 1, 30_000), running('main', 2)],
      probes(),
      NOW,
      'process',
    );
    expect(plan.remove).toEqual(['main-0']);
  });

  it('expands $(VAR) references as Kubernetes does', () => {
    expect(expand('http://$(HOST):$(PORT)/$(MISSING) $$(HOST)', { HOST: 'a', PORT: '1' })).toBe(
      'http://a:1/$(MISSING) $(HOST)',
    );
  });
});

describe('PortAllocator', () => {
  it('does not hand a released port out again for a minute', async () => {
    const { PortAllocator, PORT_REUSE_DELAY_MS } = await import('../../src/agent/ports.js');
    let clock = 0;
    const ports = new PortAllocator(() => clock);
    ports.reserve(40123);
    expect(ports.available(40123)).toBe(false);
    ports.release(40123);
    expect(ports.available(40123)).toBe(false);
    clock += PORT_REUSE_DELAY_MS - 1;
    expect(ports.available(40123)).toBe(false);
    clock += 1;
    expect(ports.available(40123)).toBe(true);
    const fresh = await ports.allocate();
    expect(ports.available(fresh)).toBe(false);
  });
});
