/**
 * The agent's exec stream over a real WebSocket on loopback, with a runtime whose command takes
 * a while to start (as a Docker exec under load): input the client sends the moment the socket
 * opens, and its end, still reach the command; the exit status comes last.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { CLOSE, ERROR, STDIN, STDOUT, frame } from '../../src/api/channels.js';
import type { ContainerRuntime, ExecSession, RuntimeContainer } from '../../src/agent/runtime.js';
import { serveExec } from '../../src/agent/streams.js';

/** `cat`, started after `delayMs`: stdout is stdin, the exit code 0 once stdin ends. */
function slowCat(delayMs: number): ContainerRuntime {
  return {
    async openExec(): Promise<ExecSession> {
      await new Promise((r) => setTimeout(r, delayMs));
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      stdin.pipe(stdout);
      return {
        stdin,
        stdout,
        stderr: new PassThrough().end(),
        resize: () => undefined,
        exited: once(stdout, 'end').then(() => 0),
        kill: () => stdin.destroy(),
      };
    },
  } as unknown as ContainerRuntime;
}

describe('exec stream', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const c of closers.splice(0)) c();
  });

  it('input sent before the command has started is not lost', async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, handleProtocols: () => 'v5.channel.k8s.io' });
    wss.on(
      'connection',
      (ws) =>
        void serveExec(ws, slowCat(300), { id: 'c' } as RuntimeContainer, {
          command: ['cat'],
          stdin: true,
          stdout: true,
          stderr: true,
          tty: false,
        }),
    );
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    closers.push(
      () => wss.close(),
      () => http.close(),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${(http.address() as { port: number }).port}/`, ['v5.channel.k8s.io']);
    const received: Buffer[] = [];
    ws.on('message', (d: Buffer) => received.push(d));
    await once(ws, 'open');
    ws.send(frame(STDIN, 'early input'));
    ws.send(frame(CLOSE, Uint8Array.of(STDIN)));
    await once(ws, 'close');
    expect(Buffer.concat(received.filter((d) => d[0] === STDOUT).map((d) => d.subarray(1))).toString()).toBe(
      'early input',
    );
    expect(received.at(-1)![0]).toBe(ERROR);
    expect(JSON.parse(received.at(-1)!.subarray(1).toString())).toEqual({ metadata: {}, status: 'Success' });
  });
});
