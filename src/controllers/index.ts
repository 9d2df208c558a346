/** Every workload controller, built over one context: what the composition root starts. */
import type { Controller } from '../runtime/index.js';
import type { ControllerContext } from './context.js';
import { CronJobController } from './cronjob/reconcile.js';
import { DaemonSetController } from './daemonset/reconcile.js';
import { DeploymentController } from './deployment/reconcile.js';
import { EndpointsController } from './endpoints/reconcile.js';
import { GarbageCollector } from './gc/reconcile.js';
import { JobController } from './job/reconcile.js';
import { ReplicaSetController } from './replicaset/reconcile.js';
import { StatefulSetController } from './statefulset/reconcile.js';
import { ResourceQuotaController } from './resourcequota/reconcile.js';
import { ServiceAccountController } from './serviceaccount/reconcile.js';
import { DisruptionController } from './disruption/reconcile.js';
import { VolumeController } from './volume/reconcile.js';

import { NodeLifecycleController } from './nodelifecycle/reconcile.js';

export type { ControllerContext } from './context.js';

/** Node health: leases → Ready and taints → evictions; pods of deleted nodes collected. */
export function nodeControllers(ctx: ControllerContext, options: { graceMs?: number } = {}): Controller[] {
  return [new NodeLifecycleController(ctx, options.graceMs)];
}

export function workloadControllers(ctx: ControllerContext): Controller[] {
  return [
    new ReplicaSetController(ctx),
    new ReplicaSetController(ctx, 'ReplicationController'),
    new DeploymentController(ctx),
    new StatefulSetController(ctx),
    new DaemonSetController(ctx),
    new JobController(ctx),
    new CronJobController(ctx),
    new GarbageCollector(ctx),
    new EndpointsController(ctx),
    new ResourceQuotaController(ctx),
    new ServiceAccountController(ctx),
    new DisruptionController(ctx),
    new VolumeController(ctx),
  ];
}
