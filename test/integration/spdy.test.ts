/**
 * The server side of SPDY/3.1 against a client written here from the protocol (frames by hand,
 * header blocks through one zlib context with SPDY/3's dictionary, as moby/spdystream writes
 * them): streams are replied to, data flows both ways with FIN, PINGs come back, RST ends a
 * stream, and garbage ends the session instead of the process.
 */
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SPDY3_DICTIONARY,
  SpdySession,
  ZContext,
  decodeHeaderBlock,
  encodeHeaderBlock,
  type SpdyStream,
} from '../../src/agent/spdy.js';

const control = (type: number, flags: number, body: Buffer) => {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8003);
  h.writeUInt16BE(type, 2);
  h[4] = flags;
  h.writeUIntBE(body.length, 5, 3);
  return Buffer.concat([h, body]);
};
const data = (id: number, payload: string, fin = false) => {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(id);
  h[4] = fin ? 1 : 0;
  h.writeUIntBE(Buffer.byteLength(payload), 5, 3);
  return Buffer.concat([h, Buffer.from(payload)]);
};

/** A client: one deflate and one inflate context for the connection, frames parsed as they come. */
class Client {
  private readonly deflate = new ZContext(zlib.createDeflate({ dictionary: SPDY3_DICTIONARY }));
  private readonly inflate = new ZContext(zlib.createInflate({ dictionary: SPDY3_DICTIONARY }));
  private pending = Buffer.alloc(0);
  readonly frames: { control: boolean; type?: number; id: number; flags: number; body: Buffer }[] = [];

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 8 && this.pending.length >= 8 + this.pending.readUIntBE(5, 3)) {
        const length = this.pending.readUIntBE(5, 3);
        const frame = this.pending.subarray(0, 8 + length);
        this.pending = this.pending.subarray(8 + length);
        const isControl = (frame[0]! & 0x80) !== 0;
        this.frames.push({
          control: isControl,
          ...(isControl ? { type: frame.readUInt16BE(2) } : {}),
          id: isControl
            ? frame.length >= 12
              ? frame.readUInt32BE(8) & 0x7fffffff
              : 0
            : frame.readUInt32BE(0) & 0x7fffffff,
          flags: frame[4]!,
          body: frame.subarray(8),
        });
      }
    });
  }

  inflateBlock(block: Buffer): Promise<Record<string, string>> {
    return this.inflate.run(block).then(decodeHeaderBlock);
  }

  async synStream(id: number, headers: Record<string, string>, fin = false): Promise<void> {
    const block = await this.deflate.run(encodeHeaderBlock(headers));
    const ids = Buffer.alloc(10);
    ids.writeUInt32BE(id);
    this.socket.write(control(1, fin ? 1 : 0, Buffer.concat([ids, block])));
  }

  async waitFor<T>(what: string, find: () => T | undefined): Promise<T> {
    for (let i = 0; i < 200; i++) {
      const found = find();
      if (found !== undefined) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  close(): void {
    this.deflate.close();
    this.inflate.close();
    this.socket.destroy();
  }
}

describe('SPDY/3.1 server side', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  async function session(onStream: (s: SpdyStream) => void): Promise<{ client: Client; closed: Promise<unknown> }> {
    const server = createServer((socket) => new SpdySession(socket).on('stream', onStream));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
    await once(socket, 'connect');
    const client = new Client(socket);
    cleanup.push(
      () => client.close(),
      () => server.close(),
    );
    return { client, closed: once(socket, 'close') };
  }

  it('replies to streams, carries data both ways with FIN, and echoes PINGs', async () => {
    const seen: Record<string, string>[] = [];
    const { client } = await session((s) => {
      seen.push(s.headers);
      void s.reply();
      if (s.headers.streamtype === 'data') {
        let got = '';
        s.on('data', (d: Buffer) => (got += d));
        s.on('end', () => s.end(got.toUpperCase()));
      }
    });
    await client.synStream(1, { streamtype: 'error', port: '8080', requestid: '0' }, true);
    await client.synStream(3, { streamtype: 'data', port: '8080', requestid: '0' });
    client.socket.write(data(3, 'hello '));
    client.socket.write(data(3, 'spdy', true));
    const ping = Buffer.alloc(4);
    ping.writeUInt32BE(7);
    client.socket.write(control(6, 0, ping));
    await client.waitFor('the uppercased answer with FIN', () =>
      client.frames.find((f) => !f.control && f.id === 3 && f.flags & 1),
    );
    expect(seen).toEqual([
      { streamtype: 'error', port: '8080', requestid: '0' },
      { streamtype: 'data', port: '8080', requestid: '0' },
    ]);
    const replies = client.frames.filter((f) => f.control && f.type === 2);
    expect(replies.map((r) => r.id).sort()).toEqual([1, 3]);
    for (const r of replies) expect(await client.inflateBlock(r.body.subarray(4))).toEqual({});
    expect(Buffer.concat(client.frames.filter((f) => !f.control && f.id === 3).map((f) => f.body)).toString()).toBe(
      'HELLO SPDY',
    );
    expect(client.frames.find((f) => f.control && f.type === 6)?.body.readUInt32BE(0)).toBe(7);
  });

  it('RST_STREAM ends a stream; a frame claiming an absurd length ends the session, not the process', async () => {
    let closedStream = false;
    const { client, closed } = await session((s) => {
      void s.reply();
      s.on('close', () => (closedStream = true));
    });
    await client.synStream(1, { streamtype: 'data' });
    await client.waitFor('a reply', () => client.frames.find((f) => f.control && f.type === 2));
    const rst = Buffer.alloc(8);
    rst.writeUInt32BE(1);
    rst.writeUInt32BE(5, 4);
    client.socket.write(control(3, 0, rst));
    await client.waitFor('the stream closed', () => (closedStream ? true : undefined));
    const huge = Buffer.alloc(8);
    huge.writeUInt16BE(0x8003);
    huge.writeUInt16BE(1, 2);
    huge.writeUIntBE(0xffffff, 5, 3);
    client.socket.write(huge);
    await closed;
  });
});
