/**
 * Host ports for published container ports: free on the whole machine (several agents may share
 * one, each on its own 127.0.0.x), never handed out twice by this agent while in use.
 */
import { createServer } from 'node:net';

export class PortAllocator {
  private readonly taken = new Set<number>();

  /** Marks ports in use (those of containers adopted after a restart). */
  reserve(port: number): void {
    this.taken.add(port);
  }

  release(port: number): void {
    this.taken.delete(port);
  }

  async allocate(): Promise<number> {
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
      if (!this.taken.has(port)) {
        this.taken.add(port);
        return port;
      }
    }
    throw new Error('no free host port found');
  }
}
