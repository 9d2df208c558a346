/**
 * The Application as the sync reads and writes it: the types generated from
 * schemas/berth.dev.v1.Application.json (one declaration for the sync, the CLI and the API).
 */
import type { Application, ApplicationStatus, Condition, RevisionHistory, RollbackState } from '../api/types.gen.js';
import type { KubeObject } from '../store/types.js';

export type { ApplicationStatus, Condition, RollbackState };
export type ApplicationObject = KubeObject & Omit<Application, 'apiVersion' | 'kind' | 'metadata'>;
export type HistoryEntry = RevisionHistory;

/** A commit someone asked to pin the app to: `app rollback` (a commit) or `app sync --revision`. */
export interface PinRequest {
  /** Identifies one request: pinning to one revision twice is two requests. */
  request: string;
  commit: string;
  kind: 'rollback' | 'revision';
}
