/** The stream protocols' pure parts: channel frames and exit Statuses (Kubernetes' wsstream), and SPDY/3 header blocks. */
import { deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  ERROR,
  exitCodeOf,
  exitStatus,
  frame,
  parsePorts,
  parseResize,
  parseStreamRequest,
  portPrefix,
  streamQuery,
} from '../../src/api/channels.js';
import { SPDY3_DICTIONARY, decodeHeaderBlock, encodeHeaderBlock } from '../../src/agent/spdy.js';

describe('channel frames', () => {
  it('a frame is its channel byte, then the data', () => {
    expect([...frame(ERROR, 'x')]).toEqual([3, 120]);
    expect([...frame(255, Uint8Array.of(0))]).toEqual([255, 0]);
  });
  it.each([[0], [1], [3], [126], [255]])("exit code %i survives the error channel's Status", (code) => {
    expect(exitCodeOf(exitStatus(code, ['sh', '-c', 'exit']))).toBe(code);
  });
  it('a non-zero exit is a NonZeroExitCode Status as kubectl reads it', () => {
    expect(exitStatus(3, ['false'])).toMatchObject({
      status: 'Failure',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    expect(exitCodeOf({ status: 'Failure', reason: 'InternalError' })).toBeUndefined();
  });
  it.each([
    ['{"Width":80,"Height":24}', { cols: 80, rows: 24 }],
    ['{"Width":0,"Height":24}', undefined],
    ['{"Width":"80"}', undefined],
    ['not json', undefined],
  ])('resize %s', (text, want) => {
    expect(parseResize(Buffer.from(text))).toEqual(want);
  });
  it("an exec query round-trips, with Kubernetes' defaults", () => {
    const q = new URLSearchParams('command=sh&command=-c&command=echo%20hi&container=web&stdin=true&tty=true');
    const r = parseStreamRequest(q);
    expect(r).toEqual({
      command: ['sh', '-c', 'echo hi'],
      container: 'web',
      stdin: true,
      stdout: true,
      stderr: true,
      tty: true,
    });
    expect(parseStreamRequest(streamQuery(r))).toEqual(r);
  });
  it.each([
    ['ports=8080', [8080]],
    ['ports=8080,9090', [8080, 9090]],
    ['ports=80&ports=443', [80, 443]],
    ['', 'a port-forward needs at least one port (?ports=8080)'],
    ['ports=0', 'port "0" is not a number between 1 and 65535'],
    ['ports=http', 'port "http" is not a number between 1 and 65535'],
  ])('port-forward ports %s', (query, want) => {
    expect(parsePorts(new URLSearchParams(query))).toEqual(want);
  });
  it('a port prefix is the port, little-endian', () => {
    expect([...portPrefix(1, 8080)]).toEqual([1, 0x90, 0x1f]);
  });
});

describe('SPDY/3 header blocks', () => {
  it("the dictionary is SPDY/3's (1423 bytes, its well-known Adler-32)", () => {
    expect(SPDY3_DICTIONARY.length).toBe(1423);
    // zlib stores the dictionary's Adler-32 in the stream header (FDICT): Go's and Node's must agree.
    const compressed = deflateSync(encodeHeaderBlock({ a: 'b' }), { dictionary: SPDY3_DICTIONARY });
    expect(compressed.readUInt32BE(2).toString(16)).toBe('e3c6a7c2');
    expect(decodeHeaderBlock(inflateSync(compressed, { dictionary: SPDY3_DICTIONARY }))).toEqual({ a: 'b' });
  });
  it('names are lower-cased; truncated blocks are refused', () => {
    const block = encodeHeaderBlock({ StreamType: 'data', port: '8080', requestID: '0' });
    expect(decodeHeaderBlock(block)).toEqual({ streamtype: 'data', port: '8080', requestid: '0' });
    expect(() => decodeHeaderBlock(block.subarray(0, block.length - 1))).toThrow(/truncated/);
  });
});
