/**
 * `etcd://host:port[,host:port…][/prefix]` — for clusters that outgrow one machine. etcd's own
 * revisions are the store's revisions; a commit is one etcd Txn whose compares are the
 * preconditions and whose puts return the previous values; the store's single upstream is one
 * prefix watch (the client resumes it from its last revision after a reconnect). Objects live
 * under `<prefix>/objects/`, leases under `<prefix>/leases/`, so several Berth clusters can share
 * one etcd. etcd keeps no history Berth can page through, so a watch can start no earlier than
 * the store's watch window (the hub's ring), as Kubernetes' watch cache behaves.
 */
import { createWriteStream } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import { BerthError, isBerthError } from '../api/errors.js';
import type { Backend, BackendOp, CommitResult, KeyValue, RawEvent, RevisionBatch } from './backend.js';
import { preconditionError } from './precondition.js';
import { EtcdElection } from './etcd-election.js';
import type { Fence, LeaderElection, TxnLimits } from './types.js';

/** Unary calls fail after this rather than hang while a member is down (etcd3 has no default). */
const CALL_DEADLINE_MS = 5000;
const COMMIT_RETRIES = 5;

/** etcd's defaults for --max-txn-ops and --max-request-bytes. */
export const ETCD_MAX_TXN_OPS = 128;
export const ETCD_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** Room for the compares, framing and keys' prefix that a commit adds to its keys and values. */
const REQUEST_OVERHEAD = 0.9;

export interface EtcdTarget {
  hosts: string[];
  prefix: string;
  /** The server's --max-txn-ops and --max-request-bytes, when not etcd's defaults. */
  maxTxnOps?: number;
  maxRequestBytes?: number;
}

