import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A service CIDR of its own for a test cluster: a /24 in 127.128.0.0/9, so that ClusterIPs are
 * loopback addresses (agents never add addresses to this machine) and two clusters of parallel
 * tests hardly ever share one.
 */
export function testServiceCidr(): string {
  return `127.${128 + Math.floor(Math.random() * 127)}.${Math.floor(Math.random() * 256)}.0/24`;
}
