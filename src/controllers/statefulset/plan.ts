/**
 * The StatefulSet planner (Kubernetes' stateful_set_control.go, pure): pods `<sts>-<ordinal>` with
 * a stable hostname and claims `<template>-<sts>-<ordinal>` made before their pod; OrderedReady
 * creates in order, each Running and Ready before the next, and removes from the highest ordinal
 * one at a time; Parallel does both at once; RollingUpdate replaces pods from the highest ordinal
 * down to `partition`, one at a time, each Ready before the next; OnDelete replaces only pods a
 * user deleted. Names are the identity: two pods of one ordinal cannot exist.
 */
import { SELECTED_NODE } from '../../api/storage.js';
import type { PodTemplateSpec, StatefulSetStatus } from '../../api/types.gen.js';
import {
  controllerRef,
  fnv32a,
  safeEncode,
  stableJson,
  type PodObject,
  type PvcObject,
  type StatefulSetObject,
} from '../objects.js';
import { isActive, isAvailable, isReady, isTerminated, podFromTemplate } from '../pods.js';

export const REVISION_LABEL = 'controller-revision-hash';
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

export interface StatefulSetPlan {
  createClaims: PvcObject[];
  createPods: PodObject[];
  deletePods: PodObject[];
  deleteClaims: PvcObject[];
  /** Claims to pin to the node their pod runs on. */
  pinClaims: { claim: PvcObject; node: string }[];
  status: StatefulSetStatus;
}

export function revisionName(sts: StatefulSetObject, template: PodTemplateSpec = sts.spec.template): string {
  return `${sts.metadata.name}-${safeEncode(fnv32a(stableJson(template)))}`;
}

export function ordinalOf(sts: StatefulSetObject, pod: PodObject): number | undefined {
  const prefix = `${sts.metadata.name}-`;
  if (!pod.metadata.name.startsWith(prefix)) return undefined;
  const rest = pod.metadata.name.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}

export const claimName = (claim: string, sts: StatefulSetObject, ordinal: number): string =>
  `${claim}-${sts.metadata.name}-${ordinal}`;

/** The pod for one ordinal, from a template (the update revision's, or the current one's). */
export function podFor(
  sts: StatefulSetObject,
  ordinal: number,
  template: PodTemplateSpec,
  revision: string,
): PodObject {
  const name = `${sts.metadata.name}-${ordinal}`;
  const pod = podFromTemplate(template, sts, name, {
    [REVISION_LABEL]: revision,
    [POD_NAME_LABEL]: name,
    [POD_INDEX_LABEL]: String(ordinal),
  });
  pod.spec.hostname = name;
  if (sts.spec.serviceName) pod.spec.subdomain = sts.spec.serviceName;
  const claims = (sts.spec.volumeClaimTemplates ?? []).map((c) => c.metadata?.name ?? '');
  const volumes = (pod.spec.volumes ?? []).filter((v) => !claims.includes(v.name));
  for (const c of claims) volumes.push({ name: c, persistentVolumeClaim: { claimName: claimName(c, sts, ordinal) } });
  if (volumes.length) pod.spec.volumes = volumes;
  return pod;
}

export function claimFor(
  sts: StatefulSetObject,
  template: NonNullable<StatefulSetObject['spec']['volumeClaimTemplates']>[number],
  ordinal: number,
): PvcObject {
  const deleteWithSet = sts.spec.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete';
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: claimName(template.metadata?.name ?? '', sts, ordinal),
      namespace: sts.metadata.namespace ?? 'default',
      labels: { ...(template.metadata?.labels ?? {}), ...(sts.spec.selector.matchLabels ?? {}) },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ...(deleteWithSet ? { ownerReferences: [controllerRef(sts)] } : {}),
    },
    spec: structuredClone(template.spec ?? {}),
  } as PvcObject;
}

const healthy = (p: PodObject) => isActive(p) && p.status?.phase === 'Running' && isReady(p);

