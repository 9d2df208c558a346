/**
 * HTTPS servers that do not drop a keep-alive client's request under backpressure.
 *
 * Node 20's HTTP server lets its parser read a TLS socket natively. When a request arrives while
 * the previous response has not drained yet, the server pauses the socket and the parser, but TLS
 * still hands over data it has already decrypted: the paused parser refuses it (HPE_PAUSED), the
 * connection is destroyed, the client sees ECONNRESET and the server "aborted". Measured with a
 * plain Node HTTPS server in its own process, busy for 3 ms after each response: 140 of 300
 * keep-alive POSTs of 150 KB lost; none once the parser reads through the socket's stream, where
 * pause() holds. Plain HTTP is not affected. Marking the TLS handle as already consumed keeps the
 * parser on the stream (a Node version without the property ignores it).
 */
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';

export function createHttpsServer(options: ServerOptions): Server {
  const server = createServer(options);
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const handle = (socket as unknown as { _handle?: { _consumed?: boolean } })._handle;
    if (handle) handle._consumed = true;
  });
  return server;
}
