/** The Job controller's shell: pods from the template (with index and job labels), status, TTL. */
import type { Controller, InformerFactory, ReconcileResult } from '../../runtime/index.js';
import { emit, lastRevision, queueOwner, type ControllerContext } from '../context.js';
import { JOB, POD, controllerOf, keyOf, splitKey, type JobObject, type PodObject } from '../objects.js';
import { podFromTemplate, podNamer } from '../pods.js';
import { COMPLETION_INDEX, CONTROLLER_UID_LABELS, JOB_NAME_LABELS, planJob } from './plan.js';

export class JobController implements Controller {
  readonly name = 'job';
  readonly workers = 2;

  constructor(private readonly ctx: ControllerContext) {}

  watch(enqueue: (key: string) => void, informers: InformerFactory): void {
    informers.for<JobObject>(JOB).on((e) => enqueue(keyOf(e.object)));
    informers.for<PodObject>(POD).on(queueOwner('Job', enqueue));
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { informers, writer } = this.ctx;
    const job = informers.for<JobObject>(JOB).get(namespace, name);
    if (!job || job.metadata.deletionTimestamp) return {};
    const podInformer = informers.for<PodObject>(POD);
    const pods = podInformer.ownedBy(job.metadata.uid!).filter((p) => controllerOf(p)?.uid === job.metadata.uid);
    const plan = planJob(job, pods, this.ctx.now());
    if (plan.deleteJob) {
      // Its pods follow through the garbage collector.
      await writer.delete(job);
      return {};
    }
    const written: (PodObject | undefined)[] = [];
    const labels: Record<string, string> = {};
    for (const l of JOB_NAME_LABELS) labels[l] = name;
    for (const l of CONTROLLER_UID_LABELS) labels[l] = job.metadata.uid!;
    const nameOf = podNamer(informers.for<PodObject>(POD), namespace);
    const toCreate = plan.create.map((index) => {
      const podName = nameOf(index === undefined ? name : `${name}-${index}`);
      const pod = podFromTemplate(
        job.spec.template,
        job,
        podName,
        index === undefined ? labels : { ...labels, [COMPLETION_INDEX]: String(index) },
      );
      if (index !== undefined) {
        pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [COMPLETION_INDEX]: String(index) };
        pod.spec.hostname ??= `${name}-${index}`;
        pod.spec.containers = pod.spec.containers.map((c) => ({
          ...c,
          env: [
            ...(c.env ?? []).filter((e) => e.name !== 'JOB_COMPLETION_INDEX'),
            { name: 'JOB_COMPLETION_INDEX', value: String(index) },
          ],
        })) as typeof pod.spec.containers;
      }
      return pod;
    });
    if (toCreate.length) {
      const { created, error } = await writer.createMany(toCreate);
      written.push(...created);
      for (const p of created) emit(this.ctx, job, 'Normal', 'SuccessfulCreate', `Created pod: ${p.metadata.name}`);
      if (error) {
        emit(this.ctx, job, 'Warning', 'FailedCreate', `Error creating: ${(error as Error).message}`);
        throw error;
      }
    }
    for (const p of plan.delete) {
      written.push(await writer.delete(p));
      emit(this.ctx, job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
    }
    for (const [type, reason, message] of plan.events) emit(this.ctx, job, type, reason, message);
    await podInformer.waitFor(lastRevision(written));
    const after = planJob(
      job,
      podInformer.ownedBy(job.metadata.uid!).filter((p) => controllerOf(p)?.uid === job.metadata.uid),
      this.ctx.now(),
    );
    // Status as the planner concluded it (conditions, times), with the pod counts seen after the writes.
    await writer.updateStatus(job, { ...plan.status, active: after.status.active, ready: after.status.ready });
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
  }
}
