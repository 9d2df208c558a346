/**
 * API tokens, as data: a token is `<id>.<secret>` (6 + 16 lowercase letters and digits, as
 * Kubernetes' bootstrap tokens); only the secret's SHA-256 is kept, in a Secret `token-<id>` of
 * type `berth.dev/token` in the `berth-system` namespace (as Kubernetes keeps bootstrap tokens in
 * kube-system). Node join tokens are written `B10<ca-sha256>::<id>.<secret>`, so an agent on
 * another machine can verify the server's CA with nothing but the token (as k3s' K10 tokens do).
 */
import { createHash, randomInt } from 'node:crypto';
import { SYSTEM_NAMESPACE } from '../api/namespaces.js';

export const ROLES = ['admin', 'readonly', 'node', 'ci'] as const;
export type Role = (typeof ROLES)[number];

/** Namespaces every cluster has from its start (the server creates them; they may not be deleted). */
export const TOKEN_SECRET_TYPE = 'berth.dev/token';

export interface TokenRecord {
  id: string;
  role: Role;
  description: string;
  /** Epoch ms; undefined: never expires. */
  expires?: number;
  /** For node tokens: the node it may act as (unset: a join token, which may only register). */
  node?: string;
  created: number;
}

interface SecretLike {
  apiVersion: string;
  kind: string;
  type?: unknown;
  metadata: { name: string; namespace?: string; labels?: Record<string, string | undefined> };
  data?: unknown;
  [k: string]: unknown;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const JOIN_PREFIX = /^B10([0-9a-f]{64})::/;

const randomString = (n: number): string =>
  Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
export const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '');

export function newTokenParts(): { id: string; secret: string } {
  return { id: randomString(6), secret: randomString(16) };
}

export function joinToken(token: string, caSha256: string): string {
  return `B10${caSha256}::${token}`;
}

/** Splits a presented token into its CA pin (join tokens) and the `<id>.<secret>` part. */
export function parseToken(presented: string): { caSha256?: string; id: string; secret: string } | undefined {
  const join = JOIN_PREFIX.exec(presented);
  const rest = join ? presented.slice(join[0].length) : presented;
  const m = TOKEN.exec(rest);
  return m ? { ...(join ? { caSha256: join[1] } : {}), id: m[1]!, secret: m[2]! } : undefined;
}

export function tokenSecret(r: TokenRecord, secret: string): SecretLike {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: TOKEN_SECRET_TYPE,
    metadata: { name: `token-${r.id}`, namespace: SYSTEM_NAMESPACE, labels: { 'berth.dev/token-role': r.role } },
    data: {
      'token-id': b64(r.id),
      role: b64(r.role),
      description: b64(r.description),
      created: b64(String(r.created)),
      'secret-sha256': b64(sha256(secret).toString('hex')),
      ...(r.expires !== undefined ? { expires: b64(String(r.expires)) } : {}),
      ...(r.node ? { node: b64(r.node) } : {}),
    },
  };
}

export function tokenFromSecret(s: { data?: unknown; [k: string]: unknown }): {
  record: TokenRecord;
  secretHash: string;
} {
  const d = (s.data ?? {}) as Record<string, string>;
  const expires = unb64(d.expires);
  const node = unb64(d.node);
  return {
    record: {
      id: unb64(d['token-id']),
      role: unb64(d.role) as Role,
      description: unb64(d.description),
      created: Number(unb64(d.created)),
      ...(expires ? { expires: Number(expires) } : {}),
      ...(node ? { node } : {}),
    },
    secretHash: unb64(d['secret-sha256']),
  };
}
