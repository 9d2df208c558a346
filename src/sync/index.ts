export {
  reconcileApplication,
  type AppMemo,
  type ApplicationObject,
  type ApplicationStatus,
  type SyncDeps,
  type SyncOutcome,
} from './sync.js';
export { ApplicationController, pollIntervalOf, requestRefresh, DEFAULT_POLL_MS } from './controller.js';
export { applicationManifests, diffApplication, type DiffOutcome, type ManifestsOutcome } from './diff.js';
