/**
 * The StatefulSet, DaemonSet, Job and CronJob planners, and node eligibility, as tables.
 */
import { describe, expect, it } from 'vitest';
import { nodeSelectionProblem, tolerates, untoleratedTaint } from '../../src/api/scheduling.js';
import { planCronJob } from '../../src/controllers/cronjob/plan.js';
import { dueTimes } from '../../src/controllers/cronjob/schedule.js';
import {
  planDaemonSet,
  REVISION_LABEL as DS_REVISION,
  shouldRun,
  templateHash,
} from '../../src/controllers/daemonset/plan.js';
import { formatIndexes, planJob } from '../../src/controllers/job/plan.js';
import type {
  CronJobObject,
  DaemonSetObject,
  JobObject,
  NodeObject,
  PodObject,
  StatefulSetObject,
} from '../../src/controllers/objects.js';
import { planStatefulSet, REVISION_LABEL, revisionName } from '../../src/controllers/statefulset/plan.js';

const T0 = Date.parse('2026-01-01T00:00:30Z');
const at = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function pod(
  name: string,
  o: {
    ready?: boolean;
    phase?: string;
    labels?: Record<string, string>;
    node?: string;
    created?: number;
    annotations?: Record<string, string>;
  } = {},
): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      creationTimestamp: at(o.created ?? T0),
      labels: o.labels ?? {},
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'i' }], ...(o.node ? { nodeName: o.node } : {}) },
    status: {
      phase: (o.phase ?? (o.ready ? 'Running' : 'Pending')) as 'Running',
      conditions: o.ready ? [{ type: 'Ready', status: 'True', lastTransitionTime: at(T0 - 60_000) }] : [],
    },
  } as PodObject;
}

describe('node eligibility', () => {
  const node = (labels: Record<string, string>, taints: any[] = []) => ({
    metadata: { name: 'n1', labels },
    spec: { taints },
  });
  it.each([
    [{ key: 'k', operator: 'Exists' }, { key: 'k', value: 'v', effect: 'NoSchedule' }, true],
    [{ operator: 'Exists' }, { key: 'any', effect: 'NoExecute' }, true],
    [{ key: 'k', value: 'v' }, { key: 'k', value: 'v', effect: 'NoSchedule' }, true],
    [{ key: 'k', value: 'w' }, { key: 'k', value: 'v', effect: 'NoSchedule' }, false],
    [{ key: 'k', operator: 'Exists', effect: 'NoExecute' }, { key: 'k', effect: 'NoSchedule' }, false],
  ] as const)('toleration %j tolerates %j: %s', (tol, taint, expected) => {
    expect(tolerates(tol as never, taint as never)).toBe(expected);
  });

  it('PreferNoSchedule never blocks; NoSchedule does unless tolerated', () => {
    expect(untoleratedTaint([{ key: 'a', effect: 'PreferNoSchedule' }], [])).toBeUndefined();
    expect(untoleratedTaint([{ key: 'a', effect: 'NoSchedule' }], [])?.key).toBe('a');
  });

  it.each([
    [{ nodeSelector: { disk: 'ssd' } }, { disk: 'ssd' }, true],
    [{ nodeSelector: { disk: 'ssd' } }, { disk: 'hdd' }, false],
    [
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }],
            },
          },
        },
      },
      { zone: 'b' },
      true,
    ],
    [
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'cpus', operator: 'Gt', values: ['4'] }] }],
            },
          },
        },
      },
      { cpus: '8' },
      true,
    ],
    [
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] },
                { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
              ],
            },
          },
        },
      },
      { gpu: 'yes' },
      true,
    ],
    [
      { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}] } } } },
      {},
      false,
    ],
  ] as const)('pod %j on a node labelled %j: %s', (spec, labels, expected) => {
    expect(nodeSelectionProblem(spec as never, node(labels as Record<string, string>)) === undefined).toBe(expected);
  });
});

const sts = (replicas: number, extra: Record<string, unknown> = {}, image = 'db:1'): StatefulSetObject =>
  ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'default', uid: 'sts-uid', generation: 1 },
    spec: {
      replicas,
      serviceName: 'db',
      selector: { matchLabels: { app: 'db' } },
      template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image }] } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'] } }],
      ...extra,
    },
  }) as StatefulSetObject;

