/**
 * Host ports for published container ports: free on the whole machine (several agents may share
 * one, each on its own 127.0.0.x), never handed out twice by this agent while in use, and not
 * again for a minute after release: routers that have not caught up yet (an nginx worker still
 * on an old configuration, a client's stale endpoint list) must not reach a different pod there.
 * Agents on one machine claim each port in a file of its own (created exclusively), so that two
 * of them checking the same free port at the same moment do not both hand it out.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** How long a released port rests before this agent hands it out again. */
export const PORT_REUSE_DELAY_MS = 60_000;

export class PortAllocator {
  private readonly taken = new Set<number>();
  /** Released ports and when they may be handed out again. */
  private readonly resting = new Map<number, number>();

  private readonly claims: MachineClaims;

  constructor(
    private readonly now: () => number = Date.now,
    claimsDir = path.join(tmpdir(), 'berth-host-ports'),
  ) {
    this.claims = new MachineClaims(claimsDir);
  }

  /** Marks ports in use (those of containers adopted after a restart). */
  reserve(port: number): void {
    this.taken.add(port);
    this.claims.claim(port, true);
  }

  release(port: number): void {
    if (this.taken.delete(port)) this.resting.set(port, this.now() + PORT_REUSE_DELAY_MS);
    // The claim stays while the port rests: it is this agent's until then.
  }

  private unclaimRested(): void {
    const now = this.now();
    for (const [port, until] of this.resting) {
      if (until > now) continue;
      this.resting.delete(port);
      this.claims.release(port);
    }
  }

  /** Whether this agent may hand `port` out now: not in use, not resting. */
  available(port: number): boolean {
    const restsUntil = this.resting.get(port);
    if (restsUntil !== undefined && restsUntil <= this.now()) this.resting.delete(port);
    return !this.taken.has(port) && !this.resting.has(port);
  }

  /**
   * A free host port: `preferred` (a container's own port) when it is free machine-wide for TCP
   * and UDP and this agent may bind it (below 1024 only as root); else any.
   */
  async allocate(preferred?: number): Promise<number> {
    this.unclaimRested();
    if (
      preferred !== undefined &&
      (preferred >= 1024 || process.getuid?.() === 0) &&
      (await this.take(preferred, { checkTcp: true }))
    )
      return preferred;
    for (let attempt = 0; attempt < 20; attempt++) {
      // Bound on every address (port 0: the kernel picks one), so that it is free machine-wide, not just on ours.
      const port = await bindTcp(0);
      if (port !== undefined && (await this.take(port, { checkTcp: false }))) return port;
    }
    throw new Error('no free host port found');
  }

  /**
   * Takes `port` when this agent may hand it out, no other agent on the machine claimed it, and
   * it is free for TCP (unless just found so) and UDP — a pod's UDP ports get numbers from here too.
   */
  private async take(port: number, o: { checkTcp: boolean }): Promise<boolean> {
    if (!this.available(port) || !this.claims.claim(port)) return false;
    if ((!o.checkTcp || (await bindTcp(port)) !== undefined) && (await freeForUdp(port))) {
      this.taken.add(port);
      return true;
    }
    this.claims.release(port);
    return false;
  }
}

/**
 * A file per claimed port (`<dir>/<port>`, holding `pid id`), created exclusively: a claim of a
 * process that is gone, or of this allocator, is taken over; another live one's is respected.
 */
class MachineClaims {
  private readonly id = `${process.pid} ${randomBytes(4).toString('hex')}`;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o1777 });
  }

  /** `force`: the port is this agent's already (a pod it adopted): claim it whoever had it. */
  claim(port: number, force = false): boolean {
    const file = path.join(this.dir, String(port));
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, this.id, { flag: force ? 'w' : 'wx' });
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return true; // no claims possible here: the bind checks still hold
        const holder = readOrEmpty(file);
        if (holder === this.id) return true;
        if (alive(Number(holder.split(' ')[0]))) return false;
        try {
          unlinkSync(file);
        } catch {
          // another agent took it over first
        }
      }
    }
    return false;
  }

  release(port: number): void {
    const file = path.join(this.dir, String(port));
    if (readOrEmpty(file) === this.id) unlinkSync(file);
  }
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Binds `port` (0: any) on every address for a moment: the port bound, or undefined when it is taken. */
function bindTcp(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '0.0.0.0', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

function freeForUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      try {
        socket.close();
      } catch {
        // already closed by the failed bind
      }
      resolve(false);
    });
    socket.bind(port, '0.0.0.0', () => socket.close(() => resolve(true)));
  });
}
