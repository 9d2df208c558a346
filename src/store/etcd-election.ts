/**
 * Leader election on etcd (the etcd3 package's election: a key per candidate under
 * `<prefix>/election/leader/`, held by a lease kept alive every TTL/3; the lowest create revision
 * leads). The term's fence is that key and its create revision (see Fence). The term ends —
 * `lost` aborts — when the lease is reported lost, when the key is gone or another, or when the
 * key could not be confirmed for two thirds of the TTL: the client would declare a lost lease
 * only after 2×TTL, and by then another server may lead (RESEARCH.md §2), so a server that
 * cannot reach etcd steps down before its lease can have expired.
 */
import type { Campaign, Election, Namespace } from 'etcd3';
import { BerthError } from '../api/errors.js';
import type { Fence, LeaderElection, Leadership } from './types.js';

export class EtcdElection implements LeaderElection {
  private readonly election: Election;
  /** The campaign under way (or the term it won), and how it ends. */
  private current: { campaign: Campaign; resign: () => Promise<void>; lost: AbortController } | undefined;

  constructor(
    private readonly namespace: Namespace,
    private readonly identity: string,
    private readonly ttlSeconds: number,
  ) {
    this.election = namespace.election('leader', ttlSeconds);
  }

  async campaign(signal: AbortSignal): Promise<Leadership> {
    const campaign = this.election.campaign(this.identity);
    const lost = new AbortController();
    const end = (reason: string) => {
      if (!lost.signal.aborted) lost.abort(new BerthError('NotLeader', reason));
    };
    // Once, and awaited by whoever asks next: the etcd client must not close under a revoke in flight.
    let resigning: Promise<void> | undefined;
    const resign = () => (resigning ??= campaign.resign().catch(() => undefined));
    this.current = { campaign, resign, lost };
    campaign.on('error', (err: Error) => end(`the election lease was lost: ${err.message}`));
    const onAbort = () => void resign();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([
        campaign.wait(),
        new Promise((_, reject) => {
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          lost.signal.addEventListener('abort', () => reject(lost.signal.reason), { once: true });
        }),
      ]);
      const key = await campaign.getCampaignKey();
      const kv = await this.namespace.get(key.slice(this.namespace.prefix.length)).exec();
      const createRevision = Number(kv.kvs[0]?.create_revision);
      if (!createRevision) throw new BerthError('NotLeader', 'elected, but the election key is gone already');
      const fence: Fence = { key, createRevision };
      this.watchTerm(fence, lost, end);
      return { fence, lost: lost.signal };
    } catch (e) {
      end('the campaign ended');
      await resign();
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Confirms the key every TTL/6; ends the term when it is another's, gone, or unconfirmed for ⅔·TTL. */
  private watchTerm(fence: Fence, lost: AbortController, end: (reason: string) => void): void {
    const ttlMs = this.ttlSeconds * 1000;
    let confirmed = Date.now();
    const timer = setInterval(
      () => {
        if (Date.now() - confirmed > (ttlMs * 2) / 3) {
          end(`the election key could not be confirmed for ${Math.round((Date.now() - confirmed) / 1000)} s`);
          return;
        }
        // Confirmed as of when the read was sent (the answer may come late): the cautious clock.
        const sent = Date.now();
        void this.namespace
          .get(fence.key.slice(this.namespace.prefix.length))
          .exec()
          .then(
            (res) => {
              if (Number(res.kvs[0]?.create_revision) === fence.createRevision) confirmed = Math.max(confirmed, sent);
              else end('the election key is gone or another (the lease expired)');
            },
            () => undefined, // unconfirmed: counted by the time since the last confirmation
          );
      },
      Math.max(200, ttlMs / 6),
    );
    lost.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  async leader(): Promise<string | undefined> {
    return this.election.leader();
  }

  async resign(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    if (!current) return;
    if (!current.lost.signal.aborted) current.lost.abort(new BerthError('NotLeader', 'resigned'));
    await current.resign();
  }
}
