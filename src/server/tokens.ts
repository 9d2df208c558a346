/**
 * Authenticating bearer tokens against the token Secrets (see src/auth/tokens.ts for their form).
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { prepareCreate } from '../api/lifecycle.js';
import { BerthError, isBerthError } from '../api/errors.js';
import {
  TOKEN_SECRET_TYPE,
  newTokenParts,
  parseToken,
  sha256,
  tokenFromSecret,
  tokenSecret,
  type Role,
  type TokenRecord,
} from '../auth/tokens.js';
import { SYSTEM_NAMESPACE } from '../api/namespaces.js';
import type { KubeObject, Store } from '../store/types.js';

export { ROLES, joinToken, parseToken, type Role, type TokenRecord } from '../auth/tokens.js';

export interface Principal {
  tokenId: string;
  role: Role;
  node?: string;
}

/**
 * Validated tokens are remembered this long. A revocation does not wait for it: every server
 * follows the token Secrets (follow()) and forgets a token the moment its Secret changes.
 */
const CACHE_MS = 5000;
const REFOLLOW_MS = 1000;

export class TokenBook {
  private readonly cache = new Map<string, { principal: Principal; hash: Buffer; until: number }>();
  /** Moves on every token Secret change: a lookup that raced with one is not cached. */
  private changes = 0;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  async create(options: {
    role: Role;
    description?: string;
    ttlMs?: number;
    node?: string;
    id?: string;
    secret?: string;
  }): Promise<{ token: string; record: TokenRecord }> {
    const parts = newTokenParts();
    const id = options.id ?? parts.id;
    const secret = options.secret ?? parts.secret;
    const record: TokenRecord = {
      id,
      role: options.role,
      description: options.description ?? '',
      created: this.now(),
      ...(options.ttlMs ? { expires: this.now() + options.ttlMs } : {}),
      ...(options.node ? { node: options.node } : {}),
    };
    await this.store.create(
      prepareCreate(tokenSecret(record, secret) as KubeObject, new Date(this.now()), randomUUID()),
    );
    return { token: `${id}.${secret}`, record };
  }

  async list(): Promise<TokenRecord[]> {
    const { items } = await this.store.list({ group: '', kind: 'Secret', namespace: SYSTEM_NAMESPACE });
    return items.filter((s) => s.type === TOKEN_SECRET_TYPE).map((s) => tokenFromSecret(s).record);
  }

  async revoke(id: string): Promise<void> {
    await this.store.delete({ group: '', kind: 'Secret', namespace: SYSTEM_NAMESPACE, name: `token-${id}` });
    this.forget(id);
  }

  private forget(id: string | undefined): void {
    this.changes++;
    if (id === undefined) this.cache.clear();
    else this.cache.delete(id);
  }

  /**
   * Watches the token Secrets (written through any server sharing the store, or by `berth token
   * revoke` through the API) and forgets each changed token at once; until the signal aborts.
   */
  async follow(signal: AbortSignal, onError: (e: unknown) => void = () => {}): Promise<void> {
    while (!signal.aborted) {
      try {
        const from = await this.store.revision();
        // Anything cached before this watch began may predate a change it will not replay.
        this.forget(undefined);
        for await (const e of this.store.watch({
          group: '',
          kind: 'Secret',
          namespace: SYSTEM_NAMESPACE,
          fromRevision: from,
          signal,
        })) {
          if (e.object.metadata.name.startsWith('token-')) this.forget(e.object.metadata.name.slice('token-'.length));
        }
      } catch (e) {
        if (signal.aborted) return;
        onError(e);
        await new Promise((r) => setTimeout(r, REFOLLOW_MS));
      }
    }
  }

  /** The principal a bearer token stands for; Unauthorized (401) otherwise. */
  async authenticate(presented: string): Promise<Principal> {
    const parsed = parseToken(presented.trim());
    if (!parsed) throw unauthorized('malformed token');
    const hash = sha256(parsed.secret);
    const cached = this.cache.get(parsed.id);
    if (cached && cached.until > this.now() && timingSafeEqual(cached.hash, hash)) return cached.principal;
    const changesBefore = this.changes;
    let secret: KubeObject;
    try {
      secret = await this.store.get({
        group: '',
        kind: 'Secret',
        namespace: SYSTEM_NAMESPACE,
        name: `token-${parsed.id}`,
      });
    } catch (e) {
      if (isBerthError(e, 'NotFound')) throw unauthorized('unknown or revoked token');
      throw e;
    }
    if (secret.type !== TOKEN_SECRET_TYPE) throw unauthorized('unknown token');
    const { record, secretHash } = tokenFromSecret(secret);
    const stored = Buffer.from(secretHash, 'hex');
    if (stored.length !== hash.length || !timingSafeEqual(stored, hash)) throw unauthorized('invalid token');
    if (record.expires !== undefined && record.expires <= this.now()) throw unauthorized('token expired');
    const principal: Principal = {
      tokenId: record.id,
      role: record.role,
      ...(record.node ? { node: record.node } : {}),
    };
    if (this.changes === changesBefore)
      this.cache.set(parsed.id, {
        principal,
        hash,
        until: Math.min(this.now() + CACHE_MS, record.expires ?? Infinity),
      });
    return principal;
  }
}

function unauthorized(why: string): BerthError {
  return new BerthError('Unauthorized', `Unauthorized: ${why}`);
}
