/**
 * Just enough of Kubernetes' protobuf encoding for the bodies kubectl will only send as protobuf:
 * the self-reviews of `kubectl auth can-i` and `kubectl auth whoami`. The envelope is the magic
 * `k8s\0` and a runtime.Unknown {typeMeta{apiVersion=1, kind=2}=1, raw=2}; `raw` is the object,
 * read here field by field (wire types 0 and 2; others skipped). Every other protobuf body is
 * refused with 415, and the client sends JSON.
 */
import { BerthError } from '../api/errors.js';

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Field = bigint | Buffer;

/** A message's fields by number (repeated ones in order). */
function fields(buf: Buffer): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (i >= buf.length || shift > 63n) throw new BerthError('BadRequest', 'malformed protobuf body');
      const b = buf[i++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const number = Number(key >> 3n);
    const wire = Number(key & 7n);
    let value: Field;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const length = Number(varint());
      if (i + length > buf.length) throw new BerthError('BadRequest', 'malformed protobuf body');
      value = buf.subarray(i, i + length);
      i += length;
    } else if (wire === 1) (i += 8), (value = 0n);
    else if (wire === 5) (i += 4), (value = 0n);
    else throw new BerthError('BadRequest', `protobuf wire type ${wire} is not supported`);
    out.set(number, [...(out.get(number) ?? []), value]);
  }
  return out;
}

const text = (f: Map<number, Field[]>, n: number): string | undefined => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
};
const message = (f: Map<number, Field[]>, n: number): Map<number, Field[]> | undefined => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? fields(v) : undefined;
};

/** The object in a protobuf body, as the JSON it stands for: the self-reviews only. */
export function decodeProtobufBody(body: Buffer): unknown {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw new BerthError('BadRequest', 'a protobuf body starts with k8s\\0');
  const unknown = fields(body.subarray(4));
  const typeMeta = message(unknown, 1);
  const apiVersion = typeMeta ? text(typeMeta, 1) : undefined;
  const kind = typeMeta ? text(typeMeta, 2) : undefined;
  const raw = fields((unknown.get(2)?.[0] as Buffer | undefined) ?? Buffer.alloc(0));
  if (kind === 'SelfSubjectReview') return { apiVersion, kind };
  if (kind !== 'SelfSubjectAccessReview') throw new BerthError('UnsupportedMediaType', `protobuf bodies are read for the self-reviews only, not ${kind ?? 'this'}: send application/json`);
  const spec = message(raw, 2);
  const resource = spec && message(spec, 1);
  const nonResource = spec && message(spec, 2);
  const strings = (f: Map<number, Field[]>, names: Record<number, string>) => Object.fromEntries(Object.entries(names).flatMap(([n, name]) => {
    const v = text(f, Number(n));
    return v === undefined ? [] : [[name, v]];
  }));
  return {
    apiVersion, kind,
    spec: {
      ...(resource ? { resourceAttributes: strings(resource, { 1: 'namespace', 2: 'verb', 3: 'group', 4: 'version', 5: 'resource', 6: 'subresource', 7: 'name' }) } : {}),
      ...(nonResource ? { nonResourceAttributes: strings(nonResource, { 1: 'path', 2: 'verb' }) } : {}),
    },
  };
}
