/**
 * The Job planner (Kubernetes' job controller, pure): pods up to `parallelism` until
 * `completions` succeed (NonIndexed), or one pod per unfinished index (Indexed, with
 * JOB_COMPLETION_INDEX); failed pods recreated after an exponential backoff (10 s doubling, at
 * most 6 min) until `backoffLimit` is passed; `activeDeadlineSeconds`; `suspend`; conditions
 * Complete / Failed with Kubernetes' reasons; deletion `ttlSecondsAfterFinished` after finishing.
 */
import { CONDITION, REASON } from '../../api/conditions.js';
import type { JobStatus } from '../../api/types.gen.js';
import { findCondition, parseTime, setCondition, stamp, type JobObject, type PodObject } from '../objects.js';
import { compareForDeletion, isActive, isReady } from '../pods.js';

export const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
export const JOB_NAME_LABELS = ['batch.kubernetes.io/job-name', 'job-name'];
export const CONTROLLER_UID_LABELS = ['batch.kubernetes.io/controller-uid', 'controller-uid'];
const BACKOFF_BASE_MS = 10_000;
const BACKOFF_MAX_MS = 6 * 60_000;

export interface JobPlan {
  /** New pods: the completion index of each (undefined for NonIndexed). */
  create: (number | undefined)[];
  delete: PodObject[];
  status: JobStatus;
  /** Delete the Job itself (ttlSecondsAfterFinished passed). */
  deleteJob: boolean;
  requeueAfterMs?: number;
  events: ['Normal' | 'Warning', string, string][];
}

export const isFinished = (job: JobObject): boolean =>
  [CONDITION.Complete, CONDITION.Failed].some((t) => findCondition(job.status?.conditions, t)?.status === 'True');

const succeeded = (p: PodObject) => p.status?.phase === 'Succeeded';
const failed = (p: PodObject) => p.status?.phase === 'Failed';
export const indexOf = (p: PodObject): number | undefined => {
  const v = p.metadata.annotations?.[COMPLETION_INDEX];
  return v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : undefined;
};

/** When a pod stopped: its containers' finish time, else its last condition change, else creation. */
function finishedAt(p: PodObject): number {
  const times = (p.status?.containerStatuses ?? [])
    .map((c) => parseTime(c.state?.terminated?.finishedAt))
    .filter((t): t is number => t !== undefined);
  if (times.length) return Math.max(...times);
  const conditions = (p.status?.conditions ?? [])
    .map((c) => parseTime(c.lastTransitionTime))
    .filter((t): t is number => t !== undefined);
  return conditions.length ? Math.max(...conditions) : (parseTime(p.metadata.creationTimestamp) ?? 0);
}

/** Index ranges as Kubernetes writes completedIndexes: "0-2,5". */
export function formatIndexes(indexes: Iterable<number>): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return parts.join(',');
}

