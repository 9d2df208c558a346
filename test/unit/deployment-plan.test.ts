/**
 * The Deployment and ReplicaSet planners as tables (cases from Kubernetes' rolling_test.go and
 * its rounding rules), and a property over random rollouts: total pods never exceed
 * replicas+maxSurge, available never drops below replicas−maxUnavailable, and the rollout
 * completes once pods become ready.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fenceposts,
  newReplicaCount,
  oldReplicaCounts,
  planDeployment,
  podTemplateHash,
  revisionOf,
  templatesEqual,
  type DeploymentAction,
} from '../../src/controllers/deployment/plan.js';
import type { DeploymentObject, PodObject, ReplicaSetObject } from '../../src/controllers/objects.js';
import { compareForDeletion, podNamer } from '../../src/controllers/pods.js';
import { claimPods, planReplicaSet, replicaSetStatus } from '../../src/controllers/replicaset/plan.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(NOW + s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function deployment(
  replicas: number,
  rollingUpdate: { maxSurge?: number | string; maxUnavailable?: number | string } = {},
  image = 'web:2',
): DeploymentObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', uid: 'd-uid', generation: 1 },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      progressDeadlineSeconds: 600,
      revisionHistoryLimit: 10,
      strategy: { type: 'RollingUpdate', rollingUpdate },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image }] } },
    },
  } as DeploymentObject;
}

function replicaSet(
  name: string,
  image: string,
  replicas: number,
  available: number,
  revision: number,
  ageS = 0,
): ReplicaSetObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: 'default',
      uid: `${name}-uid`,
      generation: 1,
      creationTimestamp: at(ageS),
      annotations: { 'deployment.kubernetes.io/revision': String(revision) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd-uid', controller: true }],
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web', 'pod-template-hash': name } },
      template: {
        metadata: { labels: { app: 'web', 'pod-template-hash': name } },
        spec: { containers: [{ name: 'main', image }] },
      },
    },
    status: { replicas, readyReplicas: available, availableReplicas: available, observedGeneration: 1 },
  } as ReplicaSetObject;
}

const scales = (actions: DeploymentAction[]) =>
  Object.fromEntries(
    actions
      .filter((a) => a.type === 'scale')
      .map((a) => [(a as { name: string }).name, (a as { replicas: number }).replicas]),
  );

describe('fenceposts: maxSurge rounds up, maxUnavailable rounds down', () => {
  it.each([
    [10, '25%', '25%', 3, 2],
    [1, '25%', '25%', 1, 0],
    [4, '50%', '50%', 2, 2],
    [3, 0, 0, 0, 1], // both zero is invalid in Kubernetes; the controller keeps one unavailable
    [5, 2, '10%', 2, 0],
  ])(
    'replicas %i, maxSurge %s, maxUnavailable %s → surge %i, unavailable %i',
    (replicas, maxSurge, maxUnavailable, surge, unavailable) => {
      expect(fenceposts(deployment(replicas, { maxSurge, maxUnavailable }))).toEqual({ surge, unavailable });
    },
  );
});

describe('reconcileNewReplicaSet (rolling_test.go)', () => {
  it.each([
    // replicas, maxSurge, old, new, expected new
    [10, 0, 10, 0, 0],
    [10, 2, 10, 0, 2],
    [10, 2, 5, 0, 7],
    [10, 2, 10, 2, 2],
  ])('replicas %i surge %i with old %i new %i → new %i', (replicas, surge, old, current, expected) => {
    expect(newReplicaCount(replicas, surge, old + current, current)).toBe(expected);
  });

  it('scales a new ReplicaSet above replicas down', () => {
    const d = deployment(2, { maxSurge: 0, maxUnavailable: 1 });
    const plan = planDeployment({
      deployment: d,
      replicaSets: [replicaSet('new', 'web:2', 3, 3, 2)],
      activePods: {},
      now: NOW,
    });
    expect(scales(plan.actions)).toEqual({ new: 2 });
  });
});

describe('reconcileOldReplicaSets (rolling_test.go)', () => {
  it.each([
    // replicas, maxUnavailable, old replicas, old available, new replicas, new available, expected old
    [10, 0, 10, 10, 0, 0, 10],
    [10, 2, 10, 10, 0, 0, 8],
    [10, 2, 8, 8, 2, 0, 8],
    [10, 2, 10, 8, 0, 0, 8], // the 2 unhealthy old pods go first
    [10, 2, 5, 5, 5, 5, 3],
  ])(
    'replicas %i unavailable %i: old %i (%i available), new %i (%i available) → old %i',
    (replicas, unavailable, oldR, oldA, newR, newA, expected) => {
      const counts = oldReplicaCounts(replicas, unavailable, replicaSet('new', 'web:2', newR, newA, 2), [
        replicaSet('old', 'web:1', oldR, oldA, 1, -60),
      ]);
      expect(counts.get('old')).toBe(expected);
    },
  );
});

describe('planDeployment', () => {
  it('creates the first ReplicaSet named by the template hash, revision 1, scaled to replicas', () => {
    const d = deployment(3);
    const plan = planDeployment({ deployment: d, replicaSets: [], activePods: {}, now: NOW });
    const create = plan.actions.find((a) => a.type === 'create') as Extract<DeploymentAction, { type: 'create' }>;
    const hash = podTemplateHash(d.spec.template);
    expect(create.replicaSet.metadata.name).toBe(`web-${hash}`);
    expect(create.replicaSet.spec.replicas).toBe(3);
    expect(create.replicaSet.spec.selector.matchLabels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(revisionOf(create.replicaSet)).toBe(1);
    expect(plan.revision).toBe('1');
    expect(plan.status.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'NewReplicaSetCreated',
    });
  });

  it('the hash ignores the pod-template-hash label and changes with collisionCount', () => {
    const t = deployment(1).spec.template;
    const withHash = { ...t, metadata: { labels: { ...t.metadata!.labels, 'pod-template-hash': 'x' } } };
    expect(templatesEqual(t, withHash)).toBe(true);
    expect(podTemplateHash(t, 1)).not.toBe(podTemplateHash(t));
    expect(podTemplateHash(t)).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
  });

  it('an old ReplicaSet whose template comes back becomes the new one at the next revision', () => {
    const d = deployment(2, {}, 'web:1');
    const plan = planDeployment({
      deployment: d,
      replicaSets: [replicaSet('one', 'web:1', 0, 0, 1, -120), replicaSet('two', 'web:2', 2, 2, 2, -60)],
      activePods: {},
      now: NOW,
    });
    const bump = plan.actions.find((a) => a.type === 'scale' && a.name === 'one') as Extract<
      DeploymentAction,
      { type: 'scale' }
    >;
    expect(bump.annotations['deployment.kubernetes.io/revision']).toBe('3');
    expect(bump.annotations['deployment.kubernetes.io/revision-history']).toBe('1');
    expect(plan.revision).toBe('3');
  });

  it('deletes old, scaled-down ReplicaSets beyond revisionHistoryLimit once complete, oldest revision first', () => {
    const d = deployment(1);
    d.spec.revisionHistoryLimit = 1;
    const rss = [
      replicaSet('r1', 'web:0', 0, 0, 1, -300),
      replicaSet('r2', 'web:1', 0, 0, 2, -200),
      replicaSet('new', 'web:2', 1, 1, 3, -100),
    ];
    const plan = planDeployment({ deployment: d, replicaSets: rss, activePods: {}, now: NOW });
    expect(plan.actions.filter((a) => a.type === 'delete')).toEqual([{ type: 'delete', name: 'r1' }]);
    expect(plan.status.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
  });

  it('a paused deployment makes no new ReplicaSet', () => {
    const d = deployment(2);
    d.spec.paused = true;
    const plan = planDeployment({
      deployment: d,
      replicaSets: [replicaSet('old', 'web:1', 2, 2, 1)],
      activePods: {},
      now: NOW,
    });
    expect(plan.actions.filter((a) => a.type === 'create')).toEqual([]);
    expect(plan.status.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'Unknown',
      reason: 'DeploymentPaused',
    });
  });

  it('reports ProgressDeadlineExceeded once no progress was made for progressDeadlineSeconds', () => {
    const d = deployment(2);
    d.spec.progressDeadlineSeconds = 60;
    d.status = {
      replicas: 3,
      updatedReplicas: 1,
      readyReplicas: 2,
      availableReplicas: 2,
      observedGeneration: 1,
      conditions: [
        {
          type: 'Progressing',
          status: 'True',
          reason: 'ReplicaSetUpdated',
          message: '',
          lastUpdateTime: at(-61),
          lastTransitionTime: at(-61),
        },
      ],
    };
    const rss = [replicaSet('old', 'web:1', 2, 2, 1, -120), replicaSet('new', 'web:2', 1, 0, 2, -61)];
    rss[1]!.status = { replicas: 1, readyReplicas: 0, availableReplicas: 0, observedGeneration: 1 };
    const plan = planDeployment({ deployment: d, replicaSets: rss, activePods: {}, now: NOW });
    expect(plan.status.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
    expect(plan.events.some(([type, reason]) => type === 'Warning' && reason === 'ProgressDeadlineExceeded')).toBe(
      true,
    );
    // Before the deadline: not exceeded, and a requeue for when it would be.
    const early = planDeployment({ deployment: d, replicaSets: rss, activePods: {}, now: NOW - 2000 });
    expect(early.status.conditions?.find((c) => c.type === 'Progressing')?.status).toBe('True');
    expect(early.requeueAfterMs).toBeGreaterThan(0);
  });
});

function pod(
  name: string,
  options: {
    ready?: boolean;
    node?: string;
    phase?: string;
    createdS?: number;
    readySinceS?: number;
    restarts?: number;
    labels?: Record<string, string>;
    owner?: string;
  } = {},
): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      creationTimestamp: at(options.createdS ?? 0),
      labels: options.labels ?? { app: 'web', 'pod-template-hash': 'rs' },
      ...(options.owner
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: options.owner, controller: true },
            ],
          }
        : {}),
    },
    spec: { containers: [{ name: 'main', image: 'web' }], ...(options.node ? { nodeName: options.node } : {}) },
    status: {
      phase: (options.phase ?? (options.ready ? 'Running' : 'Pending')) as 'Running',
      conditions: options.ready
        ? [{ type: 'Ready', status: 'True', lastTransitionTime: at(options.readySinceS ?? 0) }]
        : [],
      containerStatuses: [{ name: 'main', restartCount: options.restarts ?? 0 } as never],
    },
  } as PodObject;
}

describe('ReplicaSet planner', () => {
  it('deletes in Kubernetes order: unscheduled, pending, not ready, ready for less time, more restarts, newest', () => {
    const pods = [
      pod('ready-old', { ready: true, node: 'n', readySinceS: -100 }),
      pod('ready-new', { ready: true, node: 'n', readySinceS: -10 }),
      pod('running-not-ready', { phase: 'Running', node: 'n' }),
      pod('pending-on-node', { node: 'n' }),
      pod('unscheduled', {}),
      pod('restarts', { ready: true, node: 'n', readySinceS: -100, restarts: 3 }),
    ];
    expect([...pods].sort(compareForDeletion).map((p) => p.metadata.name)).toEqual([
      'unscheduled',
      'pending-on-node',
      'running-not-ready',
      'ready-new',
      'restarts',
      'ready-old',
    ]);
  });

  it('creates what is missing and deletes the surplus', () => {
    const rs = replicaSet('rs', 'web', 3, 0, 1);
    expect(planReplicaSet(rs, [pod('a', { owner: 'rs-uid' })], NOW).create).toBe(2);
    const five = ['a', 'b', 'c', 'd', 'e'].map((n, i) => pod(n, { owner: 'rs-uid', ready: i < 3, node: 'n' }));
    expect(
      planReplicaSet(rs, five, NOW)
        .delete.map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['d', 'e']);
  });

  it('adopts matching orphans, releases non-matching pods, leaves pods of other controllers', () => {
    const rs = replicaSet('rs', 'web', 3, 0, 1);
    const claim = claimPods(rs, [
      pod('orphan', { labels: { app: 'web', 'pod-template-hash': 'rs' } }),
      pod('mine-relabelled', { owner: 'rs-uid', labels: { app: 'other' } }),
      pod('theirs', { owner: 'other-uid' }),
      pod('unrelated', { labels: { app: 'db' } }),
    ]);
    expect(claim.adopt.map((p) => p.metadata.name)).toEqual(['orphan']);
    expect(claim.release.map((p) => p.metadata.name)).toEqual(['mine-relabelled']);
    expect(claim.owned.map((p) => p.metadata.name)).toEqual(['orphan']);
  });

  it('counts available only after minReadySeconds, and asks to be woken then', () => {
    const rs = replicaSet('rs', 'web', 2, 0, 1);
    rs.spec.minReadySeconds = 30;
    const pods = [
      pod('a', { owner: 'rs-uid', ready: true, readySinceS: -40 }),
      pod('b', { owner: 'rs-uid', ready: true, readySinceS: -10 }),
    ];
    const plan = planReplicaSet(rs, pods, NOW);
    expect(plan.status).toMatchObject({ replicas: 2, readyReplicas: 2, availableReplicas: 1 });
    expect(plan.requeueAfterMs).toBe(20_001);
  });
});

/** A deterministic random source for the property test's readiness sequences. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A world of one Deployment, its ReplicaSets and pods, stepped by the two planners. */
function simulate(replicas: number, maxSurge: number | string, maxUnavailable: number | string, seed: number) {
  const random = mulberry32(seed);
  const d = deployment(replicas, { maxSurge, maxUnavailable }, 'web:1');
  const { surge, unavailable } = fenceposts(d);
  let rss: ReplicaSetObject[] = [];
  let pods: PodObject[] = [];
  let serial = 0;
  let now = NOW;
  const violations: string[] = [];
  const step = (checkInvariants: boolean): void => {
    now += 1000;
    const plan = planDeployment({ deployment: d, replicaSets: rss, activePods: {}, now });
    for (const a of plan.actions) {
      if (a.type === 'create')
        rss.push({
          ...a.replicaSet,
          metadata: {
            ...a.replicaSet.metadata,
            uid: `rs${serial++}`,
            creationTimestamp: new Date(now).toISOString(),
            generation: 1,
          },
          status: {},
        });
      else if (a.type === 'scale')
        rss = rss.map((rs) =>
          rs.metadata.name === a.name
            ? {
                ...rs,
                metadata: { ...rs.metadata, annotations: a.annotations },
                spec: { ...rs.spec, replicas: a.replicas },
              }
            : rs,
        );
      else rss = rss.filter((rs) => rs.metadata.name !== a.name);
    }
    d.status = plan.status;
    for (const rs of rss) {
      const owned = pods.filter((p) => p.metadata.ownerReferences?.[0]?.uid === rs.metadata.uid);
      const rsPlan = planReplicaSet(rs, owned, now);
      const gone = new Set(rsPlan.delete.map((p) => p.metadata.name));
      pods = pods.filter((p) => !gone.has(p.metadata.name));
      for (let i = 0; i < rsPlan.create; i++) {
        const p = pod(`p${serial++}`, {
          createdS: (now - NOW) / 1000,
          labels: rs.spec.template!.metadata!.labels as Record<string, string>,
        });
        p.metadata.ownerReferences = [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: rs.metadata.name,
            uid: rs.metadata.uid!,
            controller: true,
          },
        ];
        pods.push(p);
      }
    }
    for (const rs of rss)
      rs.status = replicaSetStatus(
        rs,
        pods.filter((p) => p.metadata.ownerReferences?.[0]?.uid === rs.metadata.uid),
        now,
      );
    if (checkInvariants) {
      const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready')).length;
      if (pods.length > replicas + surge) violations.push(`${pods.length} pods > ${replicas}+${surge}`);
      if (ready < replicas - unavailable) violations.push(`${ready} available < ${replicas}-${unavailable}`);
    }
  };
  const readyUp = (p: number): void => {
    for (const x of pods)
      if (!x.status?.conditions?.length && random() < p)
        x.status = {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(now).toISOString() }],
        };
  };
  const complete = () => {
    const s = d.status ?? {};
    return (
      s.updatedReplicas === replicas &&
      s.replicas === replicas &&
      s.availableReplicas === replicas &&
      rss.every((rs) => (rs.spec.replicas ?? 0) === 0 || templatesEqual(rs.spec.template, d.spec.template))
    );
  };
  return {
    /** Brings revision 1 up fully ready, then rolls to web:2 under random readiness. */
    run(): { violations: string[]; steps: number; complete: boolean; pods: PodObject[] } {
      for (let i = 0; i < 200 && !complete(); i++) {
        step(false);
        readyUp(1);
      }
      d.spec.template = {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'main', image: 'web:2' }] },
      };
      d.metadata.generation = 2;
      let steps = 0;
      for (; steps < 2000 && !complete(); steps++) {
        step(true);
        readyUp(random() * 0.6);
      }
      return { violations, steps, complete: complete(), pods };
    },
  };
}

