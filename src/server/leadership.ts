/**
 * Which server runs the control loops (the controllers, the scheduler, the syncs). Every server
 * serves the API; on etcd the servers elect one leader, which runs the loops with a store whose
 * writes are fenced on its term (see store/election.ts), stops them the moment its term ends, and
 * campaigns again. A SQLite store has one server, which runs them from the start.
 */
import type { Logger } from 'pino';
import type { LeaderElection, RevisionedStore } from '../store/index.js';

export interface LeadershipOptions {
  identity: string;
  log: Logger;
  /** Told when this server starts (true) and stops (false) leading. */
  onChange?: (leading: boolean) => void;
}

/**
 * Runs `loops` whenever this server leads — elected by `election`, or from the start when there is
 * none (SQLite) — with the store it is to write through, until `signal` aborts; resolves once they
 * have stopped and the leadership (if any) is given up.
 */
export async function runWhileLeading(
  store: RevisionedStore,
  election: LeaderElection | undefined,
  signal: AbortSignal,
  o: LeadershipOptions,
  loops: (writer: RevisionedStore, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  if (!election) {
    o.onChange?.(true);
    await loops(store, signal);
    o.onChange?.(false);
    return;
  }
  while (!signal.aborted) {
    let term;
    try {
      term = await election.campaign(signal);
    } catch (err) {
      if (signal.aborted) break;
      o.log.warn({ err }, 'campaigning for leadership failed; trying again');
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    const elected = Date.now();
    o.log.info({ server: o.identity, fence: term.fence.createRevision }, 'elected leader: running the controllers');
    o.onChange?.(true);
    try {
      await loops(store.withFence(term.fence), AbortSignal.any([signal, term.lost]));
    } catch (err) {
      o.log.error({ err }, 'the controllers stopped');
    }
    o.onChange?.(false);
    if (!signal.aborted)
      o.log.warn(
        { reason: String(term.lost.reason), ledForMs: Date.now() - elected },
        'no longer the leader: the controllers stopped; campaigning again',
      );
    // Given up at once on the way out, so the next server need not wait for the lease to expire.
    await election.resign();
  }
}
