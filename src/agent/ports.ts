/**
 * Host ports for published container ports: free on the whole machine (several agents may share
 * one, each on its own 127.0.0.x), never handed out twice by this agent while in use, and not
 * again for a minute after release: routers that have not caught up yet (an nginx worker still
 * on an old configuration, a client's stale endpoint list) must not reach a different pod there.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** How long a released port rests before this agent hands it out again. */
export const PORT_REUSE_DELAY_MS = 60_000;

export class PortAllocator {
  private readonly taken = new Set<number>();
  /** Released ports and when they may be handed out again. */
  private readonly resting = new Map<number, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Marks ports in use (those of containers adopted after a restart). */
  reserve(port: number): void {
    this.taken.add(port);
  }

  release(port: number): void {
    if (this.taken.delete(port)) this.resting.set(port, this.now() + PORT_REUSE_DELAY_MS);
  }

  /** Whether this agent may hand `port` out now: not in use, not resting. */
  available(port: number): boolean {
    const restsUntil = this.resting.get(port);
    if (restsUntil !== undefined && restsUntil <= this.now()) this.resting.delete(port);
    return !this.taken.has(port) && !this.resting.has(port);
  }

  /**
   * A free host port: `preferred` (the container's own port) when it is free machine-wide for TCP
   * and UDP and this agent may bind it (below 1024 only as root), so that a pod's address and
   * container port reach it as on Kubernetes (a headless Service's `db-0.db:5432`); else any.
   */
  async allocate(preferred?: number): Promise<number> {
    if (preferred !== undefined && (preferred >= 1024 || process.getuid?.() === 0) && this.available(preferred) && (await freeForTcp(preferred)) && (await freeForUdp(preferred))) {
      this.taken.add(preferred);
      return preferred;
    }
    for (let attempt = 0; attempt < 20; attempt++) {
      // Bound on every address, so that the port is free machine-wide, not just on ours.
      const port = await new Promise<number>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '0.0.0.0', () => {
          const p = (server.address() as { port: number }).port;
          server.close(() => resolve(p));
        });
      });
      // A pod's UDP ports get numbers from here too: the port must be free for UDP as well.
      if (this.available(port) && (await freeForUdp(port))) {
        this.taken.add(port);
        return port;
      }
    }
    throw new Error('no free host port found');
  }
}

function freeForTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
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
