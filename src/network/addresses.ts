/**
 * The ClusterIPs a node holds so that its service proxy can listen on them, as kube-proxy's IPVS
 * mode holds them on its kube-ipvs0 device: each as a /32 on the loopback device (`ip addr add`),
 * which needs root. Addresses in 127.0.0.0/8 are local already (a loopback service range needs
 * nothing). Only addresses this node added are removed again.
 */
import { execFile } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DEVICE = 'lo';

export type HoldResult = { held: true } | { held: false; reason: string };

export class LocalAddresses {
  private readonly ours = new Set<string>();

  /** The addresses this node added (and will remove). */
  added(): string[] {
    return [...this.ours];
  }

  /** Makes `ip` an address of this machine (when `add` allows), if it is not one already. */
  async hold(ip: string, add: boolean): Promise<HoldResult> {
    if (ip.startsWith('127.') || this.ours.has(ip) || isLocal(ip)) return { held: true };
    if (!add) return { held: false, reason: `${ip} is not an address of this machine` };
    if (process.getuid?.() !== 0)
      return {
        held: false,
        reason: `holding ClusterIP ${ip} on ${DEVICE} needs root (or a service range in 127.0.0.0/8)`,
      };
    try {
      await run('ip', ['addr', 'add', `${ip}/32`, 'dev', DEVICE]);
    } catch (e) {
      // Added meanwhile by someone else (another agent on this machine): it is local, which is all we need.
      if (!/File exists|already assigned/.test(String((e as { stderr?: string }).stderr ?? e)))
        return {
          held: false,
          reason: `ip addr add ${ip}/32 dev ${DEVICE}: ${String((e as { stderr?: string }).stderr ?? e).trim()}`,
        };
      return { held: true };
    }
    this.ours.add(ip);
    return { held: true };
  }

  async release(ip: string): Promise<void> {
    if (!this.ours.delete(ip)) return;
    await run('ip', ['addr', 'del', `${ip}/32`, 'dev', DEVICE]).catch(() => undefined);
  }

  async releaseAll(): Promise<void> {
    for (const ip of [...this.ours]) await this.release(ip);
  }
}

function isLocal(ip: string): boolean {
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === ip));
}
