/**
 * The HPA's arithmetic against Kubernetes' own cases: replica_calculator_test.go (scale up and
 * down, tolerance, unready and missing pods) and the examples of the HPA documentation (the
 * ratio rule, default behavior, the Pods/Percent policies, stabilization, Disabled).
 */
import { describe, expect, it } from 'vitest';
import {
  averageValueReplicas,
  behaviorWithDefaults,
  limitRate,
  objectReplicas,
  stabilize,
  utilizationReplicas,
  type CandidatePod,
  type Sample,
} from '../../src/controllers/hpa/plan.js';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const LONG_AGO = NOW - 10 * 60_000;

/** Running, Ready for ten minutes, with a request of `request` cores. */
const pod = (name: string, request = 1, o: Partial<CandidatePod> = {}): CandidatePod => ({
  name,
  phase: 'Running',
  ready: { status: true, since: LONG_AGO },
  startedAt: LONG_AGO,
  request,
  ...o,
});
const samples = (values: Record<string, number>): Map<string, Sample> =>
  new Map(Object.entries(values).map(([k, v]) => [k, { value: v, timestamp: NOW - 1000, windowMs: 10_000 }]));

describe('utilization (Resource metric, Utilization target)', () => {
  const cases: {
    name: string;
    current: number;
    pods: CandidatePod[];
    usage: Record<string, number>;
    target: number;
    replicas: number;
    utilization: number;
  }[] = [
    {
      name: 'scale up: 50% against 30% → ceil(3 × 50/30)',
      current: 3,
      pods: [pod('a'), pod('b'), pod('c')],
      usage: { a: 0.3, b: 0.5, c: 0.7 },
      target: 30,
      replicas: 5,
      utilization: 50,
    },
    {
      name: 'scale up with an unready pod counted as 0 (less scale)',
      current: 3,
      pods: [pod('a', 1, { ready: { status: false, since: LONG_AGO } }), pod('b'), pod('c')],
      usage: { a: 0.3, b: 0.5, c: 0.7 },
      target: 30,
      replicas: 4,
      utilization: 60,
    },
    {
      name: 'scale up with a pending pod counted as 0',
      current: 3,
      pods: [pod('a', 1, { phase: 'Pending' }), pod('b'), pod('c')],
      usage: { b: 0.5, c: 0.7 },
      target: 30,
      replicas: 4,
      utilization: 60,
    },
    {
      name: 'a deleted and a failed pod are ignored',
      current: 3,
      pods: [pod('a', 1, { deleting: true }), pod('b', 1, { phase: 'Failed' }), pod('c')],
      usage: { a: 0.9, b: 0.9, c: 0.6 },
      target: 30,
      replicas: 2,
      utilization: 60,
    },
    {
      name: 'scale down: 28% against 50% → ceil(5 × 0.56)',
      current: 5,
      pods: [pod('a'), pod('b'), pod('c'), pod('d'), pod('e')],
      usage: { a: 0.1, b: 0.3, c: 0.5, d: 0.25, e: 0.25 },
      target: 50,
      replicas: 3,
      utilization: 28,
    },
    {
      name: 'within the 10% tolerance: no change',
      current: 3,
      pods: [pod('a', 0.9), pod('b', 1), pod('c', 1.1)],
      usage: { a: 1.01, b: 1.03, c: 1.02 },
      target: 100,
      replicas: 3,
      utilization: 102,
    },
    {
      name: 'a pod with no sample counts as at its request on a scale-down: no change at 100%',
      current: 2,
      pods: [pod('a'), pod('b')],
      usage: { a: 1 },
      target: 100,
      replicas: 2,
      utilization: 100,
    },
    {
      name: 'missing pods count 100% of request on a scale-down (less scale down)',
      current: 4,
      pods: [pod('a'), pod('b'), pod('c'), pod('d')],
      usage: { a: 0.1, b: 0.1 },
      target: 50,
      // (0.1 + 0.1 + 1 + 1) / 4 = 55% → within tolerance of 50% (ratio 1.1): kept.
      replicas: 4,
      utilization: 10,
    },
    {
      name: 'missing pods count 0 on a scale-up',
      current: 4,
      pods: [pod('a'), pod('b'), pod('c'), pod('d')],
      usage: { a: 1, b: 1 },
      target: 25,
      // ready ratio 4; corrected (1 + 1 + 0 + 0) / 4 = 50% → ratio 2 → 8.
      replicas: 8,
      utilization: 100,
    },
    {
      name: 'CPU of a pod ready only since after its sample began says nothing yet',
      current: 2,
      pods: [pod('a'), pod('b', 1, { startedAt: NOW - 20_000, ready: { status: true, since: NOW - 5000 } })],
      usage: { a: 1, b: 1 },
      target: 50,
      // a alone: 100% → ratio 2; b unready → 0 on scale-up: (1 + 0) / 2 = 50% → within tolerance: kept.
      replicas: 2,
      utilization: 100,
    },
  ];
  it.each(cases)('$name', (c) => {
    const result = utilizationReplicas(c.current, c.target, c.pods, samples(c.usage), true, NOW);
    expect(result).toEqual({ ok: true, replicas: c.replicas, current: c.utilization });
  });

  it('a pod without a request: no action, and why', () => {
    const result = utilizationReplicas(
      2,
      50,
      [pod('a'), pod('b', 1, { request: undefined })],
      samples({ a: 1 }),
      true,
      NOW,
    );
    expect(result).toEqual({
      ok: false,
      reason: 'FailedGetResourceMetric',
      message: 'missing request for cpu in pod b',
    });
  });
  it('no pods, no samples: errors as Kubernetes words them', () => {
    expect(utilizationReplicas(1, 50, [], new Map(), true, NOW)).toMatchObject({
      ok: false,
      message: 'no pods returned by selector while calculating replica count',
    });
    expect(utilizationReplicas(1, 50, [pod('a')], new Map(), true, NOW)).toMatchObject({
      ok: false,
      message: 'did not receive metrics for targeted pods (pods might be unready)',
    });
  });
});

