/** The protobuf reader for kubectl's typed bodies: a real encoding read back, and random bytes refused cleanly. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBerthError } from '../../src/api/errors.js';
import { decodeProtobufBody } from '../../src/server/protobuf.js';

/** Protobuf's length-delimited field (wire type 2) and the k8s\0 envelope, written by hand. */
const varint = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...varint(n >>> 7)]);
const field = (n: number, bytes: Buffer | string): Buffer => {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  return Buffer.concat([Buffer.from([...varint((n << 3) | 2), ...varint(b.length)]), b]);
};
const entry = (n: number, k: string, v: string | Buffer) => field(n, Buffer.concat([field(1, k), field(2, v)]));
const envelope = (apiVersion: string, kind: string, raw: Buffer) =>
  Buffer.concat([Buffer.from('k8s\0'), field(1, Buffer.concat([field(1, apiVersion), field(2, kind)])), field(2, raw)]);

describe('protobuf bodies', () => {
  it('reads a Secret as kubectl create secret writes it', () => {
    const meta = Buffer.concat([field(1, 'creds'), field(3, 'made'), entry(11, 'app', 'web')]);
    const raw = Buffer.concat([field(1, meta), entry(2, 'password', Buffer.from('s3cret')), field(3, 'Opaque')]);
    expect(decodeProtobufBody(envelope('v1', 'Secret', raw))).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', namespace: 'made', labels: { app: 'web' } },
      data: { password: Buffer.from('s3cret').toString('base64') },
      type: 'Opaque',
    });
  });

  it('refuses kinds it does not read with 415, and any random body with a 4xx, never anything else', () => {
    expect(() => decodeProtobufBody(envelope('apps/v1', 'StatefulSet', Buffer.alloc(0)))).toThrow(
      /protobuf bodies are read for Pods, Deployments, Jobs/,
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeProtobufBody(Buffer.concat([Buffer.from('k8s\0'), Buffer.from(bytes)]));
        } catch (e) {
          if (!isBerthError(e) || e.httpStatus < 400 || e.httpStatus >= 500) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  const varintField = (n: number, v: number) => Buffer.from([...varint(n << 3), ...varint(v)]);
  it('reads a Pod as kubectl run writes it: empty plain fields skipped, list strings kept, pointer zeros kept', () => {
    const container = Buffer.concat([
      field(1, 'main'),
      field(2, 'busybox'),
      field(4, 'sleep'),
      field(4, ''),
      field(5, ''),
      varintField(16, 0),
      field(6, Buffer.concat([varintField(2, 0), varintField(3, 80), field(4, 'TCP')])),
    ]);
    const spec = Buffer.concat([field(2, container), field(3, 'Always'), varintField(4, 0)]);
    const meta = Buffer.concat([
      field(1, 'runner'),
      field(3, ''),
      field(4, ''),
      field(8, Buffer.alloc(0)),
      entry(11, 'run', 'runner'),
    ]);
    expect(
      decodeProtobufBody(
        envelope('v1', 'Pod', Buffer.concat([field(1, meta), field(2, spec), field(3, Buffer.alloc(0))])),
      ),
    ).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'runner', labels: { run: 'runner' } },
      spec: {
        containers: [
          {
            name: 'main',
            image: 'busybox',
            args: ['sleep', ''],
            stdin: false,
            ports: [{ containerPort: 80, protocol: 'TCP' }],
          },
        ],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 0,
      },
    });
  });

  it('a field it does not read, set, is a 415 naming where it is — never dropped', () => {
    const spec = Buffer.concat([
      field(2, Buffer.concat([field(1, 'main'), field(2, 'busybox')])),
      field(18, Buffer.concat([field(1, 'x')])),
    ]);
    expect(() =>
      decodeProtobufBody(envelope('v1', 'Pod', Buffer.concat([field(1, field(1, 'p')), field(2, spec)]))),
    ).toThrow('the protobuf body has field 18 of PodSpec at .spec, which Berth does not read');
  });
});
