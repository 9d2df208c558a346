/**
 * exec, attach and port-forward on the agent, in Kubernetes' WebSocket protocols (the server
 * passes the client's upgrade through unchanged, as kube-apiserver does to the kubelet):
 * exec and attach in channels (api/channels), port-forward in channels or, for kubectl, SPDY
 * tunnelled through the WebSocket (agent/spdy).
 */
import { connect, type Socket } from 'node:net';
import { finished } from 'node:stream/promises';
import { createWebSocketStream, type WebSocket } from 'ws';
import {
  CLOSE,
  ERROR,
  RESIZE,
  STDERR,
  STDIN,
  STDOUT,
  exitStatus,
  failureStatus,
  frame,
  parseResize,
  portPrefix,
  type StreamRequest,
} from '../api/channels.js';
import type { ContainerRuntime, ExecSession, RuntimeContainer } from './runtime.js';
import { SpdySession, type SpdyStream } from './spdy.js';

/** Output waiting to reach a slow client beyond this pauses the command's output. */
const HIGH_WATER = 4 * 1024 * 1024;

function sender(ws: WebSocket, pauseWhileFull: () => { pause(): void; resume(): void }[]) {
  return (channel: number, data: Uint8Array | string) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(frame(channel, data));
    if (ws.bufferedAmount > HIGH_WATER) {
      const paused = pauseWhileFull();
      for (const p of paused) p.pause();
      const check = setInterval(() => {
        if (ws.bufferedAmount > HIGH_WATER / 2 && ws.readyState === ws.OPEN) return;
        clearInterval(check);
        for (const p of paused) p.resume();
      }, 10);
    }
  };
}

function fail(ws: WebSocket, message: string): void {
  if (ws.readyState === ws.OPEN) ws.send(frame(ERROR, JSON.stringify(failureStatus(message))));
  ws.close(1000);
}

export async function serveExec(
  ws: WebSocket,
  runtime: ContainerRuntime,
  container: RuntimeContainer,
  request: StreamRequest,
): Promise<void> {
  if (request.command.length === 0) return fail(ws, 'exec needs a command (?command=sh&command=-c&…)');
  // A client sends its input as soon as the socket opens, while the command is still being
  // started (a Docker exec takes a while): kept until there is a command to give it to.
  const early: Buffer[] = [];
  let handle: ((data: Buffer) => void) | undefined;
  ws.on('message', (data: Buffer) => (handle ? handle(data) : early.push(data)));
  let session: ExecSession;
  try {
    session = await runtime.openExec(container.id, request.command, { tty: request.tty });
  } catch (e) {
    return fail(ws, (e as Error).message);
  }
  if (ws.readyState !== ws.OPEN) return session.kill();
  const v5 = ws.protocol === 'v5.channel.k8s.io';
  const outputs = [session.stdout, ...(session.stderr ? [session.stderr] : [])];
  const send = sender(ws, () => outputs);
  session.stdout.on('data', (d: Buffer) => request.stdout && send(STDOUT, d));
  session.stderr?.on('data', (d: Buffer) => request.stderr && send(STDERR, d));
  if (!request.stdin) session.stdin.end();
  handle = (data: Buffer) => {
    switch (data[0]) {
      case STDIN:
        if (request.stdin && session.stdin.writable) session.stdin.write(data.subarray(1));
        return;
      case RESIZE: {
        const size = parseResize(data.subarray(1));
        if (size && request.tty) session.resize(size.cols, size.rows);
        return;
      }
      case CLOSE:
        // v5: the client has no more input for this channel (kubectl cp's end of the archive).
        if (v5 && data[1] === STDIN) session.stdin.end();
        return;
    }
  };
  for (const data of early.splice(0)) handle(data);
  ws.on('close', () => session.kill());
  const exitCode = await session.exited;
  // Whatever the command wrote before it ended reaches the client before its exit status.
  await Promise.race([
    Promise.all(outputs.map((o) => finished(o).catch(() => undefined))),
    new Promise((r) => setTimeout(r, 2000)),
  ]);
  if (ws.readyState === ws.OPEN) ws.send(frame(ERROR, JSON.stringify(exitStatus(exitCode, request.command))));
  ws.close(1000);
}

