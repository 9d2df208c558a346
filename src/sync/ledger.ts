/**
 * The commit ledger: for every commit an Application has seen, when it was seen, synced,
 * healthy and first served through its Ingresses, and its outcome as a commit status (pending, success, failure, error) — what a pull
 * request's check shows, and what `spec.notify.commitStatus` posts to GitHub/Gitea-compatible
 * statuses URLs whenever a commit's state changes.
 */
import type { LedgerEntry } from '../api/types.gen.js';

export type { LedgerEntry };
export type CommitState = LedgerEntry['state'];

const LEDGER_LIMIT = 50;

/** Records what happened to `revision` now; returns the new ledger (the newest last). */
export function record(
  ledger: LedgerEntry[] | undefined,
  revision: string,
  at: string,
  event: { synced?: boolean; healthy?: boolean; serving?: boolean; state?: CommitState; description: string },
): LedgerEntry[] {
  const list = [...(ledger ?? [])];
  let entry = list.find((e) => e.revision === revision);
  if (!entry) {
    entry = { revision, seenAt: at, state: 'pending', description: 'seen' };
    list.push(entry);
  }
  // A final outcome stays final (a later poll of a failed commit does not turn it pending again).
  if (entry.state !== 'pending' && event.state === 'pending') return list.slice(-LEDGER_LIMIT);
  if (event.synced && !entry.syncedAt) entry.syncedAt = at;
  if (event.healthy && !entry.healthyAt) entry.healthyAt = at;
  if (event.serving && !entry.servingAt) entry.servingAt = at;
  entry.state = event.state ?? (event.healthy ? 'success' : 'pending');
  entry.description = event.description;
  return list.slice(-LEDGER_LIMIT);
}

export interface CommitStatusTarget {
  url: string;
  token?: string;
  context?: string;
  targetURL?: string;
}

/** POSTs a commit status (GitHub/Gitea shape); `{sha}` in the URL is replaced by the commit. */
export async function postCommitStatus(target: CommitStatusTarget, entry: LedgerEntry): Promise<void> {
  const res = await fetch(target.url.replace('{sha}', entry.revision), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(target.token ? { authorization: `token ${target.token}` } : {}),
    },
    body: JSON.stringify({
      state: entry.state,
      description: (entry.description ?? '').slice(0, 140),
      context: target.context ?? 'berth',
      ...(target.targetURL ? { target_url: target.targetURL } : {}),
    }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`commit status POST to ${new URL(target.url).host} answered HTTP ${res.status}`);
}
