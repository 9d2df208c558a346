/** What the source hands the sync engine, and how it reports trouble. */
import type { LoadResult } from '../manifest/index.js';

export interface SourceSpec {
  /** http(s) URL, file:// URL, or a local path. */
  repoURL: string;
  /** Branch, tag or commit; default: the remote's default branch. */
  targetRevision?: string;
  /** Directory in the repository; default: its root. */
  path?: string;
  credentials?: { username: string; password: string };
}

export const SOURCE_FAILURES = [
  'Unreachable',
  'AuthenticationFailed',
  'RevisionNotFound',
  'InvalidRepository',
  'PathNotFound',
] as const;
export type SourceFailure = (typeof SOURCE_FAILURES)[number];

/** A failure as a condition: the loop reports it and carries on; nothing throws past the source. */
export interface SourceCondition {
  reason: SourceFailure;
  message: string;
}

export interface Resolved {
  /** The commit the revision names now. */
  commit: string;
  /** The ref it was resolved through (refs/heads/main, refs/tags/v1) or the commit itself. */
  ref: string;
}

export interface CommitInfo {
  commit: string;
  message: string;
  author: string;
  /** Epoch ms. */
  timestamp: number;
}

export interface Artifact extends CommitInfo {
  repoURL: string;
  path: string;
  /** Manifest files under the path, by repository path, with their blob ids. */
  files: Map<string, string>;
  /** The objects and diagnostics, exactly as `berth validate` would load these files. Read-only: shared with the parse cache. */
  result: LoadResult;
  /** How many files this artifact had to parse (the rest came from the cache). */
  parsed: number;
}

/**
 * Turns an encrypted manifest file into plaintext before it is loaded (SOPS, see src/sops): the
 * plaintext, or undefined when the file is not encrypted; throws with the reason (never a value)
 * when it cannot. `id` tells decryptors apart in the parse cache (another key, another result).
 */
export interface Decryptor {
  readonly id: string;
  decrypt(path: string, text: string): Promise<string | undefined>;
}
