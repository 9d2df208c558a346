/** PodDisruptionBudget arithmetic and eviction verdicts, as Kubernetes' disruption controller and eviction subresource. */
import { describe, expect, it } from 'vitest';
import {
  DISRUPTION_TIMEOUT_MS,
  budgetMatches,
  budgetPod,
  budgetStatus,
  evictionVerdict,
  scaledValue,
  type BudgetSpec,
} from '../../src/api/disruption.js';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const pods = (ready: number, unready = 0) => [
  ...Array.from({ length: ready }, (_, i) => ({ name: `r${i}`, ready: true, deleting: false })),
  ...Array.from({ length: unready }, (_, i) => ({ name: `u${i}`, ready: false, deleting: false })),
];

describe('budget status', () => {
  it.each<
    [
      string,
      BudgetSpec,
      number,
      number,
      { expectedPods: number; desiredHealthy: number; currentHealthy: number; disruptionsAllowed: number },
    ]
  >([
    [
      'minAvailable 2 of 2 ready',
      { minAvailable: 2 },
      2,
      2,
      { expectedPods: 2, desiredHealthy: 2, currentHealthy: 2, disruptionsAllowed: 0 },
    ],
    [
      'minAvailable 2 of 3 ready',
      { minAvailable: 2 },
      3,
      3,
      { expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 },
    ],
    [
      'minAvailable 50% of 3 (rounded up to 2)',
      { minAvailable: '50%' },
      3,
      3,
      { expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 },
    ],
    [
      'maxUnavailable 1 of 3',
      { maxUnavailable: 1 },
      3,
      3,
      { expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 },
    ],
    [
      'maxUnavailable 1, scale 4, 3 ready',
      { maxUnavailable: 1 },
      3,
      4,
      { expectedPods: 4, desiredHealthy: 3, currentHealthy: 3, disruptionsAllowed: 0 },
    ],
    [
      'maxUnavailable 0 never allows',
      { maxUnavailable: 0 },
      3,
      3,
      { expectedPods: 3, desiredHealthy: 3, currentHealthy: 3, disruptionsAllowed: 0 },
    ],
    [
      'maxUnavailable 34% of 3 (rounded up to 2)',
      { maxUnavailable: '34%' },
      3,
      3,
      { expectedPods: 3, desiredHealthy: 1, currentHealthy: 3, disruptionsAllowed: 2 },
    ],
    [
      'no pods: nothing allowed',
      { maxUnavailable: 1 },
      0,
      0,
      { expectedPods: 0, desiredHealthy: 0, currentHealthy: 0, disruptionsAllowed: 0 },
    ],
  ])('%s', (_, spec, ready, scale, want) => {
    expect(budgetStatus(spec, pods(ready), scale, {}, NOW)).toMatchObject(want);
  });

  it('an unready pod is not healthy', () => {
    expect(budgetStatus({ minAvailable: 2 }, pods(2, 1), 3, {}, NOW)).toMatchObject({
      expectedPods: 3,
      currentHealthy: 2,
      disruptionsAllowed: 0,
    });
  });

  it('a granted eviction counts until its pod is gone, being deleted, or two minutes passed', () => {
    const granted = new Date(NOW - 1000).toISOString();
    expect(budgetStatus({ minAvailable: 1 }, pods(3), 3, { r0: granted }, NOW)).toMatchObject({
      currentHealthy: 2,
      disruptionsAllowed: 1,
      disruptedPods: { r0: granted },
    });
    expect(budgetStatus({ minAvailable: 1 }, pods(3).slice(1), 2, { r0: granted }, NOW).disruptedPods).toEqual({});
    const deleting = pods(3).map((p) => (p.name === 'r0' ? { ...p, deleting: true } : p));
    expect(budgetStatus({ minAvailable: 1 }, deleting, 3, { r0: granted }, NOW)).toMatchObject({
      currentHealthy: 2,
      disruptedPods: {},
    });
    expect(
      budgetStatus({ minAvailable: 1 }, pods(3), 3, { r0: granted }, NOW + DISRUPTION_TIMEOUT_MS).disruptedPods,
    ).toEqual({});
  });

  it('scaled values: ints as they are, percentages rounded up, anything else refused', () => {
    expect([scaledValue(3, 10), scaledValue('25%', 10), scaledValue('0%', 10), scaledValue('100%', 7)]).toEqual([
      3, 3, 0, 7,
    ]);
    expect(() => scaledValue('half', 10)).toThrow(/neither an integer nor a percentage/);
  });
});