/** Parses `etcd://h1:2379,h2:2379/prefix[?max-txn-ops=N&max-request-bytes=N]`. */
export function parseEtcdUrl(url: string): EtcdTarget {
  const m = /^etcd:\/\/([^/?]+)(\/[^?]*)?(?:\?(.*))?$/.exec(url);
  if (!m)
    throw new BerthError(
      'Usage',
      `invalid etcd URL ${JSON.stringify(url)}: expected etcd://host:port[,host:port…][/prefix]`,
    );
  const hosts = m[1]!.split(',').map((h) => `http://${h}`);
  const prefix = (m[2] ?? '/berth').replace(/\/+$/, '') || '/berth';
  const query = new URLSearchParams(m[3] ?? '');
  const positive = (name: string): number | undefined => {
    const v = query.get(name);
    if (v === null) return undefined;
    if (!/^[1-9][0-9]*$/.test(v))
      throw new BerthError(
        'Usage',
        `invalid etcd URL ${JSON.stringify(url)}: ${name} must be a positive integer (the etcd server's --${name})`,
      );
    return Number(v);
  };
  for (const k of query.keys())
    if (k !== 'max-txn-ops' && k !== 'max-request-bytes')
      throw new BerthError(
        'Usage',
        `invalid etcd URL ${JSON.stringify(url)}: unknown option ${k} (known: max-txn-ops, max-request-bytes)`,
      );
  const maxTxnOps = positive('max-txn-ops');
  const maxRequestBytes = positive('max-request-bytes');
  return { hosts, prefix, ...(maxTxnOps ? { maxTxnOps } : {}), ...(maxRequestBytes ? { maxRequestBytes } : {}) };
}

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
/** The smallest key greater than every key starting with `p` (etcd's range_end for a prefix). */
function prefixEnd(p: string): Buffer {
  const b = Buffer.from(p, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

export class EtcdBackend implements Backend {
  readonly name = 'etcd';
  readonly txnLimits: TxnLimits;
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly objects: string;
  private readonly leasePrefix: string;
  private compactedTo = 0;

  constructor(target: EtcdTarget, options: Partial<IOptions> = {}) {
    this.client = new Etcd3({
      hosts: target.hosts,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
      ...options,
    });
    this.txnLimits = {
      maxOps: target.maxTxnOps ?? ETCD_MAX_TXN_OPS,
      maxBytes: Math.floor((target.maxRequestBytes ?? ETCD_MAX_REQUEST_BYTES) * REQUEST_OVERHEAD),
    };
    this.prefix = target.prefix;
    this.objects = `${target.prefix}/objects/`;
    this.leasePrefix = `${target.prefix}/leases/`;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isBerthError(e)) throw e;
      throw new BerthError('Unavailable', `etcd ${what} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private kv(raw: { key: Buffer; value: Buffer; mod_revision: string }): KeyValue {
    return {
      key: raw.key.toString('utf8').slice(this.objects.length),
      value: raw.value.toString('utf8'),
      revision: Number(raw.mod_revision),
    };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.call('get', () => this.client.kv.range({ key: enc(this.objects + key) }));
    return res.kvs[0] ? this.kv(res.kvs[0]) : undefined;
  }

  async range(prefix: string, options: { after?: string; limit?: number } = {}) {
    const full = this.objects + prefix;
    const start =
      options.after !== undefined && options.after > prefix ? enc(this.objects + options.after + '\0') : enc(full);
    const res = await this.call('range', () =>
      this.client.kv.range({
        key: start,
        range_end: prefixEnd(full),
        ...(options.limit ? { limit: options.limit } : {}),
      }),
    );
    return { kvs: res.kvs.map((r) => this.kv(r)), revision: Number(res.header.revision), more: res.more };
  }

  async commit(ops: BackendOp[], fence?: Fence): Promise<CommitResult> {
    const fenceCompare = fence
      ? [
          {
            key: enc(fence.key),
            target: 'Create' as const,
            result: 'Equal' as const,
            create_revision: String(fence.createRevision),
          },
        ]
      : [];
    const compare = ops.map((op) => {
      const key = enc(this.objects + op.key);
      if (op.type === 'create') return { key, target: 'Version' as const, result: 'Equal' as const, version: 0 };
      if (op.expectedRevision !== undefined)
        return { key, target: 'Mod' as const, result: 'Equal' as const, mod_revision: op.expectedRevision };
      return { key, target: 'Version' as const, result: 'Greater' as const, version: 0 };
    });
    const success = ops.map((op) => {
      const key = enc(this.objects + op.key);
      // Only a delete needs the value it replaced (to return the last state); puts skip the read.
      return op.type === 'delete'
        ? { request_delete_range: { key, prev_kv: true } }
        : { request_put: { key, value: enc(op.value) } };
    });
    for (let attempt = 0; attempt < COMMIT_RETRIES; attempt++) {
      const res = await this.call('txn', () => this.client.kv.txn({ compare: [...fenceCompare, ...compare], success }));
      if (res.succeeded) {
        const previous = res.responses.map((r) => {
          const prev = r.response_put ? r.response_put.prev_kv : r.response_delete_range?.prev_kvs?.[0];
          return prev && prev.key ? this.kv(prev) : undefined;
        });
        return { revision: Number(res.header.revision), previous };
      }
      // The fence first: a deposed leader's write is refused as such, whatever else it found.
      if (fence && !(await this.fenceHolds(fence)))
        throw new BerthError(
          'NotLeader',
          'this server is no longer the leader (its election key is gone or another): the write was refused',
        );
      // A compare failed. The etcd client retries calls whose reply was lost, so this may be our
      // own write, applied by an earlier attempt: then every put is in place, byte for byte.
      const current = await Promise.all(ops.map((op) => this.get(op.key)));
      if (
        ops.every(
          (op, i) =>
            op.type !== 'delete' &&
            current[i]?.value === op.value &&
            (op.type === 'create' || op.expectedRevision === undefined || current[i]!.revision > op.expectedRevision),
        )
      ) {
        return { revision: Math.max(...current.map((c) => c!.revision)), previous: ops.map(() => undefined) };
      }
      // Otherwise name the failed precondition the way every driver does.
      ops.forEach((op, i) => {
        const err = preconditionError(op, current[i]);
        if (err) throw err;
      });
      // The state moved back between the Txn and our reads; try again.
    }
    throw new BerthError('Conflict', 'the objects changed repeatedly during the write; retry');
  }

  private async fenceHolds(fence: Fence): Promise<boolean> {
    const res = await this.call('get', () => this.client.kv.range({ key: enc(fence.key) }));
    return res.kvs[0]?.create_revision === String(fence.createRevision);
  }

  async backup(file: string): Promise<{ revision: number }> {
    // etcd's snapshot (as `etcdctl snapshot save`): a member's whole backend, restored with `etcdctl snapshot restore`.
    // etcd 3.4 sends no header with the snapshot: the revision before it is what the copy has at least.
    const before = await this.revision();
    const stream = await this.call('snapshot', () => this.client.maintenance.snapshot());
    const out = createWriteStream(file, { mode: 0o600 });
    let revision = 0;
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk) => {
        // The first message's header says the snapshot's point in time; later ones carry none.
        if (!revision && chunk.header) revision = Number(chunk.header.revision);
        out.write(chunk.blob);
      });
      stream.on('error', reject);
      stream.on('end', () => out.end(resolve));
    }).catch((e: unknown) => {
      out.destroy();
      throw new BerthError('Unavailable', `etcd snapshot failed: ${(e as Error).message}`, { cause: e });
    });
    return { revision: revision || before };
  }

  leaderElection(identity: string, ttlSeconds: number): LeaderElection {
    return new EtcdElection(this.client.namespace(`${this.prefix}/`), identity, ttlSeconds);
  }

  async revision(): Promise<number> {
    const res = await this.call('revision', () => this.client.kv.range({ key: enc(this.objects), count_only: true }));
    return Number(res.header.revision);
  }

  async oldestRevision(): Promise<number> {
    return this.compactedTo;
  }

  async openStream(after: number, signal: AbortSignal): Promise<AsyncIterable<RevisionBatch>> {
    const queue: RevisionBatch[] = [];
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    const watcher = await this.call('watch', () =>
      this.client
        .watch()
        .prefix(this.objects)
        .startRevision(String(after + 1))
        .withPreviousKV()
        .create(),
    );
    watcher.on('data', (res) => {
      for (const e of res.events) {
        const revision = Number(e.kv.mod_revision);
        let batch = queue[queue.length - 1];
        if (!batch || batch.revision !== revision) queue.push((batch = { revision, events: [] }));
        const key = e.kv.key.toString('utf8').slice(this.objects.length);
        const prev =
          e.prev_kv && e.prev_kv.key
            ? { prevValue: e.prev_kv.value.toString('utf8'), prevRevision: Number(e.prev_kv.mod_revision) }
            : {};
        const event: RawEvent =
          e.type === 'Delete'
            ? { type: 'delete', key, ...prev }
            : { type: 'put', key, value: e.kv.value.toString('utf8'), ...prev };
        batch.events.push(event);
      }
      notify();
    });
    watcher.on('error', (err) => {
      failure = new BerthError(
        /compacted/i.test(err.message) ? 'Compacted' : 'Unavailable',
        `etcd watch failed: ${err.message}`,
        { cause: err },
      );
      notify();
    });
    const onAbort = (): void => notify();
    signal.addEventListener('abort', onAbort);
    return (async function* drain(): AsyncGenerator<RevisionBatch> {
      try {
        while (!signal.aborted) {
          if (failure) throw failure;
          // Only whole revisions: etcd sends one revision's events in one response.
          while (queue.length) yield queue.shift()!;
          if (failure) throw failure;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        await watcher.cancel().catch(() => {});
      }
    })();
  }

  async compact(keep: number): Promise<number> {
    const target = Math.max(this.compactedTo, (await this.revision()) - keep);
    if (target > this.compactedTo) {
      try {
        await this.call('compact', () => this.client.kv.compact({ revision: target, physical: false }));
      } catch (e) {
        // Another Berth on the same etcd may have compacted further already.
        if (!/compacted/i.test(String((e as Error).message))) throw e;
      }
      this.compactedTo = target;
    }
    return this.compactedTo;
  }

  async leaseGet(name: string): Promise<string | undefined> {
    const res = await this.call('lease get', () => this.client.kv.range({ key: enc(this.leasePrefix + name) }));
    return res.kvs[0]?.value.toString('utf8');
  }

  async leaseList(): Promise<string[]> {
    const res = await this.call('lease list', () =>
      this.client.kv.range({ key: enc(this.leasePrefix), range_end: prefixEnd(this.leasePrefix) }),
    );
    return res.kvs.map((kv) => kv.value.toString('utf8'));
  }

  async leaseSwap(name: string, expected: string | undefined, next: string | undefined): Promise<boolean> {
    const key = enc(this.leasePrefix + name);
    const compare = [
      expected === undefined
        ? { key, target: 'Version' as const, result: 'Equal' as const, version: 0 }
        : { key, target: 'Value' as const, result: 'Equal' as const, value: enc(expected) },
    ];
    const success = [
      next === undefined ? { request_delete_range: { key } } : { request_put: { key, value: enc(next) } },
    ];
    const res = await this.call('lease swap', () => this.client.kv.txn({ compare, success }));
    return res.succeeded;
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
