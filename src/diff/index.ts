export {
  plan,
  ComparisonCache,
  normalizeForDiff,
  withServerAssigned,
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
  REFRESH_REQUESTED_ANNOTATION,
  ROLLBACK_ANNOTATION,
  SYNC_REVISION_ANNOTATION,
  trackingId,
  withTracking,
  managerOf,
  type AppRef,
  type ObjectLike,
} from './tracking.js';
export {
  diffReport,
  hasDifferences,
  renderText,
  renderMarkdown,
  renderMarkdownParts,
  renderFailureMarkdown,
  MAX_COMMENT_CHARS,
  type MarkdownOptions,
  maskSecret,
  type DiffReport,
  type ReportEntry,
  type PlanChecks,
} from './report.js';
export { imageChanges, type ImageChange } from './images.js';
export { autoscaledWorkloads, type AutoscaledWorkloads } from './autoscaled.js';
