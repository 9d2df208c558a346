export { reconcileApplication, type ApplicationObject, type ApplicationStatus, type SyncDeps, type SyncOutcome } from './sync.js';
