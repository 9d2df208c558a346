/**
 * The server side of SPDY/3.1, as much as kubectl port-forward uses of it (moby/spdystream, which
 * kubectl tunnels through a WebSocket since 1.30): the client opens streams (SYN_STREAM with
 * headers such as streamtype/port/requestid), the server replies (SYN_REPLY), both send DATA and
 * half-close with FIN; PINGs are echoed; RST_STREAM and GOAWAY end streams. Header blocks are
 * zlib-compressed against SPDY/3's dictionary, one compression context per direction for the
 * whole connection. Flow control is not enforced (spdystream does not enforce it either).
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';

const VERSION = 3;
const SYN_STREAM = 1;
const SYN_REPLY = 2;
const RST_STREAM = 3;
const PING = 6;
const GOAWAY = 7;
const HEADERS = 8;
const FLAG_FIN = 0x01;
const RST_CANCEL = 5;
const MAX_FRAME_DATA = 64 * 1024;
/** A frame longer than this ends the connection (no header block or data chunk needs more). */
const MAX_FRAME = 1 << 20;

/** SPDY/3's header-compression dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1): words, each length-prefixed, then a tail. */
const DICTIONARY_WORDS = [
  'options',
  'head',
  'post',
  'put',
  'delete',
  'trace',
  'accept',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'age',
  'allow',
  'authorization',
  'cache-control',
  'connection',
  'content-base',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'etag',
  'expect',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'pragma',
  'proxy-authenticate',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'server',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'vary',
  'via',
  'warning',
  'www-authenticate',
  'method',
  'get',
  'status',
  '200 OK',
  'version',
  'HTTP/1.1',
  'url',
  'public',
  'set-cookie',
  'keep-alive',
  'origin',
];
const DICTIONARY_TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative Information' +
  '204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error' +
  '501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, ' +
  'GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivate' +
  'max-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

export const SPDY3_DICTIONARY: Buffer = Buffer.concat([
  ...DICTIONARY_WORDS.flatMap((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return [len, Buffer.from(w, 'latin1')];
  }),
  Buffer.from(DICTIONARY_TAIL, 'latin1'),
]);

export function encodeHeaderBlock(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const entries = Object.entries(headers);
  parts.push(u32(entries.length));
  for (const [name, value] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  let at = 0;
  const take = (): string => {
    if (at + 4 > block.length) throw new Error('truncated SPDY header block');
    const n = block.readUInt32BE(at);
    at += 4;
    if (at + n > block.length) throw new Error('truncated SPDY header block');
    const s = block.subarray(at, at + n).toString('utf8');
    at += n;
    return s;
  };
  if (block.length < 4) throw new Error('truncated SPDY header block');
  const count = block.readUInt32BE(0);
  at = 4;
  for (let i = 0; i < count; i++) {
    const name = take();
    headers[name.toLowerCase()] = take();
  }
  return headers;
}

/** One persistent zlib context, fed one sync-flushed block at a time, in order (either side of a connection). */
export class ZContext {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly z: zlib.Inflate | zlib.Deflate) {
    z.on('error', () => undefined); // reported through the promise of the block that failed
  }

  run(input: Buffer): Promise<Buffer> {
    const result = this.tail.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          const chunks: Buffer[] = [];
          const onData = (c: Buffer) => chunks.push(c);
          const onError = (e: Error) => reject(e);
          this.z.on('data', onData);
          this.z.once('error', onError);
          this.z.write(input);
          this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            // 'data' for the flushed output is emitted before this callback returns to the loop.
            setImmediate(() => {
              this.z.off('data', onData);
              this.z.off('error', onError);
              resolve(Buffer.concat(chunks));
            });
          });
        }),
    );
    this.tail = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.z.close();
  }
}