describe('average values and object metrics (the docs: 200m against 100m doubles, 50m halves)', () => {
  it.each<{ current: number; usage: Record<string, number>; target: number; replicas: number }>([
    { current: 2, usage: { a: 0.2, b: 0.2 }, target: 0.1, replicas: 4 },
    { current: 4, usage: { a: 0.05, b: 0.05, c: 0.05, d: 0.05 }, target: 0.1, replicas: 2 },
    { current: 2, usage: { a: 0.105, b: 0.1 }, target: 0.1, replicas: 2 },
  ])('$current pods at $usage against $target → $replicas', (c) => {
    const pods = Object.keys(c.usage).map((n) => pod(n));
    expect(averageValueReplicas(c.current, c.target, pods, samples(c.usage), false, NOW)).toMatchObject({
      ok: true,
      replicas: c.replicas,
    });
  });
  it.each([
    // Value: 300 rps against 100 with 2 ready pods → ceil(3 × 2).
    { current: 2, ready: 2, value: 300, target: { value: 100 }, replicas: 6 },
    { current: 2, ready: 2, value: 105, target: { value: 100 }, replicas: 2 },
    // AverageValue: 300 rps over pods of 50 each → 6, whatever the current count.
    { current: 3, ready: 3, value: 300, target: { averageValue: 50 }, replicas: 6 },
    { current: 6, ready: 6, value: 290, target: { averageValue: 50 }, replicas: 6 },
    { current: 4, ready: 4, value: 20, target: { averageValue: 50 }, replicas: 1 },
  ])('object metric $value against $target → $replicas', (c) => {
    expect(objectReplicas(c.current, c.ready, c.value, c.target)).toMatchObject({ ok: true, replicas: c.replicas });
  });
});

