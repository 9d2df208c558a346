/**
 * The object shapes every part reads and writes: the types generated from schemas/ with a name
 * always set (as the API server returns them). One declaration per kind, for the controllers, the
 * scheduler, the agent and the CLI alike.
 */
import type {
  CronJob,
  DaemonSet,
  Deployment,
  Job,
  Node,
  ObjectMeta,
  PersistentVolumeClaim,
  Pod,
  ReplicaSet,
  StatefulSet,
} from './types.gen.js';

export type Named<T extends { metadata?: ObjectMeta }> = Omit<T, 'metadata'> & {
  metadata: ObjectMeta & { name: string };
};
export type PodObject = Named<Pod>;
export type ReplicaSetObject = Named<ReplicaSet>;
export type DeploymentObject = Named<Deployment>;
export type StatefulSetObject = Named<StatefulSet>;
export type DaemonSetObject = Named<DaemonSet>;
export type JobObject = Named<Job>;
export type CronJobObject = Named<CronJob>;
export type PvcObject = Named<PersistentVolumeClaim>;
export type NodeObject = Named<Node>;
