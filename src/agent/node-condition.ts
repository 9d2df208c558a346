/**
 * A condition of the agent's own Node that the agent keeps (not the lease's Ready, which the
 * server's node lifecycle controller keeps): written when it changes, by read-modify-write of the
 * status subresource, again on a conflict with the controller's writes; the latest wish wins.
 */
import { isBerthError } from '../api/errors.js';
import { timestamp } from '../api/lifecycle.js';
import type { Condition } from '../api/types.gen.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { NODES } from './node.js';

type Wish = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

export class NodeCondition {
  private wanted: Wish | undefined;
  private writing = Promise.resolve();

  constructor(
    private readonly client: BerthClient,
    private readonly node: string,
    private readonly onError?: (e: unknown) => void,
  ) {}

  /** Sets the condition (once it is written, settled() resolves). */
  set(wish: Wish): void {
    this.wanted = wish;
    this.writing = this.writing.then(() => this.write().catch((e) => this.onError?.(e)));
  }

  settled(): Promise<void> {
    return this.writing;
  }

  private async write(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const wish = this.wanted;
      if (!wish) return;
      const node = await this.client.get<KubeObject & { status?: { conditions?: Condition[] } }>(
        NODES,
        undefined,
        this.node,
      );
      const conditions = node.status?.conditions ?? [];
      const current = conditions.find((c) => c.type === wish.type);
      if (
        current &&
        current.status === wish.status &&
        current.reason === wish.reason &&
        current.message === wish.message
      )
        return;
      const now = timestamp(new Date());
      const next: Condition = {
        ...wish,
        lastHeartbeatTime: now,
        lastTransitionTime: current?.status === wish.status ? (current.lastTransitionTime ?? now) : now,
      };
      try {
        await this.client.update(
          NODES,
          {
            ...node,
            status: { ...node.status, conditions: [...conditions.filter((c) => c.type !== wish.type), next] },
          },
          'status',
        );
        return;
      } catch (e) {
        if (!isBerthError(e, 'Conflict')) throw e;
      }
    }
  }
}
