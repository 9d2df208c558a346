/**
 * The CronJob planner (Kubernetes' cronjob_controllerv2, pure): after downtime, at most one run,
 * for the most recent missed time (more than 100 missed earns a warning, as Kubernetes');
 * `startingDeadlineSeconds` skips a run that is too late; concurrencyPolicy Forbid skips while a
 * Job runs (the missed time runs when it ends, if still within the deadline), Replace deletes the
 * running ones first; `suspend` stops new runs; finished Jobs beyond the history limits go.
 */
import { CONDITION } from '../../api/conditions.js';
import type { CronJobStatus, ObjectReference } from '../../api/types.gen.js';
import { controllerRef, findCondition, parseTime, stamp, type CronJobObject, type JobObject } from '../objects.js';
import { isFinished } from '../job/plan.js';
import { dueTimes } from './schedule.js';

export const SCHEDULED_TIMESTAMP = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

export interface CronJobPlan {
  create?: JobObject;
  delete: JobObject[];
  status: CronJobStatus;
  /** Until the next scheduled time. */
  requeueAfterMs: number;
  events: ['Normal' | 'Warning', string, string][];
}

/** The Job for one scheduled time: named by the minute, so that it is made once however often we look. */
export function jobFor(cj: CronJobObject, scheduled: number): JobObject {
  const t = cj.spec.jobTemplate;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: `${cj.metadata.name}-${Math.floor(scheduled / 60_000)}`,
      namespace: cj.metadata.namespace ?? 'default',
      labels: { ...(t.metadata?.labels ?? {}) },
      annotations: { ...(t.metadata?.annotations ?? {}), [SCHEDULED_TIMESTAMP]: stamp(scheduled) },
      ownerReferences: [controllerRef(cj)],
    },
    spec: structuredClone(t.spec ?? { template: { spec: { containers: [] } } }),
  } as JobObject;
}

const succeededJob = (j: JobObject) => findCondition(j.status?.conditions, CONDITION.Complete)?.status === 'True';
const reference = (j: JobObject): ObjectReference => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  name: j.metadata.name,
  namespace: j.metadata.namespace ?? 'default',
  ...(j.metadata.uid ? { uid: j.metadata.uid } : {}),
});

export function planCronJob(cj: CronJobObject, jobs: JobObject[], now: number): CronJobPlan {
  const plan: CronJobPlan = { delete: [], status: { ...(cj.status ?? {}) }, requeueAfterMs: 60_000, events: [] };
  const running = jobs.filter((j) => !isFinished(j));
  const finished = jobs.filter(isFinished);
  plan.status.active = running.map(reference);
  if (!plan.status.active.length) delete plan.status.active;
  const lastSuccess = Math.max(
    0,
    ...finished.filter(succeededJob).map((j) => parseTime(j.status?.completionTime) ?? 0),
  );
  if (lastSuccess > 0) plan.status.lastSuccessfulTime = stamp(lastSuccess);

  // History: the newest successful and failed Jobs within their limits.
  const byStart = (a: JobObject, b: JobObject) =>
    (parseTime(a.metadata.creationTimestamp) ?? 0) - (parseTime(b.metadata.creationTimestamp) ?? 0);
  const trim = (list: JobObject[], limit: number) => list.sort(byStart).slice(0, Math.max(0, list.length - limit));
  plan.delete.push(...trim(finished.filter(succeededJob), cj.spec.successfulJobsHistoryLimit ?? 3));
  plan.delete.push(
    ...trim(
      finished.filter((j) => !succeededJob(j)),
      cj.spec.failedJobsHistoryLimit ?? 1,
    ),
  );

  let after = parseTime(cj.status?.lastScheduleTime) ?? parseTime(cj.metadata.creationTimestamp) ?? now;
  const deadline = cj.spec.startingDeadlineSeconds;
  if (deadline !== undefined) after = Math.max(after, now - deadline * 1000 - 1);
  let due;
  try {
    due = dueTimes(cj.spec.schedule, cj.spec.timeZone, after, now);
  } catch (e) {
    plan.events.push([
      'Warning',
      'InvalidSchedule',
      `invalid schedule ${JSON.stringify(cj.spec.schedule)}: ${(e as Error).message}`,
    ]);
    return plan;
  }
  plan.requeueAfterMs = Math.max(1, due.next - now + 100);
  if (cj.spec.suspend || due.mostRecent === undefined) return plan;
  if (due.missed > 100) {
    plan.events.push([
      'Warning',
      'TooManyMissedTimes',
      'too many missed start times: > 100. Set or decrease .spec.startingDeadlineSeconds or check clock skew',
    ]);
  }
  const scheduled = due.mostRecent;
  const job = jobFor(cj, scheduled);
  if (jobs.some((j) => j.metadata.name === job.metadata.name)) {
    // Made already (before a restart, say): only the status is behind.
    plan.status.lastScheduleTime = stamp(scheduled);
    return plan;
  }
  const policy = cj.spec.concurrencyPolicy ?? 'Allow';
  if (policy === 'Forbid' && running.length) {
    plan.events.push([
      'Normal',
      'JobAlreadyActive',
      'Not starting job because prior execution is running and concurrency policy is Forbid',
    ]);
    return plan;
  }
  if (policy === 'Replace') plan.delete.push(...running);
  plan.create = job;
  plan.status.lastScheduleTime = stamp(scheduled);
  return plan;
}
