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
  private campaignNow: Campaign | undefined;

  constructor(
    private readonly namespace: Namespace,
    private readonly identity: string,
    private readonly ttlSeconds: number,
  ) {
    this.election = namespace.election('leader', ttlSeconds);
  }

  async campaign(signal: AbortSignal): Promise<Leadership> {
    const campaign = this.election.campaign(this.identity);
    this.campaignNow = campaign;
    const lost = new AbortController();
    const end = (reason: string) => {
      if (!lost.signal.aborted) lost.abort(new BerthError('NotLeader', reason));
    };
    campaign.on('error', (err: Error) => end(`the election lease was lost: ${err.message}`));
    const onAbort = () => void campaign.resign().catch(() => undefined);
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
      await campaign.resign().catch(() => undefined);
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
        void this.namespace
          .get(fence.key.slice(this.namespace.prefix.length))
          .exec()
          .then(
            (res) => {
              if (Number(res.kvs[0]?.create_revision) === fence.createRevision) confirmed = Date.now();
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
    await this.campaignNow?.resign().catch(() => undefined);
    this.campaignNow = undefined;
  }
}
