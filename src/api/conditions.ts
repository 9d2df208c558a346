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
  /** Git sets spec.replicas of a workload an HPA scales: the HPA's count is kept. */
  AutoscaledReplicasWarning: 'AutoscaledReplicasWarning',
} as const;
export type AppConditionType = (typeof APP_CONDITION)[keyof typeof APP_CONDITION];

/** The conditions that mean the commit was not applied: `app wait` stops on them. */
export const APP_FAILURE_CONDITIONS: readonly AppConditionType[] = [
  APP_CONDITION.ComparisonError,
  APP_CONDITION.SourceError,
  APP_CONDITION.SharedResourceError,
];

export const APP_REASON = {
  ReplicasLeftToAutoscaler: 'ReplicasLeftToAutoscaler',
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

/**
 * The summary conditions every Application also carries, as Flux's kstatus reads them (so
 * `kubectl wait --for=condition=Ready`, kstatus and Flux's health checks understand Berth's apps):
 * Ready (True: synced and healthy), Reconciling (True: work towards the commit is under way),
 * Stalled (True: it cannot progress until someone changes something).
 */
export const KSTATUS_CONDITION = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
} as const;
export type KstatusConditionType = (typeof KSTATUS_CONDITION)[keyof typeof KSTATUS_CONDITION];

/** Reasons of the summary conditions (Flux's names where it has one). */
export const KSTATUS_REASON = {
  ReconciliationSucceeded: 'ReconciliationSucceeded',
  Progressing: 'Progressing',
  OutOfSync: 'OutOfSync',
  HealthCheckFailed: 'HealthCheckFailed',
  Suspended: 'Suspended',
} as const;

/**
 * The condition types Kubernetes' own kinds carry, written by Berth's controllers, scheduler and
 * agent and read by health, the CLI and the tables: one spelling for each.
 */
export const CONDITION = {
  /** Pod, Node: serving / accepting pods. */
  Ready: 'Ready',
  PodScheduled: 'PodScheduled',
  Initialized: 'Initialized',
  ContainersReady: 'ContainersReady',
  /** Deployment. */
  Available: 'Available',
  Progressing: 'Progressing',
  /** ReplicaSet, ReplicationController. */
  ReplicaFailure: 'ReplicaFailure',
  /** Job. */
  Complete: 'Complete',
  Failed: 'Failed',
  Suspended: 'Suspended',
  /** PodDisruptionBudget. */
  DisruptionAllowed: 'DisruptionAllowed',
  /**
   * Node, set by its agent: True when the service proxy cannot listen on some Services' ports
   * (another program holds them). True means a problem, as node-problem-detector's conditions.
   */
  ServicePortsUnavailable: 'ServicePortsUnavailable',
} as const;
export type ConditionType = (typeof CONDITION)[keyof typeof CONDITION];

/** The reasons those conditions give, as Kubernetes' controllers spell them. */
export const REASON = {
  // Deployment
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
  DeploymentPaused: 'DeploymentPaused',
  DeploymentResumed: 'DeploymentResumed',
  NewReplicaSetAvailable: 'NewReplicaSetAvailable',
  NewReplicaSetCreated: 'NewReplicaSetCreated',
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  FoundNewReplicaSet: 'FoundNewReplicaSet',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  // ReplicaSet
  FailedCreate: 'FailedCreate',
  // Job
  JobSuspended: 'JobSuspended',
  JobResumed: 'JobResumed',
  CompletionsReached: 'CompletionsReached',
  BackoffLimitExceeded: 'BackoffLimitExceeded',
  DeadlineExceeded: 'DeadlineExceeded',
  // Pod
  Unschedulable: 'Unschedulable',
  ContainersNotReady: 'ContainersNotReady',
  ContainersNotInitialized: 'ContainersNotInitialized',
  // Node
  KubeletReady: 'KubeletReady',
  NodeStatusUnknown: 'NodeStatusUnknown',
  PortsInUse: 'PortsInUse',
  AllServicePortsServed: 'AllServicePortsServed',
  // PodDisruptionBudget
  SufficientPods: 'SufficientPods',
  InsufficientPods: 'InsufficientPods',
} as const;
export type Reason = (typeof REASON)[keyof typeof REASON];