/** A stream the client opened: read what it sends, write back, end() half-closes with FIN. */
export class SpdyStream extends Duplex {
  constructor(
    readonly id: number,
    readonly headers: Record<string, string>,
    private readonly session: SpdySession,
  ) {
    super({ allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.session.sendData(this.id, chunk, false).then(() => done(), done);
  }

  override _final(done: (e?: Error | null) => void): void {
    this.session.sendData(this.id, Buffer.alloc(0), true).then(() => done(), done);
  }

  /** Answers the stream (SYN_REPLY): spdystream's client waits for this before it sends. */
  reply(): Promise<void> {
    return this.session.sendReply(this.id);
  }

  /** Ends the stream at once both ways (RST_STREAM CANCEL). */
  reset(): void {
    this.session.sendReset(this.id);
    this.destroy();
  }
}

export declare interface SpdySession {
  on(event: 'stream', listener: (stream: SpdyStream) => void): this;
  on(event: 'close', listener: () => void): this;
}

export class SpdySession extends EventEmitter {
  private readonly streams = new Map<number, SpdyStream>();
  private readonly inflate = new ZContext(zlib.createInflate({ dictionary: SPDY3_DICTIONARY }));
  private readonly deflate = new ZContext(zlib.createDeflate({ dictionary: SPDY3_DICTIONARY }));
  private pending: Buffer = Buffer.alloc(0);
  /** Frames are handled one after another: a header block must be inflated before the next. */
  private handling: Promise<void> = Promise.resolve();
  /** Frames go out in the order they were made, header compression included. */
  private sending: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly transport: Duplex) {
    super();
    transport.on('data', (chunk: Buffer) => this.receive(chunk));
    transport.on('close', () => this.close());
    transport.on('end', () => this.close());
    transport.on('error', () => this.close());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.destroy();
    this.streams.clear();
    this.inflate.close();
    this.deflate.close();
    this.transport.destroy();
    this.emit('close');
  }

  private receive(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const length = this.pending.readUIntBE(5, 3);
      if (length > MAX_FRAME) return this.close();
      if (this.pending.length < 8 + length) break;
      const frame = this.pending.subarray(0, 8 + length);
      this.pending = this.pending.subarray(8 + length);
      this.handling = this.handling.then(() => this.handle(frame)).catch(() => this.close());
    }
  }

  private async handle(frame: Buffer): Promise<void> {
    if (this.closed) return;
    const flags = frame[4]!;
    if (!(frame[0]! & 0x80)) {
      const stream = this.streams.get(frame.readUInt32BE(0) & 0x7fffffff);
      if (!stream) return;
      if (frame.length > 8) stream.push(frame.subarray(8));
      if (flags & FLAG_FIN) stream.push(null);
      return;
    }
    const type = frame.readUInt16BE(2);
    const id = frame.length >= 12 ? frame.readUInt32BE(8) & 0x7fffffff : 0;
    switch (type) {
      case SYN_STREAM: {
        const headers = decodeHeaderBlock(await this.inflate.run(frame.subarray(18)));
        const stream = new SpdyStream(id, headers, this);
        this.streams.set(id, stream);
        stream.on('close', () => this.streams.delete(id));
        if (flags & FLAG_FIN) stream.push(null);
        this.emit('stream', stream);
        return;
      }
      case SYN_REPLY:
      case HEADERS:
        // Inflated (and dropped) all the same: the compression context runs through every block.
        await this.inflate.run(frame.subarray(12));
        return;
      case RST_STREAM:
        this.streams.get(id)?.destroy();
        return;
      case PING:
        return this.queue(async () => frame);
      case GOAWAY:
        return this.close();
      default:
        return; // SETTINGS, WINDOW_UPDATE: nothing to do
    }
  }

  private queue(make: () => Promise<Buffer>): Promise<void> {
    const sent = this.sending.then(async () => {
      const bytes = await make();
      if (!this.closed) this.transport.write(bytes);
    });
    this.sending = sent.catch(() => undefined);
    return sent;
  }

  sendReply(id: number): Promise<void> {
    return this.queue(async () => {
      const block = await this.deflate.run(encodeHeaderBlock({}));
      const body = Buffer.alloc(4);
      body.writeUInt32BE(id);
      return Buffer.concat([controlHeader(SYN_REPLY, 0, 4 + block.length), body, block]);
    });
  }

  sendReset(id: number): void {
    const body = Buffer.alloc(8);
    body.writeUInt32BE(id);
    body.writeUInt32BE(RST_CANCEL, 4);
    void this.queue(async () => Buffer.concat([controlHeader(RST_STREAM, 0, 8), body]));
  }

  async sendData(id: number, data: Buffer, fin: boolean): Promise<void> {
    for (let at = 0; at < data.length || (fin && at === 0); at += MAX_FRAME_DATA) {
      const part = data.subarray(at, at + MAX_FRAME_DATA);
      const last = at + MAX_FRAME_DATA >= data.length;
      const header = Buffer.alloc(8);
      header.writeUInt32BE(id & 0x7fffffff);
      header[4] = fin && last ? FLAG_FIN : 0;
      header.writeUIntBE(part.length, 5, 3);
      await this.queue(async () => Buffer.concat([header, part]));
      if (data.length === 0) break;
    }
  }
}

function controlHeader(type: number, flags: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(0x8000 | VERSION);
  b.writeUInt16BE(type, 2);
  b[4] = flags;
  b.writeUIntBE(length, 5, 3);
  return b;
}