describe('eviction verdicts', () => {
  const budget = (status: Record<string, number>, spec: BudgetSpec = { minAvailable: 2 }) => ({
    name: 'web',
    generation: 1,
    spec,
    status: { observedGeneration: 1, ...status },
  });
  const ready = { name: 'p', ready: true, deleting: false };

  it.each([
    ['no budget', ready, [], true, undefined],
    ['a pod already being deleted', { ...ready, deleting: true }, [budget({ disruptionsAllowed: 0 })], true, undefined],
    [
      'a budget with a disruption to spare',
      ready,
      [budget({ disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2 })],
      true,
      'web',
    ],
    [
      'a budget with none to spare',
      ready,
      [budget({ disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 })],
      false,
      'TooManyRequests',
    ],
    [
      'an unready pod while the budget is met',
      { ...ready, ready: false },
      [budget({ disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 })],
      true,
      undefined,
    ],
    [
      'an unready pod while the budget is not met',
      { ...ready, ready: false },
      [budget({ disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 2 })],
      false,
      'TooManyRequests',
    ],
    [
      'an unready pod under AlwaysAllow',
      { ...ready, ready: false },
      [
        budget(
          { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 2 },
          { minAvailable: 2, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
        ),
      ],
      true,
      undefined,
    ],
    [
      'a budget the controller has not seen yet',
      ready,
      [{ name: 'web', generation: 2, spec: {}, status: { observedGeneration: 1, disruptionsAllowed: 5 } }],
      false,
      'TooManyRequests',
    ],
    [
      'two budgets',
      ready,
      [budget({ disruptionsAllowed: 1 }), { ...budget({ disruptionsAllowed: 1 }), name: 'other' }],
      false,
      'Internal',
    ],
  ])('%s', (_, pod, budgets, allowed, chargeOrCode) => {
    const v = evictionVerdict(pod, budgets);
    expect(v.allowed).toBe(allowed);
    if (v.allowed) expect(v.charge).toBe(chargeOrCode);
    else expect(v.error.code).toBe(chargeOrCode);
  });

  it('a refusal says what the budget needs, as Kubernetes does', () => {
    const v = evictionVerdict(ready, [budget({ disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 })]);
    expect(v).toMatchObject({
      allowed: false,
      causes: [
        { reason: 'DisruptionBudget', message: 'The disruption budget web needs 2 healthy pods and has 2 currently' },
      ],
    });
    if (!v.allowed) expect(v.error.message).toBe("Cannot evict pod as it would violate the pod's disruption budget.");
  });
});

describe('budget selectors and pods', () => {
  it('null selects nothing, {} everything, labels what they say', () => {
    const b = (selector?: object) => ({
      kind: 'PodDisruptionBudget',
      metadata: { name: 'b' },
      ...(selector ? { spec: { selector } } : {}),
    });
    expect(budgetMatches(b(), { app: 'web' })).toBe(false);
    expect(budgetMatches(b({}), { app: 'web' })).toBe(true);
    expect(budgetMatches(b({ matchLabels: { app: 'web' } }), { app: 'web' })).toBe(true);
    expect(budgetMatches(b({ matchLabels: { app: 'web' } }), { app: 'db' })).toBe(false);
  });
  it('a pod is healthy when Ready is True', () => {
    expect(budgetPod({ metadata: { name: 'p' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } })).toEqual(
      { name: 'p', ready: true, deleting: false },
    );
    expect(
      budgetPod({
        metadata: { name: 'p', deletionTimestamp: 'x' },
        status: { conditions: [{ type: 'Ready', status: 'False' }] },
      }),
    ).toEqual({ name: 'p', ready: false, deleting: true });
  });
});
