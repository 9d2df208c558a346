/**
 * API tokens. A token is `<id>.<secret>` (6 + 16 lowercase letters and digits, as Kubernetes'
 * bootstrap tokens); only the secret's SHA-256 is stored, in a Secret `token-<id>` of type
 * `berth.dev/token` in the `berth-system` namespace (as Kubernetes keeps bootstrap tokens in
 * kube-system). Node join tokens are printed as `B10<ca-sha256>::<id>.<secret>`, so an agent on
 * another machine can verify the server's CA with nothing but the token (as k3s' K10 tokens do).
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { BerthError, isBerthError } from '../api/errors.js';
import type { KubeObject, Store } from '../store/types.js';

export const ROLES = ['admin', 'readonly', 'node', 'ci'] as const;
export type Role = (typeof ROLES)[number];

export const SYSTEM_NAMESPACE = 'berth-system';
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

export interface Principal {
  tokenId: string;
  role: Role;
  node?: string;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const JOIN_PREFIX = /^B10([0-9a-f]{64})::/;
/** Validated tokens are remembered this long; a revocation reaches other servers within it. */
const CACHE_MS = 5000;

const randomString = (n: number): string => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '');

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

export class TokenBook {
  private readonly cache = new Map<string, { principal: Principal; hash: Buffer; until: number }>();

  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  async create(options: { role: Role; description?: string; ttlMs?: number; node?: string; id?: string; secret?: string }): Promise<{ token: string; record: TokenRecord }> {
    const id = options.id ?? randomString(6);
    const secret = options.secret ?? randomString(16);
    const record: TokenRecord = {
      id, role: options.role, description: options.description ?? '', created: this.now(),
      ...(options.ttlMs ? { expires: this.now() + options.ttlMs } : {}),
      ...(options.node ? { node: options.node } : {}),
    };
    await this.store.create(toSecret(record, sha256(secret).toString('hex')));
    return { token: `${id}.${secret}`, record };
  }

  async list(): Promise<TokenRecord[]> {
    const { items } = await this.store.list({ group: '', kind: 'Secret', namespace: SYSTEM_NAMESPACE, fieldSelector: '' });
    return items.filter((s) => s.type === TOKEN_SECRET_TYPE).map((s) => fromSecret(s).record);
  }

  async revoke(id: string): Promise<void> {
    await this.store.delete({ group: '', kind: 'Secret', namespace: SYSTEM_NAMESPACE, name: `token-${id}` });
    this.cache.delete(id);
  }

  /** The principal a bearer token stands for; throws Unauthorized-shaped errors (401). */
  async authenticate(presented: string): Promise<Principal> {
    const parsed = parseToken(presented.trim());
    if (!parsed) throw unauthorized('malformed token');
    const hash = sha256(parsed.secret);
    const cached = this.cache.get(parsed.id);
    if (cached && cached.until > this.now() && timingSafeEqual(cached.hash, hash)) return cached.principal;
    let secret: KubeObject;
    try {
      secret = await this.store.get({ group: '', kind: 'Secret', namespace: SYSTEM_NAMESPACE, name: `token-${parsed.id}` });
    } catch (e) {
      if (isBerthError(e, 'NotFound')) throw unauthorized('unknown or revoked token');
      throw e;
    }
    const { record, secretHash } = fromSecret(secret);
    const stored = Buffer.from(secretHash, 'hex');
    if (stored.length !== hash.length || !timingSafeEqual(stored, hash)) throw unauthorized('invalid token');
    if (record.expires !== undefined && record.expires <= this.now()) throw unauthorized('token expired');
    const principal: Principal = { tokenId: record.id, role: record.role, ...(record.node ? { node: record.node } : {}) };
    this.cache.set(parsed.id, { principal, hash, until: Math.min(this.now() + CACHE_MS, record.expires ?? Infinity) });
    return principal;
  }

  forget(id: string): void {
    this.cache.delete(id);
  }
}

function unauthorized(why: string): BerthError {
  const e = new BerthError('Unauthorized', `Unauthorized: ${why}`);
  return e;
}

function toSecret(r: TokenRecord, secretHash: string): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Secret', type: TOKEN_SECRET_TYPE,
    metadata: { name: `token-${r.id}`, namespace: SYSTEM_NAMESPACE, labels: { 'berth.dev/token-role': r.role } },
    data: {
      'token-id': b64(r.id), role: b64(r.role), description: b64(r.description), created: b64(String(r.created)),
      'secret-sha256': b64(secretHash),
      ...(r.expires !== undefined ? { expires: b64(String(r.expires)) } : {}),
      ...(r.node ? { node: b64(r.node) } : {}),
    },
  };
}

function fromSecret(s: KubeObject): { record: TokenRecord; secretHash: string } {
  const d = (s.data ?? {}) as Record<string, string>;
  const role = unb64(d.role) as Role;
  const expires = unb64(d.expires);
  const node = unb64(d.node);
  return {
    record: {
      id: unb64(d['token-id']), role, description: unb64(d.description), created: Number(unb64(d.created)),
      ...(expires ? { expires: Number(expires) } : {}),
      ...(node ? { node } : {}),
    },
    secretHash: unb64(d['secret-sha256']),
  };
}
