/**
 * Just enough of Kubernetes' protobuf encoding for the bodies kubectl sends only as protobuf (its
 * typed clients never fall back to JSON): the self-reviews of `kubectl auth can-i|whoami`, and
 * the ConfigMaps, Secrets and Namespaces of `kubectl create configmap|secret|namespace`, the
 * Evictions of `kubectl drain`, and the Pods, Deployments and Jobs of `kubectl run`, `kubectl
 * create deployment|job` (by the tables in protobuf-kinds.ts). The
 * envelope is the magic `k8s\0` and a runtime.Unknown {typeMeta{apiVersion=1, kind=2}=1, raw=2};
 * `raw` is the object, read here field by field (k8s.io/api's generated.proto numbers) into the
 * JSON it stands for, which then goes through the same validation as any body. Any other kind in
 * protobuf is refused with 415.
 */
import { BerthError } from '../api/errors.js';
import { WORKLOAD_MESSAGES, decodeMessage } from './protobuf-kinds.js';

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
    } else if (wire === 1) ((i += 8), (value = 0n));
    else if (wire === 5) ((i += 4), (value = 0n));
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

/** A map<string, string|bytes> field: repeated {key=1, value=2} entries. */
function mapOf(f: Map<number, Field[]>, n: number, value: (b: Buffer) => string): Record<string, string> | undefined {
  const entries = (f.get(n) ?? []).filter(Buffer.isBuffer).map((e) => fields(e));
  if (!entries.length) return undefined;
  return Object.fromEntries(
    entries.map((e) => [text(e, 1) ?? '', value((e.get(2)?.[0] as Buffer | undefined) ?? Buffer.alloc(0))]),
  );
}

function stringsOf(f: Map<number, Field[]>, names: Record<number, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(names).flatMap(([n, name]) => {
      const v = text(f, Number(n));
      return v === undefined ? [] : [[name, v]];
    }),
  );
}

/** ObjectMeta as a create sends it: names, labels, annotations, finalizers. */
function objectMeta(f: Map<number, Field[]> | undefined): Record<string, unknown> {
  if (!f) return {};
  const utf8 = (b: Buffer) => b.toString('utf8');
  const labels = mapOf(f, 11, utf8);
  const annotations = mapOf(f, 12, utf8);
  const finalizers = (f.get(14) ?? []).filter(Buffer.isBuffer).map(utf8);
  return {
    ...stringsOf(f, { 1: 'name', 2: 'generateName', 3: 'namespace', 6: 'resourceVersion' }),
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
    ...(finalizers.length ? { finalizers } : {}),
  };
}

const bool = (f: Map<number, Field[]>, n: number): boolean | undefined => {
  const v = f.get(n)?.[0];
  return typeof v === 'bigint' ? v !== 0n : undefined;
};

/** The object in a protobuf body, as the JSON it stands for. */
export function decodeProtobufBody(body: Buffer): unknown {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC))
    throw new BerthError('BadRequest', 'a protobuf body starts with k8s\\0');
  const unknown = fields(body.subarray(4));
  const typeMeta = message(unknown, 1);
  const apiVersion = typeMeta ? text(typeMeta, 1) : undefined;
  const kind = typeMeta ? text(typeMeta, 2) : undefined;
  const raw = fields((unknown.get(2)?.[0] as Buffer | undefined) ?? Buffer.alloc(0));
  const head = { apiVersion, kind };
  const utf8 = (b: Buffer) => b.toString('utf8');
  const base64 = (b: Buffer) => b.toString('base64');
  switch (kind) {
    case 'SelfSubjectReview':
      return head;
    case 'SelfSubjectAccessReview': {
      const spec = message(raw, 2);
      const resource = spec && message(spec, 1);
      const nonResource = spec && message(spec, 2);
      return {
        ...head,
        spec: {
          ...(resource
            ? {
                resourceAttributes: stringsOf(resource, {
                  1: 'namespace',
                  2: 'verb',
                  3: 'group',
                  4: 'version',
                  5: 'resource',
                  6: 'subresource',
                  7: 'name',
                }),
              }
            : {}),
          ...(nonResource ? { nonResourceAttributes: stringsOf(nonResource, { 1: 'path', 2: 'verb' }) } : {}),
        },
      };
    }
    case 'ConfigMap': {
      const data = mapOf(raw, 2, utf8);
      const binaryData = mapOf(raw, 3, base64);
      const immutable = bool(raw, 4);
      return {
        ...head,
        metadata: objectMeta(message(raw, 1)),
        ...(data ? { data } : {}),
        ...(binaryData ? { binaryData } : {}),
        ...(immutable !== undefined ? { immutable } : {}),
      };
    }
    case 'Secret': {
      const data = mapOf(raw, 2, base64);
      const stringData = mapOf(raw, 4, utf8);
      const type = text(raw, 3);
      const immutable = bool(raw, 5);
      return {
        ...head,
        metadata: objectMeta(message(raw, 1)),
        ...(data ? { data } : {}),
        ...(stringData ? { stringData } : {}),
        ...(type ? { type } : {}),
        ...(immutable !== undefined ? { immutable } : {}),
      };
    }
    case 'Namespace': {
      const spec = message(raw, 2);
      const finalizers = spec ? (spec.get(1) ?? []).filter(Buffer.isBuffer).map(utf8) : [];
      return { ...head, metadata: objectMeta(message(raw, 1)), ...(finalizers.length ? { spec: { finalizers } } : {}) };
    }
    case 'Eviction': {
      // kubectl drain's: metadata=1, deleteOptions=2 {gracePeriodSeconds=1, preconditions=2, orphanDependents=3, propagationPolicy=4, dryRun=5}.
      const options = message(raw, 2);
      const grace = options?.get(1)?.[0];
      const preconditions = options && message(options, 2);
      const orphan = options && bool(options, 3);
      const policy = options && text(options, 4);
      const dryRun = options ? (options.get(5) ?? []).filter(Buffer.isBuffer).map(utf8) : [];
      return {
        ...head,
        metadata: objectMeta(message(raw, 1)),
        ...(options
          ? {
              deleteOptions: {
                ...(typeof grace === 'bigint' ? { gracePeriodSeconds: Number(BigInt.asIntN(64, grace)) } : {}),
                ...(preconditions
                  ? { preconditions: stringsOf(preconditions, { 1: 'uid', 2: 'resourceVersion' }) }
                  : {}),
                ...(orphan !== undefined ? { orphanDependents: orphan } : {}),
                ...(policy ? { propagationPolicy: policy } : {}),
                ...(dryRun.length ? { dryRun } : {}),
              },
            }
          : {}),
      };
    }
    case 'Pod':
    case 'Deployment':
    case 'Job':
      return { ...head, ...decodeMessage(raw, WORKLOAD_MESSAGES[kind]!, '', fields) };
    default:
      throw new BerthError(
        'UnsupportedMediaType',
        `protobuf bodies are read for Pods, Deployments, Jobs, ConfigMaps, Secrets, Namespaces, Evictions and the self-reviews only, not ${kind ?? 'this'}: send application/json`,
      );
  }
}
