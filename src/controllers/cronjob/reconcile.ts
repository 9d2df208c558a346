/** The CronJob controller's shell: makes the due Job, deletes replaced and surplus history, writes status. */
import { isBerthError } from '../../api/errors.js';
import type { Controller, InformerFactory, ReconcileResult } from '../../runtime/index.js';
import { emit, lastRevision, queueOwner, type ControllerContext } from '../context.js';
import { CRON_JOB, JOB, controllerOf, keyOf, splitKey, type CronJobObject, type JobObject } from '../objects.js';
import { planCronJob } from './plan.js';

export class CronJobController implements Controller {
  readonly name = 'cronjob';
  readonly workers = 2;

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    informers.for<CronJobObject>(CRON_JOB).on((e) => enqueue(keyOf(e.object)));
    informers.for<JobObject>(JOB).on(queueOwner('CronJob', enqueue));
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { informers, writer } = this.ctx;
    const cj = informers.for<CronJobObject>(CRON_JOB).get(namespace, name);
    if (!cj || cj.metadata.deletionTimestamp) return {};
    const jobInformer = informers.for<JobObject>(JOB);
    const jobs = jobInformer.ownedBy(cj.metadata.uid!).filter((j) => controllerOf(j)?.uid === cj.metadata.uid);
    const plan = planCronJob(cj, jobs, this.ctx.now());
    const written: (JobObject | undefined)[] = [];
    for (const j of plan.delete) {
      written.push(await writer.delete(j));
      emit(this.ctx, cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
    }
    if (plan.create) {
      try {
        const created = await writer.create(plan.create);
        written.push(created);
        emit(this.ctx, cj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name}`);
        plan.status.active = [
          ...(plan.status.active ?? []).filter((r) => !plan.delete.some((d) => d.metadata.name === r.name)),
          { apiVersion: 'batch/v1', kind: 'Job', name: created.metadata.name, namespace, uid: created.metadata.uid! },
        ];
      } catch (e) {
        if (!isBerthError(e, 'AlreadyExists')) throw e;
      }
    }
    for (const [type, reason, message] of plan.events) emit(this.ctx, cj, type, reason, message);
    await jobInformer.waitFor(lastRevision(written));
    await writer.updateStatus(cj, plan.status);
    return { requeueAfterMs: plan.requeueAfterMs };
  }
}