describe('StatefulSet planner', () => {
  const rev = revisionName(sts(1));
  const member = (i: number, ready = true, revision = rev) =>
    pod(`db-${i}`, { ready, labels: { app: 'db', [REVISION_LABEL]: revision } });
  const names = (pods: PodObject[]) => pods.map((p) => p.metadata.name);

  it.each([
    ['nothing yet: db-0 and its claim', [], ['db-0'], []],
    ['db-0 not ready: wait', [member(0, false)], [], []],
    ['db-0 ready: db-1', [member(0)], ['db-1'], []],
    ['a gap is filled in order', [member(0), member(2)], ['db-1'], []],
    [
      'a failed pod is replaced under its name',
      [member(0), { ...member(1), status: { phase: 'Failed' } } as PodObject],
      [],
      ['db-1'],
    ],
  ] as [string, PodObject[], string[], string[]][])('OrderedReady, 3 replicas: %s', (_why, pods, create, del) => {
    const plan = planStatefulSet(sts(3), pods, [], T0);
    expect(names(plan.createPods)).toEqual(create);
    expect(names(plan.deletePods)).toEqual(del);
  });

  it('Parallel creates every missing ordinal at once; claims come first, named <claim>-<sts>-<ordinal>', () => {
    const plan = planStatefulSet(sts(3, { podManagementPolicy: 'Parallel' }), [], [], T0);
    expect(names(plan.createPods)).toEqual(['db-0', 'db-1', 'db-2']);
    expect(plan.createClaims.map((c) => c.metadata.name)).toEqual(['data-db-0', 'data-db-1', 'data-db-2']);
    expect(plan.createPods[1]!.spec).toMatchObject({ hostname: 'db-1', subdomain: 'db' });
  });

  it('scale-down removes the highest ordinal first, one at a time, and keeps claims', () => {
    const pods = [member(0), member(1), member(2), member(3)];
    const plan = planStatefulSet(sts(2), pods, [], T0);
    expect(names(plan.deletePods)).toEqual(['db-3']);
    expect(plan.deleteClaims).toEqual([]);
  });

  it('rolls from the highest ordinal down to the partition', () => {
    const updated = sts(3, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }, 'db:2');
    updated.status = { currentRevision: rev };
    const next = revisionName(updated);
    expect(names(planStatefulSet(updated, [member(0), member(1), member(2)], [], T0).deletePods)).toEqual(['db-2']);
    expect(names(planStatefulSet(updated, [member(0), member(1), member(2, true, next)], [], T0).deletePods)).toEqual([
      'db-1',
    ]);
    // Below the partition: stays at the current revision.
    expect(
      names(planStatefulSet(updated, [member(0), member(1, true, next), member(2, true, next)], [], T0).deletePods),
    ).toEqual([]);
    // A pod re-made below the partition gets the current revision's template (taken from a pod of it).
    const partition2 = {
      ...updated,
      spec: { ...updated.spec, updateStrategy: { type: 'RollingUpdate' as const, rollingUpdate: { partition: 2 } } },
    };
    const remade = planStatefulSet(partition2, [member(0), member(2, true, next)], [], T0).createPods[0]!;
    expect(remade.metadata.name).toBe('db-1');
    expect(remade.metadata.labels?.[REVISION_LABEL]).toBe(rev);
    expect(remade.spec.containers[0]!.image).toBe('i');
  });

  it('OnDelete replaces nothing by itself', () => {
    const s = sts(2, { updateStrategy: { type: 'OnDelete' } }, 'db:2');
    expect(planStatefulSet(s, [member(0), member(1)], [], T0).deletePods).toEqual([]);
  });
});