export function planStatefulSet(
  sts: StatefulSetObject,
  pods: PodObject[],
  claims: PvcObject[],
  now: number,
): StatefulSetPlan {
  const plan: StatefulSetPlan = {
    createClaims: [],
    createPods: [],
    deletePods: [],
    deleteClaims: [],
    pinClaims: [],
    status: {},
  };
  const replicas = sts.spec.replicas ?? 1;
  const start = sts.spec.ordinals?.start ?? 0;
  const parallel = sts.spec.podManagementPolicy === 'Parallel';
  const rolling = (sts.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
  const partition = rolling ? (sts.spec.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;
  const updateRevision = revisionName(sts);
  const currentRevision = sts.status?.currentRevision ?? updateRevision;
  const byOrdinal = new Map<number, PodObject>();
  const condemned: PodObject[] = [];
  for (const p of pods) {
    const ord = ordinalOf(sts, p);
    if (ord === undefined) continue;
    if (ord >= start && ord < start + replicas) byOrdinal.set(ord, p);
    else condemned.push(p);
  }
  condemned.sort((a, b) => ordinalOf(sts, b)! - ordinalOf(sts, a)!);
  const claimByName = new Map(claims.map((c) => [c.metadata.name, c]));
  const revisionOfPod = (p: PodObject) => p.metadata.labels?.[REVISION_LABEL];
  // The current revision's template, taken from a pod of it (Berth keeps no ControllerRevisions).
  const currentTemplate =
    currentRevision === updateRevision ? undefined : pods.find((p) => revisionOfPod(p) === currentRevision);

  let blocked = false;
  for (let ord = start; ord < start + replicas; ord++) {
    const pod = byOrdinal.get(ord);
    for (const t of sts.spec.volumeClaimTemplates ?? []) {
      const claim = claimFor(sts, t, ord);
      const existing = claimByName.get(claim.metadata.name);
      if (!existing) plan.createClaims.push(claim);
      else if (pod?.spec.nodeName && !existing.metadata.annotations?.[SELECTED_NODE])
        plan.pinClaims.push({ claim: existing, node: pod.spec.nodeName });
    }
    if (blocked) continue;
    if (pod && isTerminated(pod)) {
      // A failed or finished pod is replaced under the same name.
      plan.deletePods.push(pod);
      if (!parallel) blocked = true;
      continue;
    }
    if (!pod) {
      const useCurrent = currentTemplate && ord < partition;
      const template = useCurrent ? templateOf(currentTemplate) : sts.spec.template;
      plan.createPods.push(podFor(sts, ord, template, useCurrent ? currentRevision : updateRevision));
      if (!parallel) blocked = true;
      continue;
    }
    if (!parallel && !healthy(pod)) blocked = true;
  }

  // Scale down: the highest ordinal first, one at a time unless Parallel, only when all others are healthy.
  if (!blocked && condemned.length) {
    const unhealthy = [...byOrdinal.values()].some((p) => !healthy(p));
    if (parallel) plan.deletePods.push(...condemned.filter(isActive));
    else if (!unhealthy && condemned[0] && isActive(condemned[0])) plan.deletePods.push(condemned[0]);
    blocked = !parallel;
  }
  if (sts.spec.persistentVolumeClaimRetentionPolicy?.whenScaled === 'Delete') {
    for (const c of claims) {
      const ord = claimOrdinal(sts, c);
      if (ord !== undefined && (ord < start || ord >= start + replicas) && !pods.some((p) => ordinalOf(sts, p) === ord))
        plan.deleteClaims.push(c);
    }
  }

  // Rolling update from the highest ordinal down to the partition: one pod at a time.
  const complete = [...byOrdinal.values()].length === replicas && [...byOrdinal.values()].every(healthy);
  if (rolling && !blocked && complete) {
    for (let ord = start + replicas - 1; ord >= start + partition; ord--) {
      const pod = byOrdinal.get(ord)!;
      if (revisionOfPod(pod) !== updateRevision) {
        if (!pod.metadata.deletionTimestamp) plan.deletePods.push(pod);
        break;
      }
    }
  }
  plan.status = statefulSetStatus(sts, pods, { currentRevision, updateRevision, now });
  return plan;
}

function templateOf(pod: PodObject): PodTemplateSpec {
  const labels = { ...(pod.metadata.labels ?? {}) };
  for (const l of [REVISION_LABEL, POD_NAME_LABEL, POD_INDEX_LABEL]) delete labels[l];
  return {
    metadata: { labels, ...(pod.metadata.annotations ? { annotations: pod.metadata.annotations } : {}) },
    spec: pod.spec,
  };
}

function claimOrdinal(sts: StatefulSetObject, c: PvcObject): number | undefined {
  for (const t of sts.spec.volumeClaimTemplates ?? []) {
    const prefix = `${t.metadata?.name ?? ''}-${sts.metadata.name}-`;
    if (c.metadata.name.startsWith(prefix) && /^[0-9]+$/.test(c.metadata.name.slice(prefix.length)))
      return Number(c.metadata.name.slice(prefix.length));
  }
  return undefined;
}

function statefulSetStatus(
  sts: StatefulSetObject,
  pods: PodObject[],
  r: { currentRevision: string; updateRevision: string; now: number },
): StatefulSetStatus {
  const active = pods.filter(isActive);
  const replicas = sts.spec.replicas ?? 1;
  const revisionCount = (rev: string) => active.filter((p) => p.metadata.labels?.[REVISION_LABEL] === rev).length;
  const status: StatefulSetStatus = {
    observedGeneration: sts.metadata.generation ?? 1,
    replicas: active.length,
    readyReplicas: active.filter(isReady).length,
    availableReplicas: active.filter((p) => isAvailable(p, sts.spec.minReadySeconds ?? 0, r.now)).length,
    currentReplicas: revisionCount(r.currentRevision),
    updatedReplicas: revisionCount(r.updateRevision),
    currentRevision: r.currentRevision,
    updateRevision: r.updateRevision,
  };
  if (sts.status?.collisionCount !== undefined) status.collisionCount = sts.status.collisionCount;
  // The update is complete: the update revision becomes the current one.
  if (status.updatedReplicas === replicas && status.readyReplicas === replicas && status.replicas === replicas) {
    status.currentRevision = r.updateRevision;
    status.currentReplicas = status.updatedReplicas;
  }
  return status;
}
