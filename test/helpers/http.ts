/** Plain HTTP GETs for tests that send traffic through a node's ingress or proxy (loopback only). */
import { request as httpRequest, type Agent } from 'node:http';

/**
 * GET over a keep-alive connection. As Node's documentation advises (request.reusedSocket) and
 * RFC 9112 §9.3.1 allows for idempotent requests, a request on a reused connection that the
 * server closed at that moment is sent again once: browsers and HTTP libraries do the same (nginx
 * closes its old workers' idle connections on a reload).
 */
export function keepAliveGet(
  o: { address: string; port: number; host: string; path: string; agent: Agent },
  retried = false,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: o.address, port: o.port, path: o.path, headers: { host: o.host }, agent: o.agent },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (req.reusedSocket && !retried && (e.code === 'ECONNRESET' || e.message === 'socket hang up'))
        resolve(keepAliveGet(o, true));
      else reject(e);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.end();
  });
}
