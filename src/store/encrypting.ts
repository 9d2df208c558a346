/**
 * A driver whose values are encrypted at rest: every value is transformed on its way into the
 * driver below and back on its way out (reads, commits' previous values, history and the change
 * stream), so nothing above the driver sees ciphertext and nothing below it sees plaintext of the
 * kinds the configuration encrypts. Kubernetes puts its transformers at the same place (under the
 * apiserver's storage layer).
 */
import type { Backend, BackendOp, CommitResult, KeyValue, RawEvent, RevisionBatch } from './backend.js';
import { ENCRYPTED_PREFIX, ValueTransformer } from './encryption.js';
import type { Fence } from './types.js';

/** Base64 and the `k8s:enc:…:` prefix make a value about a third larger: keep commits under the driver's limit. */
const GROWTH = 0.7;
/**
 * Each key's last plaintext, with the ciphertext it came from, up to this many characters (both
 * counted): a value this server wrote or read once is not decrypted again when it comes back from
 * the driver (its own change stream, lists, gets). Creating a cipher costs more than the read it
 * guards; the apiserver's watch cache spares it the same way. Kept by store key and compared
 * whole, so a ciphertext copied under another key is still decrypted there (and refused).
 */
const PLAINTEXT_CACHE_CHARS = 64 * 1024 * 1024;

class PlaintextCache {
  private readonly byKey = new Map<string, { stored: string; plain: string }>();
  private chars = 0;

  get(key: string, stored: string): string | undefined {
    const known = this.byKey.get(key);
    return known && known.stored === stored ? known.plain : undefined;
  }

  set(key: string, stored: string, plain: string): void {
    const before = this.byKey.get(key);
    if (before) {
      this.chars -= before.stored.length + before.plain.length;
      this.byKey.delete(key);
    }
    this.byKey.set(key, { stored, plain });
    this.chars += stored.length + plain.length;
    // Oldest first (a Map keeps insertion order).
    for (const [k, v] of this.byKey) {
      if (this.chars <= PLAINTEXT_CACHE_CHARS) break;
      this.byKey.delete(k);
      this.chars -= v.stored.length + v.plain.length;
    }
  }
}

export class EncryptingBackend implements Backend {
  readonly name: string;
  readonly txnLimits: Backend['txnLimits'];

  constructor(
    private readonly inner: Backend,
    readonly transformer: ValueTransformer,
  ) {
    this.name = inner.name;
    this.txnLimits = inner.txnLimits && {
      maxOps: inner.txnLimits.maxOps,
      maxBytes: Math.floor(inner.txnLimits.maxBytes * GROWTH),
    };
    if (inner.leaderElection) this.leaderElection = inner.leaderElection.bind(inner);
    if (inner.history)
      this.history = async (after: number) => (await inner.history!(after)).map((b) => this.openBatch(b));
  }

  leaderElection?: Backend['leaderElection'];
  history?: Backend['history'];

  private readonly plaintexts = new PlaintextCache();

  private open(key: string, value: string): string {
    // Only kinds the configuration names are written encrypted, but any value that is gets read back.
    if (!value.startsWith(ENCRYPTED_PREFIX) && !this.transformer.encrypts(key)) return value;
    const known = this.plaintexts.get(key, value);
    if (known !== undefined) return known;
    const plain = this.transformer.fromStorage(key, value);
    if (value !== plain) this.plaintexts.set(key, value, plain);
    return plain;
  }

  private seal(key: string, value: string): string {
    const stored = this.transformer.toStorage(key, value);
    if (stored !== value) this.plaintexts.set(key, stored, value);
    return stored;
  }

  private openKv(kv: KeyValue): KeyValue {
    return { ...kv, value: this.open(kv.key, kv.value) };
  }

  private openBatch(b: RevisionBatch): RevisionBatch {
    return {
      revision: b.revision,
      events: b.events.map((e): RawEvent => {
        const out: RawEvent = { ...e };
        if (e.value !== undefined) out.value = this.open(e.key, e.value);
        if (e.prevValue !== undefined) out.prevValue = this.open(e.key, e.prevValue);
        return out;
      }),
    };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const kv = await this.inner.get(key);
    return kv && this.openKv(kv);
  }

  async range(prefix: string, options?: { after?: string; limit?: number }) {
    const r = await this.inner.range(prefix, options);
    return { ...r, kvs: r.kvs.map((kv) => this.openKv(kv)) };
  }

  async commit(ops: BackendOp[], fence?: Fence): Promise<CommitResult> {
    const sealed = ops.map((op) => (op.type === 'delete' ? op : { ...op, value: this.seal(op.key, op.value) }));
    const result = await this.inner.commit(sealed, fence);
    return { ...result, previous: result.previous.map((kv) => kv && this.openKv(kv)) };
  }

  backup(file: string) {
    return this.inner.backup(file);
  }

  revision() {
    return this.inner.revision();
  }

  oldestRevision() {
    return this.inner.oldestRevision();
  }

  async openStream(after: number, signal: AbortSignal): Promise<AsyncIterable<RevisionBatch>> {
    const stream = await this.inner.openStream(after, signal);
    const openBatch = (b: RevisionBatch) => this.openBatch(b);
    return {
      async *[Symbol.asyncIterator]() {
        for await (const batch of stream) yield openBatch(batch);
      },
    };
  }

  compact(keep: number) {
    return this.inner.compact(keep);
  }

  leaseGet(name: string) {
    return this.inner.leaseGet(name);
  }

  leaseList() {
    return this.inner.leaseList();
  }

  leaseSwap(name: string, expected: string | undefined, next: string | undefined) {
    return this.inner.leaseSwap(name, expected, next);
  }

  close() {
    return this.inner.close();
  }

  /**
   * Reads every stored value of the kinds the configuration names: throws, naming the first, when
   * one cannot be read — a missing or wrong key is a start-up error, not a failure of the first
   * request that touches it. Returns how many were read.
   */
  async verify(): Promise<number> {
    let checked = 0;
    for (const prefix of this.transformer.prefixes()) {
      let after: string | undefined;
      for (;;) {
        const page = await this.inner.range(prefix, { ...(after ? { after } : {}), limit: 1000 });
        // Through open(): what start-up decrypts is not decrypted again by the first reads.
        for (const kv of page.kvs) this.open(kv.key, kv.value);
        checked += page.kvs.length;
        if (!page.more || !page.kvs.length) break;
        after = page.kvs.at(-1)!.key;
      }
    }
    return checked;
  }
}
