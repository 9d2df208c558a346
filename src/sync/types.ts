/** The Application as the sync reads and writes it (schemas/berth.dev.v1.Application.json). */
import type { IgnoreDifference } from '../diff/index.js';
import type { HealthStatus } from '../health/index.js';
import type { KubeObject } from '../store/types.js';
import type { HookRun } from '../api/types.gen.js';
import type { LedgerEntry } from './ledger.js';

export interface ApplicationObject extends KubeObject {
  spec: {
    source: { repoURL: string; targetRevision?: string; path?: string; credentialsSecret?: string };
    destination?: { namespace?: string };
    project?: string;
    syncPolicy?: {
      automated?: { prune?: boolean; selfHeal?: boolean; allowEmpty?: boolean };
      autoRollback?: boolean;
      syncOptions?: string[];
    };
    ignoreDifferences?: IgnoreDifference[];
    pollInterval?: string;
    notify?: { commitStatus?: { url: string; tokenSecret?: string; context?: string } };
  };
  status?: ApplicationStatus;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface RollbackState {
  request: string;
  revision: string;
  /** `app rollback` (or autoRollback), or `app sync --revision`: both pin a commit the same way. */
  kind?: 'rollback' | 'revision';
  /** The tracked branch's head when the rollback was made: a new head ends the pause. */
  branchHead: string;
  state: 'Paused' | 'Resumed';
  since: string;
}

export type HistoryEntry = {
  id: number;
  revision: string;
  deployedAt: string;
  message?: string;
  author?: string;
  initiatedBy?: 'auto' | 'user' | 'rollback';
  outcome?: 'Progressing' | 'Healthy' | 'Degraded' | 'Failed';
};

export interface ApplicationStatus {
  ledger?: LedgerEntry[];
  lastSyncRequest?: string;
  rollback?: RollbackState;
  observedGeneration?: number;
  sync?: { status: 'Synced' | 'OutOfSync' | 'Unknown'; revision?: string };
  operationState?: {
    phase: 'Running' | 'Succeeded' | 'Failed' | 'Error';
    message?: string;
    revision?: string;
    startedAt?: string;
    finishedAt?: string;
    hooks?: HookRun[];
  };
  history?: HistoryEntry[];
  conditions?: Condition[];
  reconciledAt?: string;
  health?: { status: HealthStatus; message?: string };
  resources?: {
    kind: string;
    namespace?: string;
    name: string;
    status: 'Synced' | 'OutOfSync';
    health?: HealthStatus;
  }[];
}

/** A commit someone asked to pin the app to: `app rollback` (a commit) or `app sync --revision`. */
export interface PinRequest {
  /** Identifies one request: pinning to one revision twice is two requests. */
  request: string;
  commit: string;
  kind: 'rollback' | 'revision';
}
