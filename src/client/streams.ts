/**
 * The client side of exec and port-forward (the same WebSocket endpoints and protocols kubectl
 * uses, api/channels): `berth exec -it` and `berth port-forward`.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import WebSocket from 'ws';
import {
  CLOSE,
  ERROR,
  PORT_FORWARD_PROTOCOLS,
  RESIZE,
  STDERR,
  STDIN,
  STDOUT,
  STREAM_PROTOCOLS,
  exitCodeOf,
  frame,
  streamQuery,
  type StreamRequest,
} from '../api/channels.js';
import { BerthError, type ErrorCode } from '../api/errors.js';
import type { Connection } from './config.js';
import { serversOf } from './client.js';

const CODES: Record<number, ErrorCode> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  503: 'Unavailable',
};

/** Opens the WebSocket; an HTTP answer instead of the upgrade becomes a BerthError with its Status message. */
export async function openStream(
  connection: Connection,
  path: string,
  protocols: readonly string[],
): Promise<WebSocket> {
  const server = serversOf(connection)[0] ?? connection.server;
  const url = server.replace(/^http/, 'ws') + path;
  const ws = new WebSocket(url, [...protocols], {
    headers: { authorization: `Bearer ${connection.token}` },
    perMessageDeflate: false,
    ...(connection.ca ? { ca: connection.ca } : {}),
    rejectUnauthorized: !connection.insecure,
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', (e) => reject(new BerthError('Unavailable', `cannot open a stream to ${server}: ${e.message}`)));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => {
        let message = text.trim();
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          // not a Status
        }
        reject(
          new BerthError(
            CODES[res.statusCode ?? 0] ?? 'BadRequest',
            message || `the server answered ${res.statusCode}`,
          ),
        );
      });
    });
  });
}

export interface Terminal {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable & { columns?: number; rows?: number; on(event: 'resize', fn: () => void): unknown };
  stderr: Writable;
}

/** Runs the command; resolves with its exit code. */
export async function execStream(
  connection: Connection,
  podPath: string,
  request: StreamRequest,
  term: Terminal,
): Promise<number> {
  const ws = await openStream(connection, `${podPath}/exec?${streamQuery(request)}`, STREAM_PROTOCOLS);
  const v5 = ws.protocol === STREAM_PROTOCOLS[0];
  let status: Record<string, unknown> | undefined;
  ws.on('message', (data: Buffer) => {
    const body = data.subarray(1);
    if (data[0] === STDOUT) term.stdout.write(body);
    else if (data[0] === STDERR) term.stderr.write(body);
    else if (data[0] === ERROR) status = JSON.parse(body.toString('utf8') || '{}');
  });
  const raw = request.tty && term.stdin.isTTY && term.stdin.setRawMode;
  const sendSize = () =>
    term.stdout.columns &&
    term.stdout.rows &&
    ws.send(frame(RESIZE, JSON.stringify({ Width: term.stdout.columns, Height: term.stdout.rows })));
  const onInput = (d: Buffer) => ws.readyState === ws.OPEN && ws.send(frame(STDIN, d));
  const onEnd = () => v5 && ws.readyState === ws.OPEN && ws.send(frame(CLOSE, Uint8Array.of(STDIN)));
  if (request.tty) {
    sendSize();
    term.stdout.on('resize', sendSize);
  }
  if (request.stdin) {
    if (raw) term.stdin.setRawMode!(true);
    term.stdin.on('data', onInput);
    term.stdin.on('end', onEnd);
    term.stdin.resume();
  }
  try {
    await once(ws, 'close');
  } finally {
    if (raw) term.stdin.setRawMode!(false);
    term.stdin.off('data', onInput);
    term.stdin.off('end', onEnd);
    term.stdin.pause();
  }
  if (!status) throw new BerthError('Unavailable', 'the stream ended before the command reported how it exited');
  const code = exitCodeOf(status);
  if (code === undefined) throw new BerthError('BadRequest', String(status.message ?? 'exec failed'));
  return code;
}

/**
 * Listens on `address:localPort` and forwards each connection to the pod's port, one WebSocket
 * per connection. Resolves with the listener once it listens.
 */
export async function portForward(
  connection: Connection,
  podPath: string,
  address: string,
  localPort: number,
  podPort: number,
  onError: (message: string) => void,
): Promise<Server> {
  const server = createServer((socket: Socket) => {
    socket.pause();
    openStream(connection, `${podPath}/portforward?ports=${podPort}`, PORT_FORWARD_PROTOCOLS).then(
      (ws) => {
        let prefixes = 2; // the port numbers the server sends first on the data and the error channel
        ws.on('message', (data: Buffer) => {
          if (prefixes > 0) return void prefixes--;
          if (data[0] === 0) socket.write(data.subarray(1));
          else if (data[0] === 1) onError(data.subarray(1).toString('utf8'));
        });
        socket.on('data', (d) => ws.readyState === ws.OPEN && ws.send(frame(0, d)));
        socket.on('close', () => ws.close());
        socket.on('error', () => ws.close());
        ws.on('close', () => socket.end());
        socket.resume();
      },
      (e: Error) => {
        onError(e.message);
        socket.destroy();
      },
    );
  });
  server.listen(localPort, address);
  await once(server, 'listening');
  return server;
}