describe('DaemonSet planner', () => {
  const ds = (extra: Record<string, unknown> = {}): DaemonSetObject =>
    ({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent', namespace: 'default', uid: 'ds-uid', generation: 1 },
      spec: {
        selector: { matchLabels: { app: 'agent' } },
        template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'a:1' }] } },
        ...extra,
      },
    }) as DaemonSetObject;
  const node = (name: string, spec: Record<string, unknown> = {}, labels: Record<string, string> = {}): NodeObject =>
    ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, spec }) as NodeObject;

  it('tolerates the not-ready, unreachable and unschedulable taints, not others', () => {
    expect(
      shouldRun(
        ds(),
        node('a', {
          unschedulable: true,
          taints: [
            { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
            { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' },
          ],
        }),
      ),
    ).toBe(true);
    expect(shouldRun(ds(), node('a', { taints: [{ key: 'dedicated', effect: 'NoSchedule' }] }))).toBe(false);
  });

  it('one pod per eligible node; misscheduled and surplus pods go', () => {
    const h = templateHash(ds());
    const mine = (name: string, nodeName: string, created = T0) =>
      pod(name, { ready: true, node: nodeName, created, labels: { app: 'agent', [DS_REVISION]: h } });
    const nodes = [node('a'), node('b'), node('c', {}, { role: 'x' })];
    const d = ds({
      template: {
        metadata: { labels: { app: 'agent' } },
        spec: { nodeSelector: { role: 'x' }, containers: [{ name: 'c', image: 'a:1' }] },
      },
    });
    const hd = templateHash(d);
    const plan = planDaemonSet(
      d,
      nodes,
      [{ ...mine('p-a', 'a'), metadata: { ...mine('p-a', 'a').metadata, labels: { [DS_REVISION]: hd } } }],
      T0,
    );
    expect(plan.create).toEqual(['c']);
    expect(plan.delete.map((p) => p.metadata.name)).toEqual(['p-a']);
    expect(plan.status).toMatchObject({ desiredNumberScheduled: 1, numberMisscheduled: 1 });
    const dup = planDaemonSet(ds(), [node('a')], [mine('old', 'a', T0 - 1000), mine('new', 'a')], T0);
    expect(dup.delete.map((p) => p.metadata.name)).toEqual(['new']);
  });

  it('RollingUpdate replaces old pods within maxUnavailable; maxSurge starts the new one first', () => {
    const old = (n: string) => pod(`p-${n}`, { ready: true, node: n, labels: { app: 'agent', [DS_REVISION]: 'old' } });
    const nodes = ['a', 'b', 'c'].map((n) => node(n));
    const rolling = planDaemonSet(
      ds({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } } }),
      nodes,
      ['a', 'b', 'c'].map(old),
      T0,
    );
    expect(rolling.delete).toHaveLength(2);
    expect(rolling.create).toEqual([]);
    const surge = planDaemonSet(
      ds({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }),
      nodes,
      ['a', 'b', 'c'].map(old),
      T0,
    );
    expect(surge.create).toEqual(['a']);
    expect(surge.delete).toEqual([]);
    const onDelete = planDaemonSet(ds({ updateStrategy: { type: 'OnDelete' } }), nodes, ['a', 'b', 'c'].map(old), T0);
    expect([onDelete.create, onDelete.delete]).toEqual([[], []]);
  });
});

const job = (spec: Record<string, unknown>, status: Record<string, unknown> = {}): JobObject =>
  ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'work', namespace: 'default', uid: 'job-uid' },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } }, ...spec },
    status,
  }) as JobObject;

