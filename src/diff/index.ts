export {
  plan,
  ComparisonCache,
  normalizeForDiff,
  withAllocatedPorts,
  canonicalJson,
  objectKey,
  waveOf,
  KIND_ORDER,
  type Action,
  type Plan,
  type PlanOptions,
  type IgnoreDifference,
} from './plan.js';
export {
  INSTANCE_LABEL,
  TRACKING_ANNOTATION,
  SYNC_WAVE_ANNOTATION,
  SYNC_REQUESTED_ANNOTATION,
  ROLLBACK_ANNOTATION,
  SYNC_REVISION_ANNOTATION,
  trackingId,
  withTracking,
  managerOf,
  type AppRef,
  type ObjectLike,
} from './tracking.js';
export { diffReport, hasDifferences, renderText, renderMarkdown, type DiffReport, type ReportEntry } from './report.js';
