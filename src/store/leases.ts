/** Leases over a backend's lease table: acquire/renew with holder checks, by compare-and-swap. */
import { BerthError } from '../api/errors.js';
import type { Backend } from './backend.js';
import type { LeaseRecord, Leases } from './types.js';

export class LeaseBook implements Leases {
  constructor(private readonly backend: Backend) {}

  async acquire(name: string, holder: string, ttlMs: number, now = Date.now()): Promise<LeaseRecord> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const raw = await this.backend.leaseGet(name);
      const current = raw === undefined ? undefined : (JSON.parse(raw) as LeaseRecord);
      if (current && current.holder !== holder && current.renewTime + current.ttlMs > now) {
        throw new BerthError(
          'Conflict',
          `lease ${name} is held by ${current.holder} until ${new Date(current.renewTime + current.ttlMs).toISOString()}`,
        );
      }
      const next: LeaseRecord = {
        name,
        holder,
        ttlMs,
        renewTime: now,
        acquireTime: current && current.holder === holder ? current.acquireTime : now,
      };
      if (await this.backend.leaseSwap(name, raw, JSON.stringify(next))) return next;
    }
    throw new BerthError('Conflict', `lease ${name} is changing too fast to acquire`);
  }

  async get(name: string): Promise<LeaseRecord | undefined> {
    const raw = await this.backend.leaseGet(name);
    return raw === undefined ? undefined : (JSON.parse(raw) as LeaseRecord);
  }

  async list(): Promise<LeaseRecord[]> {
    return (await this.backend.leaseList()).map((raw) => JSON.parse(raw) as LeaseRecord);
  }

  async release(name: string, holder: string): Promise<void> {
    const raw = await this.backend.leaseGet(name);
    if (raw === undefined || (JSON.parse(raw) as LeaseRecord).holder !== holder) return;
    await this.backend.leaseSwap(name, raw, undefined);
  }
}
