/**
 * Health of live objects, per kind, as Argo CD assesses it; an Application's health is the worst
 * of its resources'. Kinds without a rule (ConfigMap, Secret, Namespace, …) are Healthy.
 */
import { CONDITION, REASON } from '../api/conditions.js';
export const HEALTH_STATUSES = ['Healthy', 'Suspended', 'Progressing', 'Missing', 'Degraded', 'Unknown'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

export interface Health {
  status: HealthStatus;
  message?: string;
}

type Obj = { kind: string; metadata: { generation?: number; name?: string }; spec?: any; status?: any };

const healthy: Health = { status: 'Healthy' };
const progressing = (message: string): Health => ({ status: 'Progressing', message });
const degraded = (message: string): Health => ({ status: 'Degraded', message });

function generationPending(o: Obj): Health | undefined {
  const observed = o.status?.observedGeneration;
  if (observed !== undefined && o.metadata.generation !== undefined && observed < o.metadata.generation) {
    return progressing(
      `Waiting for rollout to finish: observed generation ${observed} is older than desired generation ${o.metadata.generation}`,
    );
  }
  if (observed === undefined && o.metadata.generation !== undefined)
    return progressing('Waiting for the controller to observe the object');
  return undefined;
}

const condition = (o: Obj, type: string) =>
  (o.status?.conditions ?? []).find((c: { type: string }) => c.type === type) as
    { status: string; reason?: string; message?: string } | undefined;

const RULES: Record<string, (o: Obj) => Health> = {
  Deployment: (o) => {
    if (o.spec?.paused) return { status: 'Suspended', message: 'Deployment is paused' };
    const pending = generationPending(o);
    if (pending) return pending;
    const progressingCond = condition(o, CONDITION.Progressing);
    if (progressingCond?.reason === REASON.ProgressDeadlineExceeded)
      return degraded(`Deployment "${o.metadata.name}" exceeded its progress deadline`);
    const want = o.spec?.replicas ?? 1;
    const s = o.status ?? {};
    if ((s.updatedReplicas ?? 0) < want)
      return progressing(
        `Waiting for rollout to finish: ${s.updatedReplicas ?? 0} out of ${want} new replicas have been updated...`,
      );
    if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0))
      return progressing(
        `Waiting for rollout to finish: ${(s.replicas ?? 0) - (s.updatedReplicas ?? 0)} old replicas are pending termination...`,
      );
    if ((s.availableReplicas ?? 0) < (s.updatedReplicas ?? 0))
      return progressing(
        `Waiting for rollout to finish: ${s.availableReplicas ?? 0} of ${s.updatedReplicas} updated replicas are available...`,
      );
    return healthy;
  },
  ReplicationController: (o) => RULES.ReplicaSet!(o),
  ReplicaSet: (o) => {
    const pending = generationPending(o);
    if (pending) return pending;
    const failure = condition(o, CONDITION.ReplicaFailure);
    if (failure?.status === 'True') return degraded(failure.message ?? 'ReplicaFailure');
    const want = o.spec?.replicas ?? 1;
    return (o.status?.availableReplicas ?? 0) < want
      ? progressing(
          `Waiting for rollout to finish: ${o.status?.availableReplicas ?? 0} of ${want} replicas are available...`,
        )
      : healthy;
  },
  StatefulSet: (o) => {
    const pending = generationPending(o);
    if (pending) return pending;
    const want = o.spec?.replicas ?? 1;
    const s = o.status ?? {};
    if ((s.readyReplicas ?? 0) < want)
      return progressing(`Waiting for ${want - (s.readyReplicas ?? 0)} pods to be ready...`);
    if (o.spec?.updateStrategy?.type !== 'OnDelete' && s.updateRevision && s.currentRevision !== s.updateRevision)
      return progressing('Waiting for the rolling update to complete...');
    return healthy;
  },
  DaemonSet: (o) => {
    const pending = generationPending(o);
    if (pending) return pending;
    const s = o.status ?? {};
    const want = s.desiredNumberScheduled ?? 0;
    if (o.spec?.updateStrategy?.type !== 'OnDelete' && (s.updatedNumberScheduled ?? 0) < want)
      return progressing(
        `Waiting for daemon set rollout to finish: ${s.updatedNumberScheduled ?? 0} out of ${want} new pods have been updated...`,
      );
    if ((s.numberAvailable ?? 0) < want)
      return progressing(
        `Waiting for daemon set rollout to finish: ${s.numberAvailable ?? 0} of ${want} updated pods are available...`,
      );
    return healthy;
  },
  Job: (o) => {
    const failed = condition(o, CONDITION.Failed);
    if (failed?.status === 'True') return degraded(failed.message ?? failed.reason ?? 'Job failed');
    if (condition(o, CONDITION.Complete)?.status === 'True') return healthy;
    if (o.spec?.suspend) return { status: 'Suspended', message: 'Job is suspended' };
    return progressing('Job is running');
  },
  CronJob: (o) => (o.spec?.suspend ? { status: 'Suspended', message: 'CronJob is suspended' } : healthy),
  Pod: (o) => {
    const s = o.status ?? {};
    for (const c of [...(s.initContainerStatuses ?? []), ...(s.containerStatuses ?? [])]) {
      const reason = c.state?.waiting?.reason;
      if (
        reason &&
        [
          'CrashLoopBackOff',
          'ErrImagePull',
          'ImagePullBackOff',
          'CreateContainerConfigError',
          'InvalidImageName',
        ].includes(reason)
      )
        return degraded(`${c.name}: ${reason}${c.state.waiting.message ? `: ${c.state.waiting.message}` : ''}`);
    }
    switch (s.phase) {
      case 'Succeeded':
        return healthy;
      case 'Failed':
        return degraded(s.message ?? 'Pod failed');
      case 'Running':
        return (s.containerStatuses ?? []).length > 0 && s.containerStatuses.every((c: { ready: boolean }) => c.ready)
          ? healthy
          : progressing('Waiting for containers to be ready');
      default:
        return progressing(`Pod is ${s.phase ?? 'Pending'}`);
    }
  },
  Service: (o) =>
    o.spec?.type === 'LoadBalancer' && !(o.status?.loadBalancer?.ingress ?? []).length
      ? progressing('Waiting for the load balancer address')
      : healthy,
  Ingress: (o) =>
    !(o.status?.loadBalancer?.ingress ?? []).length ? progressing('Waiting for the ingress address') : healthy,
  PersistentVolumeClaim: (o) => {
    const phase = o.status?.phase;
    return phase === 'Bound'
      ? healthy
      : phase === 'Lost'
        ? degraded('The claim lost its volume')
        : progressing(`Claim is ${phase ?? 'Pending'}`);
  },
  Application: (o) =>
    o.status?.health?.status
      ? { status: o.status.health.status, ...(o.status.health.message ? { message: o.status.health.message } : {}) }
      : { status: 'Unknown' },
};

export function healthOf(o: Obj | undefined): Health {
  if (!o) return { status: 'Missing', message: 'the object does not exist' };
  const rule = RULES[o.kind];
  return rule ? rule(o) : healthy;
}

/** The worst status wins (Healthy < Suspended < Progressing < Missing < Degraded < Unknown). */
export function worst(healths: Health[]): Health {
  let out: Health = healthy;
  for (const h of healths) if (HEALTH_STATUSES.indexOf(h.status) > HEALTH_STATUSES.indexOf(out.status)) out = h;
  return out;
}