describe('Job planner', () => {
  const ok = (n: string, index?: number) =>
    pod(n, {
      phase: 'Succeeded',
      ...(index !== undefined ? { annotations: { 'batch.kubernetes.io/job-completion-index': String(index) } } : {}),
    });
  const bad = (n: string, finishedAt: number) =>
    ({
      ...pod(n, { phase: 'Failed' }),
      status: {
        phase: 'Failed',
        containerStatuses: [{ name: 'c', state: { terminated: { exitCode: 1, finishedAt: at(finishedAt) } } }],
      },
    }) as unknown as PodObject;

  it.each([
    ['completions 5, parallelism 2, nothing yet', { completions: 5, parallelism: 2 }, [], 2],
    [
      'completions 5, parallelism 2, 4 done',
      { completions: 5, parallelism: 2 },
      ['a', 'b', 'c', 'd'].map((n) => ok(n)),
      1,
    ],
    ['no completions (work queue), parallelism 3', { parallelism: 3 }, [], 3],
    ['work queue: one succeeded, none more', { parallelism: 3 }, [ok('a'), pod('b', { ready: true })], 0],
  ] as [string, Record<string, unknown>, PodObject[], number][])('%s → %i new pods', (_why, spec, pods, create) => {
    expect(planJob(job(spec), pods, T0).create).toHaveLength(create);
  });

  it('Indexed: one pod per missing index, completedIndexes as ranges', () => {
    const plan = planJob(
      job({ completions: 5, parallelism: 5, completionMode: 'Indexed' }),
      [ok('a', 0), ok('b', 1), ok('c', 3)],
      T0,
    );
    expect(plan.create).toEqual([2, 4]);
    expect(plan.status.completedIndexes).toBe('0-1,3');
    expect(formatIndexes([5, 1, 2, 3, 9])).toBe('1-3,5,9');
  });

  it('complete when completions succeed', () => {
    const plan = planJob(job({ completions: 2 }), [ok('a'), ok('b')], T0);
    expect(plan.status.conditions?.find((c) => c.type === 'Complete')).toMatchObject({
      status: 'True',
      reason: 'CompletionsReached',
    });
    expect(plan.status).toMatchObject({ succeeded: 2, completionTime: at(T0) });
  });

  it('backs off 10 s, 20 s, … after failures, then fails past backoffLimit', () => {
    const spec = { backoffLimit: 2, completions: 1 };
    const one = planJob(job(spec), [bad('a', T0 - 5_000)], T0);
    expect(one.create).toEqual([]);
    expect(one.requeueAfterMs).toBe(5_000);
    expect(planJob(job(spec), [bad('a', T0 - 11_000)], T0).create).toHaveLength(1);
    expect(planJob(job(spec), [bad('a', T0 - 30_000), bad('b', T0 - 15_000)], T0).create).toEqual([]); // second backoff: 20 s
    const failed = planJob(job(spec), [bad('a', T0 - 100_000), bad('b', T0 - 90_000), bad('c', T0 - 1000)], T0);
    expect(failed.status.conditions?.find((c) => c.type === 'Failed')).toMatchObject({
      status: 'True',
      reason: 'BackoffLimitExceeded',
    });
  });

  it('activeDeadlineSeconds fails the job and stops its pods; suspend stops them too', () => {
    const running = pod('a', { ready: true });
    const past = planJob(job({ activeDeadlineSeconds: 10 }, { startTime: at(T0 - 11_000) }), [running], T0);
    expect(past.status.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('DeadlineExceeded');
    expect(past.delete).toEqual([running]);
    const suspended = planJob(job({ suspend: true }), [running], T0);
    expect(suspended.delete).toEqual([running]);
    expect(suspended.status.conditions?.find((c) => c.type === 'Suspended')?.status).toBe('True');
  });

  it('ttlSecondsAfterFinished deletes the job once it has passed', () => {
    const done = { conditions: [{ type: 'Complete', status: 'True' }], completionTime: at(T0 - 60_000) };
    expect(planJob(job({ ttlSecondsAfterFinished: 30 }, done), [], T0).deleteJob).toBe(true);
    const soon = planJob(job({ ttlSecondsAfterFinished: 100 }, done), [], T0);
    expect([soon.deleteJob, soon.requeueAfterMs]).toEqual([false, 40_000]);
  });
});

describe('CronJob planner and schedule', () => {
  const cj = (
    spec: Record<string, unknown>,
    status: Record<string, unknown> = {},
    created = Date.parse('2026-01-01T00:00:00Z'),
  ): CronJobObject =>
    ({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'tick', namespace: 'default', uid: 'cj-uid', creationTimestamp: at(created) },
      spec: {
        schedule: '*/1 * * * *',
        jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'i' }] } } } },
        ...spec,
      },
      status,
    }) as CronJobObject;
  const running = (name: string): JobObject =>
    ({ ...job({}), metadata: { name, namespace: 'default', creationTimestamp: at(T0) } }) as JobObject;
  const finished = (name: string, ok: boolean, t: number): JobObject =>
    ({
      ...job({}),
      metadata: { name, namespace: 'default', creationTimestamp: at(t) },
      status: {
        conditions: [{ type: ok ? 'Complete' : 'Failed', status: 'True' }],
        ...(ok ? { completionTime: at(t) } : {}),
      },
    }) as JobObject;

  it.each([
    ['*/1 * * * *', undefined, '2026-01-01T00:00:00Z', '2026-01-01T00:03:30Z', '2026-01-01T00:03:00Z', 3],
    ['@hourly', undefined, '2026-01-01T00:00:00Z', '2026-01-01T05:10:00Z', '2026-01-01T05:00:00Z', 5],
    ['0 9 * * ?', 'America/New_York', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-01T14:00:00Z', 1],
    ['@every 90s', undefined, '2026-01-01T00:00:00Z', '2026-01-01T00:05:00Z', '2026-01-01T00:04:30Z', 3],
  ])('%s (tz %s) from %s to %s: most recent %s, %i missed', (schedule, tz, from, to, recent, missed) => {
    const due = dueTimes(schedule, tz, Date.parse(from), Date.parse(to));
    expect(at(due.mostRecent!)).toBe(recent.replace('.000', ''));
    expect(due.missed).toBe(missed);
  });

  it('after downtime runs once, for the most recent time, named by its minute', () => {
    const plan = planCronJob(cj({}), [], Date.parse('2026-01-01T01:00:30Z'));
    expect(plan.create?.metadata.name).toBe(`tick-${Date.parse('2026-01-01T01:00:00Z') / 60_000}`);
    expect(plan.events.some(([, reason]) => reason === 'TooManyMissedTimes')).toBe(false);
    expect(plan.status.lastScheduleTime).toBe('2026-01-01T01:00:00Z');
    expect(plan.requeueAfterMs).toBe(30_100);
    const longDown = planCronJob(cj({}), [], Date.parse('2026-01-01T03:00:30Z'));
    expect(longDown.events.some(([, reason]) => reason === 'TooManyMissedTimes')).toBe(true);
    expect(longDown.create).toBeDefined();
  });

  it('startingDeadlineSeconds skips a run that is too late', () => {
    const now = Date.parse('2026-01-01T00:05:50Z');
    expect(
      planCronJob(cj({ startingDeadlineSeconds: 30 }, { lastScheduleTime: '2026-01-01T00:04:00Z' }), [], now).create,
    ).toBeUndefined();
    expect(
      planCronJob(cj({ startingDeadlineSeconds: 60 }, { lastScheduleTime: '2026-01-01T00:04:00Z' }), [], now).create,
    ).toBeDefined();
  });

  it('Forbid skips while one runs, Replace deletes it, Allow runs beside it; suspend makes nothing', () => {
    const now = Date.parse('2026-01-01T00:02:10Z');
    const status = { lastScheduleTime: '2026-01-01T00:01:00Z' };
    expect(planCronJob(cj({ concurrencyPolicy: 'Forbid' }, status), [running('tick-a')], now).create).toBeUndefined();
    const replace = planCronJob(cj({ concurrencyPolicy: 'Replace' }, status), [running('tick-a')], now);
    expect([replace.create !== undefined, replace.delete.map((j) => j.metadata.name)]).toEqual([true, ['tick-a']]);
    expect(planCronJob(cj({ concurrencyPolicy: 'Allow' }, status), [running('tick-a')], now).create).toBeDefined();
    expect(planCronJob(cj({ suspend: true }, status), [], now).create).toBeUndefined();
  });

  it('keeps the newest finished jobs within the history limits', () => {
    const jobs = [
      finished('s1', true, T0),
      finished('s2', true, T0 + 1),
      finished('s3', true, T0 + 2),
      finished('f1', false, T0),
      finished('f2', false, T0 + 1),
    ];
    const plan = planCronJob(
      cj({ successfulJobsHistoryLimit: 2, failedJobsHistoryLimit: 1, suspend: true }),
      jobs,
      T0 + 10,
    );
    expect(plan.delete.map((j) => j.metadata.name).sort()).toEqual(['f1', 's1']);
  });
});
