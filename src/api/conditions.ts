/**
 * The condition types and reasons an Application's status uses, in one place: the sync writes
 * them, `berth app` and the dashboard read them. Argo CD's names where it has one
 * (ComparisonError, SharedResourceError, SyncError, OrphanedResourceWarning).
 */
export const APP_CONDITION = {
  /** The repository could not be read: credentials, fetch, a revision or path that is not there. */
  SourceError: 'SourceError',
  /** The tracked branch no longer contains the synced commit (a force-push). */
  HistoryRewritten: 'HistoryRewritten',
  /** A rollback or a pinned revision holds the app; automated sync is paused. */
  RollbackActive: 'RollbackActive',
  /** The commit was refused whole: invalid manifests, policy, a missing namespace. */
  ComparisonError: 'ComparisonError',
  /** An object of the commit belongs to another Application, or to no one. */
  SharedResourceError: 'SharedResourceError',
  /** An automated sync refused to do what the commit asks (prune everything). */
  SyncError: 'SyncError',
  /** Live objects no longer in Git stay because prune is off. */
  OrphanedResourceWarning: 'OrphanedResourceWarning',
  /** The commit status could not be posted. */
  NotificationError: 'NotificationError',
} as const;
export type AppConditionType = (typeof APP_CONDITION)[keyof typeof APP_CONDITION];

/** The conditions that mean the commit was not applied: `app wait` stops on them. */
export const APP_FAILURE_CONDITIONS: readonly AppConditionType[] = [
  APP_CONDITION.ComparisonError,
  APP_CONDITION.SourceError,
  APP_CONDITION.SharedResourceError,
];

export const APP_REASON = {
  CredentialsRefused: 'CredentialsRefused',
  ForcePush: 'ForcePush',
  PinnedRevision: 'PinnedRevision',
  RolledBack: 'RolledBack',
  InvalidManifests: 'InvalidManifests',
  PolicyViolation: 'PolicyViolation',
  NamespaceNotFound: 'NamespaceNotFound',
  ManagedByAnotherApplication: 'ManagedByAnotherApplication',
  NotManaged: 'NotManaged',
  EmptyCommit: 'EmptyCommit',
  PruneDisabled: 'PruneDisabled',
  CommitStatusFailed: 'CommitStatusFailed',
} as const;
export type AppReason = (typeof APP_REASON)[keyof typeof APP_REASON];