describe('podNamer', () => {
  it('draws again for a name the informer holds or that it gave out, so a create batch never carries a taken one', () => {
    const asked: string[] = [];
    // The first three names it tries are taken (pods the informer knows).
    const informer = { get: (_ns: string, name: string) => (asked.push(name) <= 3 ? {} : undefined) };
    const nameOf = podNamer(informer, 'default');
    const first = nameOf('web-abc');
    expect(asked.length).toBe(4);
    expect(first).toBe(asked[3]);
    expect(first).toMatch(/^web-abc-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const names = new Set([first, ...Array.from({ length: 5000 }, () => nameOf('web-abc'))]);
    expect(names.size).toBe(5001);
  });
});

describe('rollout property', () => {
  const intOrPercent = (max: number) =>
    fc.oneof(
      fc.integer({ min: 0, max }),
      fc.integer({ min: 0, max: 100 }).map((n) => `${n}%`),
    );
  it('never exceeds replicas+surge, never drops below replicas−unavailable, and completes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 25 }),
        intOrPercent(6),
        intOrPercent(6),
        fc.integer(),
        (replicas, maxSurge, maxUnavailable, seed) => {
          const result = simulate(replicas, maxSurge, maxUnavailable, seed).run();
          expect(result.violations).toEqual([]);
          expect(result.complete).toBe(true);
          expect(
            result.pods.every(
              (p) => p.metadata.labels?.['pod-template-hash'] && p.metadata.ownerReferences?.length === 1,
            ),
          ).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
