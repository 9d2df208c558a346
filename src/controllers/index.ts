/** Every workload controller, built over one context: what the composition root starts. */
import type { Controller } from '../runtime/index.js';
import type { ControllerContext } from './context.js';
import { DeploymentController } from './deployment/reconcile.js';
import { GarbageCollector } from './gc/reconcile.js';
import { ReplicaSetController } from './replicaset/reconcile.js';

export type { ControllerContext } from './context.js';

export function workloadControllers(ctx: ControllerContext): Controller[] {
  return [new ReplicaSetController(ctx), new DeploymentController(ctx), new GarbageCollector(ctx)];
}
