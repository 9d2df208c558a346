/**
 * The object shapes controllers read and write (the generated types with a name always set), the
 * kind refs they watch, and the helpers every controller shares: owner references, conditions,
 * durations and the name suffixes Kubernetes generates.
 */
import { timestamp } from '../api/lifecycle.js';
import { ALPHANUMS } from '../api/names.js';
import type { Condition, ObjectMeta, OwnerReference } from '../api/types.gen.js';

export type {
  CronJobObject,
  DaemonSetObject,
  DeploymentObject,
  JobObject,
  NodeObject,
  PodObject,
  PvcObject,
  ReplicaSetObject,
  StatefulSetObject,
} from '../api/objects.js';
export type Owner = { apiVersion: string; kind: string; metadata: ObjectMeta & { name: string } };

export const POD = { group: '', kind: 'Pod' };
export const NODE = { group: '', kind: 'Node' };
export const PVC = { group: '', kind: 'PersistentVolumeClaim' };
export const REPLICA_SET = { group: 'apps', kind: 'ReplicaSet' };
export const DEPLOYMENT = { group: 'apps', kind: 'Deployment' };
export const STATEFUL_SET = { group: 'apps', kind: 'StatefulSet' };
export const DAEMON_SET = { group: 'apps', kind: 'DaemonSet' };
export const JOB = { group: 'batch', kind: 'Job' };
export const CRON_JOB = { group: 'batch', kind: 'CronJob' };

/** The reference a controller puts on what it creates (controller: true, as Kubernetes). */
export function controllerRef(owner: Owner): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function controllerOf(o: { metadata: ObjectMeta }): OwnerReference | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller);
}

export function isControlledBy(o: { metadata: ObjectMeta }, owner: Owner): boolean {
  return controllerOf(o)?.uid === owner.metadata.uid;
}

/** `namespace/name`, the key every controller queues. */
export function keyOf(o: { metadata: ObjectMeta }): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export { randomSuffix } from '../api/names.js';

/** FNV-1a 32-bit, the hash Kubernetes names pod-template-hash and controller revisions with. */
export function fnv32a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** rand.SafeEncodeString: a hash as a label-safe string without vowels (no bad words). */
export function safeEncode(n: number): string {
  return String(n)
    .split('')
    .map((d) => ALPHANUMS[Number(d)]!)
    .join('');
}

export { stableJson } from '../api/workloads.js';

export const stamp = (ms: number): string => timestamp(new Date(ms));
export const parseTime = (t: string | undefined | null): number | undefined => {
  const ms = t ? Date.parse(t) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Sets a condition the way Kubernetes' helpers do: lastTransitionTime moves only when the status
 * does; lastUpdateTime (where the kind keeps one) whenever reason or message change.
 */
export function setCondition(
  conditions: Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime' | 'lastUpdateTime'>,
  now: number,
  withUpdateTime = false,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const old = i === -1 ? undefined : list[i];
  if (old && old.status === next.status && old.reason === next.reason && old.message === next.message) return list;
  const at = stamp(now);
  const condition: Condition = {
    ...next,
    ...(withUpdateTime ? { lastUpdateTime: at } : {}),
    lastTransitionTime: old && old.status === next.status ? (old.lastTransitionTime ?? at) : at,
  };
  if (i === -1) list.push(condition);
  else list[i] = condition;
  return list;
}

export function removeCondition(conditions: Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/** An int-or-percent (maxSurge, maxUnavailable) against a total, rounded up or down as Kubernetes does. */
export function scaledValue(
  value: number | string | undefined,
  total: number,
  roundUp: boolean,
  fallback: number | string,
): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const m = /^([0-9]+)%$/.exec(v);
  if (!m) {
    if (/^[0-9]+$/.test(v)) return Number(v);
    throw new Error(`invalid value for IntOrString: ${JSON.stringify(v)}`);
  }
  const scaled = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}