/** attach: the container's output from now on (its stdin stays closed: Berth starts containers without one). */
export async function serveAttach(
  ws: WebSocket,
  runtime: ContainerRuntime,
  container: RuntimeContainer,
  request: StreamRequest,
): Promise<void> {
  const abort = new AbortController();
  ws.on('close', () => abort.abort());
  ws.on('error', () => abort.abort());
  const send = sender(ws, () => []);
  if (request.stdin)
    send(
      STDERR,
      `berth: container "${container.name}" has no stdin to attach to (Berth starts containers with stdin closed); showing its output\n`,
    );
  try {
    for await (const line of runtime.logs(container.id, { follow: true, tailLines: 0, signal: abort.signal }))
      send(STDOUT, line);
  } catch (e) {
    if (!abort.signal.aborted) return fail(ws, (e as Error).message);
  }
  if (ws.readyState === ws.OPEN) ws.send(frame(ERROR, JSON.stringify(exitStatus(0, []))));
  ws.close(1000);
}

/** Where a pod's port is reached from its node: its host port on the node's address. */
export type PortTarget = (port: number) => { host: string; port: number } | string;

/** port-forward in channels: data on 2i, errors on 2i+1 for the i-th port; one connection per port. */
export function servePortForwardChannels(ws: WebSocket, ports: number[], target: PortTarget): void {
  const sockets: Socket[] = [];
  const send = sender(ws, () => sockets);
  ports.forEach((port, i) => {
    ws.send(portPrefix(2 * i, port));
    ws.send(portPrefix(2 * i + 1, port));
    const where = target(port);
    if (typeof where === 'string') {
      ws.send(frame(2 * i + 1, where));
      return void ws.close(1000);
    }
    const socket = connect(where.port, where.host);
    sockets[i] = socket;
    socket.on('data', (d) => send(2 * i, d));
    socket.on('error', (e) => send(2 * i + 1, `error forwarding port ${port} to pod: ${e.message}`));
    // Kubernetes ends the whole connection when one of its streams ends.
    socket.on('close', () => ws.close(1000));
  });
  ws.on('message', (data: Buffer) => {
    const channel = data[0]!;
    if (channel % 2 === 0) sockets[channel / 2]?.write(data.subarray(1));
  });
  ws.on('close', () => sockets.forEach((s) => s?.destroy()));
}

/**
 * port-forward as kubectl speaks it: SPDY through the WebSocket. Each forwarded connection is a
 * pair of streams with the same requestid, one "error" and one "data".
 */
export function servePortForwardSpdy(ws: WebSocket, target: PortTarget): void {
  const session = new SpdySession(createWebSocketStream(ws));
  const pairs = new Map<string, { error?: SpdyStream; data?: SpdyStream }>();
  session.on('stream', (stream) => {
    void stream.reply();
    stream.on('error', () => undefined);
    const { streamtype: type, requestid: id = '', port } = stream.headers;
    if (type !== 'error' && type !== 'data') return stream.reset();
    const pair = pairs.get(id) ?? {};
    pair[type] = stream;
    pairs.set(id, pair);
    if (!pair.error || !pair.data) return;
    pairs.delete(id);
    forward(pair.data, pair.error, Number(port), target);
  });
}

function forward(data: SpdyStream, errors: SpdyStream, port: number, target: PortTarget): void {
  // kubectl half-closes its end of the error stream at once and only reads it.
  errors.resume();
  const where =
    Number.isInteger(port) && port > 0 && port < 65536 ? target(port) : `invalid port ${JSON.stringify(port)}`;
  if (typeof where === 'string') {
    errors.end(where);
    data.end();
    return;
  }
  const socket = connect(where.port, where.host);
  socket.on('error', (e) => {
    if (errors.writable) errors.end(`error forwarding port ${port} to pod: ${e.message}`);
    data.end();
  });
  socket.on('connect', () => {
    data.pipe(socket);
    socket.pipe(data);
  });
  socket.on('close', () => {
    if (errors.writable) errors.end();
  });
  data.on('close', () => socket.destroy());
}