describe('behavior (the HPA docs)', () => {
  const defaults = behaviorWithDefaults(undefined);
  it('defaults: up by max(4 pods, 100%) per 15 s at once; down by 100% after a 300 s window', () => {
    expect(defaults.scaleUp).toEqual({
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ],
    });
    expect(defaults.scaleDown.stabilizationWindowSeconds).toBe(300);
    expect(behaviorWithDefaults(undefined, 6).scaleDown.stabilizationWindowSeconds).toBe(6);
    expect(behaviorWithDefaults({ scaleDown: { stabilizationWindowSeconds: 60 } }, 6).scaleDown).toMatchObject({
      stabilizationWindowSeconds: 60,
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    });
  });
  it('scale-up from 1 to 10: at most 5 now (4 pods beats 100%), 10 once the period has passed', () => {
    expect(limitRate(1, 10, 1, 20, defaults, [], [], NOW)).toMatchObject({ replicas: 5, reason: 'ScaleUpLimit' });
    const justScaled = [{ change: 4, at: NOW - 5000 }];
    // 5 now; the period started at 1: still at most 5.
    expect(limitRate(5, 10, 1, 20, defaults, justScaled, [], NOW)).toMatchObject({ replicas: 5 });
    expect(limitRate(5, 10, 1, 20, defaults, [{ change: 4, at: NOW - 20_000 }], [], NOW)).toMatchObject({
      replicas: 10,
      limited: false,
    });
  });
  it('max and min clamp with their reasons', () => {
    expect(limitRate(2, 9, 1, 3, defaults, [], [], NOW)).toMatchObject({ replicas: 3, reason: 'TooManyReplicas' });
    expect(limitRate(5, 0, 2, 10, defaults, [], [], NOW)).toMatchObject({ replicas: 2, reason: 'TooFewReplicas' });
  });
  it('80 → 10 with "4 pods or 10% per minute" (selectPolicy Max): 8 go first, then 8 of 72, then 4 at a time below 40', () => {
    const b = behaviorWithDefaults({
      scaleDown: {
        policies: [
          { type: 'Pods', value: 4, periodSeconds: 60 },
          { type: 'Percent', value: 10, periodSeconds: 60 },
        ],
      },
    });
    expect(limitRate(80, 10, 1, 100, b, [], [], NOW).replicas).toBe(72);
    expect(limitRate(72, 10, 1, 100, b, [], [], NOW).replicas).toBe(64);
    expect(limitRate(72, 10, 1, 100, b, [], [{ change: 8, at: NOW - 30_000 }], NOW).replicas).toBe(72);
    expect(limitRate(38, 10, 1, 100, b, [], [], NOW).replicas).toBe(34);
  });
  it('selectPolicy Min takes the smaller change; Disabled never scales that way', () => {
    const min = behaviorWithDefaults({ scaleUp: { selectPolicy: 'Min' } });
    expect(limitRate(1, 10, 1, 20, min, [], [], NOW).replicas).toBe(2);
    const off = behaviorWithDefaults({ scaleDown: { selectPolicy: 'Disabled' } });
    expect(limitRate(5, 1, 1, 20, off, [], [], NOW).replicas).toBe(5);
  });
  it('stabilization: down to the highest recommendation of the window; up at once', () => {
    const b = behaviorWithDefaults({ scaleDown: { stabilizationWindowSeconds: 300 } });
    const recent = [
      { replicas: 6, at: NOW - 200_000 },
      { replicas: 4, at: NOW - 100_000 },
    ];
    const down = stabilize(5, 2, b, recent, NOW);
    expect(down).toMatchObject({ replicas: 5, reason: 'ScaleDownStabilized' });
    expect(down.recommendations).toHaveLength(3);
    // Once the 6 has left the window, the 4 holds.
    expect(stabilize(5, 2, b, recent, NOW + 150_000).replicas).toBe(4);
    expect(stabilize(5, 9, b, recent, NOW)).toMatchObject({ replicas: 9, reason: 'ScaleUpStabilized' });
    // A recommendation older than both windows is replaced, not kept.
    expect(stabilize(5, 5, b, [{ replicas: 1, at: NOW - 400_000 }], NOW).recommendations).toEqual([
      { replicas: 5, at: NOW },
    ]);
  });
});