export function planJob(job: JobObject, pods: PodObject[], now: number): JobPlan {
  const plan: JobPlan = { create: [], delete: [], status: { ...(job.status ?? {}) }, deleteJob: false, events: [] };
  const spec = job.spec;
  const indexed = spec.completionMode === 'Indexed';
  const parallelism = spec.parallelism ?? 1;
  const completions = spec.completions ?? (indexed ? 1 : undefined);
  const backoffLimit = spec.backoffLimit ?? 6;
  const active = pods.filter(isActive);
  const succeededPods = pods.filter(succeeded);
  const failedPods = pods.filter(failed);
  const onFailureRestarts =
    spec.template.spec?.restartPolicy === 'OnFailure'
      ? active.reduce(
          (n, p) => n + (p.status?.containerStatuses ?? []).reduce((m, c) => m + (c.restartCount ?? 0), 0),
          0,
        )
      : 0;
  const failures = failedPods.length + onFailureRestarts;
  const completedIndexes = new Set(
    succeededPods.map(indexOf).filter((i): i is number => i !== undefined && i < (completions ?? 0)),
  );
  const succeededCount = indexed ? completedIndexes.size : succeededPods.length;

  const status = plan.status;
  status.active = active.length;
  status.ready = active.filter(isReady).length;
  status.succeeded = succeededCount;
  status.failed = failedPods.length;
  if (indexed) status.completedIndexes = formatIndexes(completedIndexes);
  let conditions = status.conditions;

  if (isFinished(job)) {
    plan.delete = active;
    const ttl = spec.ttlSecondsAfterFinished;
    if (ttl !== undefined) {
      const finished =
        parseTime(status.completionTime) ??
        parseTime(findCondition(conditions, CONDITION.Failed)?.lastTransitionTime) ??
        now;
      if (now >= finished + ttl * 1000) plan.deleteJob = true;
      else plan.requeueAfterMs = finished + ttl * 1000 - now;
    }
    return plan;
  }

  if (spec.suspend) {
    plan.delete = active;
    conditions = setCondition(
      conditions,
      { type: CONDITION.Suspended, status: 'True', reason: REASON.JobSuspended, message: 'Job suspended' },
      now,
    );
    status.conditions = conditions;
    return plan;
  }
  if (findCondition(conditions, CONDITION.Suspended)?.status === 'True') {
    conditions = setCondition(
      conditions,
      { type: CONDITION.Suspended, status: 'False', reason: REASON.JobResumed, message: 'Job resumed' },
      now,
    );
  }
  status.startTime ??= stamp(now);
  const started = parseTime(status.startTime) ?? now;

  const fail = (reason: string, message: string): JobPlan => {
    plan.delete = active;
    status.conditions = setCondition(conditions, { type: CONDITION.Failed, status: 'True', reason, message }, now);
    plan.events.push(['Warning', reason, message]);
    return plan;
  };
  if (failures > backoffLimit) return fail(REASON.BackoffLimitExceeded, 'Job has reached the specified backoff limit');
  if (spec.activeDeadlineSeconds !== undefined) {
    const deadline = started + spec.activeDeadlineSeconds * 1000;
    if (now >= deadline) return fail(REASON.DeadlineExceeded, 'Job was active longer than specified deadline');
    plan.requeueAfterMs = deadline - now;
  }

  const done = completions !== undefined ? succeededCount >= completions : succeededCount > 0 && active.length === 0;
  if (done) {
    plan.delete = active;
    status.completionTime = stamp(now);
    status.active = 0;
    status.conditions = setCondition(
      conditions,
      {
        type: CONDITION.Complete,
        status: 'True',
        reason: REASON.CompletionsReached,
        message: 'Reached expected number of succeeded pods',
      },
      now,
    );
    plan.events.push(['Normal', 'Completed', 'Job completed']);
    if (spec.ttlSecondsAfterFinished !== undefined) plan.requeueAfterMs = spec.ttlSecondsAfterFinished * 1000;
    return plan;
  }
  status.conditions = conditions;

  // Failed pods are replaced only after the backoff since the last failure.
  if (failures > 0) {
    const last = Math.max(0, ...failedPods.map(finishedAt));
    const wait = last + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failures - 1)) - now;
    if (wait > 0 && failedPods.length > 0) {
      plan.requeueAfterMs = Math.min(plan.requeueAfterMs ?? Infinity, wait);
      return plan;
    }
  }

  if (indexed) {
    const running = new Set(active.map(indexOf));
    const want: number[] = [];
    for (let i = 0; i < completions! && want.length + running.size < parallelism; i++)
      if (!completedIndexes.has(i) && !running.has(i)) want.push(i);
    plan.create = want;
    // Duplicates of an index, or pods of indexes already complete, go.
    const seen = new Set<number>();
    for (const p of [...active].sort((a, b) => compareForDeletion(b, a))) {
      const i = indexOf(p);
      if (i === undefined || completedIndexes.has(i) || seen.has(i) || i >= completions!) plan.delete.push(p);
      else seen.add(i);
    }
  } else {
    const wantActive =
      completions !== undefined
        ? Math.min(parallelism, completions - succeededCount)
        : succeededCount > 0
          ? 0
          : parallelism;
    if (active.length < wantActive) plan.create = Array.from({ length: wantActive - active.length }, () => undefined);
    else if (active.length > wantActive)
      plan.delete = [...active].sort(compareForDeletion).slice(0, active.length - wantActive);
  }
  return plan;
}
