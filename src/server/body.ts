/**
 * Request bodies, read so that no body can hurt the server: a size limit (before and while
 * reading), the media types each verb takes (anything else is 415), strict UTF-8, a nesting limit
 * checked on the bytes before parsing (deep nesting otherwise overflows the stack of every
 * recursive walk after it), and no key that could reach an object's prototype.
 */
import { parse as parseYaml } from 'yaml';
import type { IncomingMessage } from 'node:http';
import { BerthError } from '../api/errors.js';
import { unsafeKeyIn } from '../api/safe-keys.js';
import { PROTOBUF_MEDIA_TYPE, decodeProtobufBody } from './protobuf.js';

/** As Kubernetes: request bodies over 3 MiB are refused. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Objects and arrays nested deeper than this are refused (no Kubernetes kind comes near it). */
export const MAX_JSON_DEPTH = 100;

export const JSON_MEDIA_TYPE = 'application/json';

export async function readRawBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES)
    throw new BerthError(
      'RequestEntityTooLarge',
      `request body of ${declared} bytes is over the ${MAX_BODY_BYTES}-byte limit`,
    );
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new BerthError('RequestEntityTooLarge', `request body is over the ${MAX_BODY_BYTES}-byte limit`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The media type of a Content-Type header, lower-cased, without parameters ('' when absent). */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Reads a JSON body whose Content-Type is one of `accepted` (an absent Content-Type is taken as
 * JSON, as kube-apiserver takes it). An empty body is undefined.
 */
export async function readJsonBody(
  req: IncomingMessage,
  accepted: readonly string[] = [JSON_MEDIA_TYPE],
): Promise<unknown> {
  const type = mediaType(req.headers['content-type']) || JSON_MEDIA_TYPE;
  if (!accepted.includes(type)) {
    // Drain what was sent, so the connection can carry the answer.
    req.resume();
    throw new BerthError(
      'UnsupportedMediaType',
      `the body's media type ${JSON.stringify(type)} is not supported here: use ${accepted.join(', ')}`,
    );
  }
  return parseJsonBody(await readRawBody(req));
}

export function parseJsonBody(bytes: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BerthError('BadRequest', 'the request body is not valid UTF-8');
  }
  if (text.trim() === '') return undefined;
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH)
    throw new BerthError(
      'BadRequest',
      `the request body nests objects and arrays ${depth} deep: the limit is ${MAX_JSON_DEPTH}`,
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new BerthError('BadRequest', `the request body is not valid JSON: ${(e as Error).message}`);
  }
  return withSafeKeys(value);
}

/** Server-side apply's media types: YAML (of which JSON is a part) or JSON. */
export const APPLY_MEDIA_TYPES = ['application/apply-patch+yaml', 'application/apply-patch+json'] as const;

/** A server-side apply body: one object, in YAML or JSON, without aliases. */
export async function readApplyBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const bytes = await readRawBody(req);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BerthError('BadRequest', 'the request body is not valid UTF-8');
  }
  // Flow-style nesting (JSON's brackets) is checked before parsing, as for JSON bodies.
  if (jsonDepth(text) > MAX_JSON_DEPTH)
    throw new BerthError('BadRequest', `the apply configuration nests deeper than ${MAX_JSON_DEPTH}`);
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 0, version: '1.2' });
  } catch (e) {
    throw new BerthError(
      'BadRequest',
      `the apply configuration is not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new BerthError('BadRequest', 'an apply configuration is one object (apiVersion, kind, metadata, …)');
  if (jsonDepth(JSON.stringify(value)) > MAX_JSON_DEPTH)
    throw new BerthError('BadRequest', `the apply configuration nests deeper than ${MAX_JSON_DEPTH}`);
  return withSafeKeys(value) as Record<string, unknown>;
}

/** The body, unless a key in it could reach a prototype (422, naming where). */
function withSafeKeys(value: unknown): unknown {
  const unsafe = unsafeKeyIn(value);
  if (!unsafe) return value;
  const at = unsafe.path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('') || '/';
  throw new BerthError(
    'Invalid',
    `the request body has a key ${JSON.stringify(unsafe.key)} at ${at}: keys __proto__, constructor and prototype are not allowed`,
  );
}

/** The deepest nesting of objects and arrays in JSON text (brackets inside strings do not count). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) max = Math.max(max, ++depth);
    else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return max;
}

/**
 * A create's body: JSON, or protobuf for the few kinds kubectl's typed clients send only that way
 * (see protobuf.ts), decoded to the JSON it stands for and held to the same key rules.
 */
export async function readCreateBody(req: IncomingMessage): Promise<unknown> {
  if (mediaType(req.headers['content-type']) !== PROTOBUF_MEDIA_TYPE) return readJsonBody(req);
  return withSafeKeys(decodeProtobufBody(await readRawBody(req)));
}
