/**
 * `sqlite:PATH` — the embedded default. One file in WAL mode holding:
 *   kv      the current value and revision of every key (lists and gets read only this);
 *   log     an append-only log of every change, one row per key per revision, with the previous
 *           value, in the manner of k3s' kine: watches and history replay read it;
 *   meta    the global revision and the compaction point;
 *   leases  heartbeats, updated in place and never logged.
 * A commit runs inside an IMMEDIATE transaction: the revision is read and bumped inside it and
 * every precondition is enforced by the UPDATE's WHERE clause, so several processes may share the
 * file. Commits that arrive in the same tick share one transaction and one fsync (group commit,
 * as etcd batches), each in its own savepoint: one commit failing leaves the others whole.
 * Compaction deletes old log rows a slice at a time, so writers wait milliseconds, not seconds.
 */
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BerthError } from '../api/errors.js';
import { keepPrivate, privateDir } from '../api/private-files.js';
import type { Backend, BackendOp, CommitResult, KeyValue, RevisionBatch } from './backend.js';
import { followHistory, Wakeup } from './follow.js';
import { preconditionError } from './precondition.js';
import { moveStoreAside } from './sqlite-files.js';

const HISTORY_PAGE_REVISIONS = 1000;
const COMPACT_SLICE_REVISIONS = 500;
/** Other processes' writes (a second server, a CLI) are noticed within this. */
const POLL_MS = 200;

export interface SqliteOptions {
  /** FULL survives power loss; NORMAL (WAL) survives process crashes and is several times faster. */
  synchronous?: 'FULL' | 'NORMAL';
}

/** The shortest time between two commits while writes keep coming. */
const COMMIT_WINDOW_MS = 2;

/** A write waiting for the next group commit: an object transaction or a lease swap. */
interface PendingWrite {
  run(): unknown;
  resolve(r: unknown): void;
  reject(e: unknown): void;
  result?: unknown;
  error?: unknown;
}

interface LogRow {
  revision: number;
  key: string;
  type: number;
  value: string | null;
  prev_value: string | null;
  prev_revision: number | null;
}

/**
 * Opens the file in WAL mode and runs SQLite's quick_check: a damaged store is refused, never
 * served as a silently broken cluster.
 */
function openChecked(file: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    const problems = (db.pragma('quick_check') as { quick_check: string }[])
      .map((r) => r.quick_check)
      .filter((r) => r !== 'ok');
    if (problems.length) throw new Error(problems.slice(0, 3).join('; '));
    return db;
  } catch (e) {
    db?.close();
    throw new BerthError(
      'Unavailable',
      `the store ${file} is damaged (${(e as Error).message}): restore it from a backup, or start the server with --reset to move it aside and start with an empty store`,
      { cause: e },
    );
  }
}

export class SqliteBackend implements Backend {
  readonly name = 'sqlite';
  private readonly db: Database.Database;
  private readonly wakeup = new Wakeup();
  private closed = false;
  private readonly q;
  private readonly commitTxn: Database.Transaction<(ops: BackendOp[]) => CommitResult>;
  private readonly rangeTxn: Database.Transaction<
    (
      prefix: string,
      options: { after?: string; limit?: number },
    ) => { kvs: KeyValue[]; revision: number; more: boolean }
  >;
  private readonly flushTxn: Database.Transaction<(batch: PendingWrite[]) => void>;
  private pending: PendingWrite[] = [];
  private lastFlush = 0;

  constructor(
    private readonly file: string,
    options: SqliteOptions = {},
  ) {
    if (file !== ':memory:') privateDir(path.dirname(path.resolve(file)));
    this.db = openChecked(file);
    // SQLite gives the -wal and -shm files the database file's mode.
    if (file !== ':memory:') for (const f of [file, `${file}-wal`, `${file}-shm`]) keepPrivate(f);
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT OR IGNORE INTO meta VALUES ('revision', 0), ('compacted', 0);
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS log (
        revision INTEGER NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, type INTEGER NOT NULL,
        value TEXT, prev_value TEXT, prev_revision INTEGER, PRIMARY KEY (revision, seq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    `);
    this.q = {
      meta: this.db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE name = ?'),
      setMeta: this.db.prepare('UPDATE meta SET value = ? WHERE name = ?'),
      get: this.db.prepare<[string], KeyValue>('SELECT key, value, revision FROM kv WHERE key = ?'),
      range: this.db.prepare<[string, string, number], KeyValue>(
        'SELECT key, value, revision FROM kv WHERE key > ? AND key < ? ORDER BY key LIMIT ?',
      ),
      insert: this.db.prepare('INSERT INTO kv (key, value, revision) VALUES (?, ?, ?)'),
      update: this.db.prepare('UPDATE kv SET value = ?, revision = ? WHERE key = ? AND revision = ?'),
      remove: this.db.prepare('DELETE FROM kv WHERE key = ? AND revision = ?'),
      log: this.db.prepare(
        'INSERT INTO log (revision, seq, key, type, value, prev_value, prev_revision) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      history: this.db.prepare<[number, number], LogRow>(
        'SELECT revision, key, type, value, prev_value, prev_revision FROM log WHERE revision > ? AND revision <= ? ORDER BY revision, seq',
      ),
      compactSlice: this.db.prepare('DELETE FROM log WHERE revision > ? AND revision <= ?'),
      leaseGet: this.db.prepare<[string], { value: string }>('SELECT value FROM leases WHERE name = ?'),
      leaseList: this.db.prepare<[], { value: string }>('SELECT value FROM leases ORDER BY name'),
      leaseInsert: this.db.prepare('INSERT OR IGNORE INTO leases (name, value) VALUES (?, ?)'),
      leaseUpdate: this.db.prepare('UPDATE leases SET value = ? WHERE name = ? AND value = ?'),
      leaseDelete: this.db.prepare('DELETE FROM leases WHERE name = ? AND value = ?'),
    };
    this.commitTxn = this.db.transaction((ops: BackendOp[]) => this.applyOps(ops));
    // One read transaction (the rows and the revision they are at), made once: better-sqlite3's
    // transaction() builds a wrapper each time it is called, a cost every list used to pay.
    this.rangeTxn = this.db.transaction((prefix: string, options: { after?: string; limit?: number }) => {
      // Every key under the prefix is longer than it, so `key > prefix` starts the range.
      const start = options.after !== undefined && options.after > prefix ? options.after : prefix;
      const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
      const want = options.limit ?? Number.MAX_SAFE_INTEGER;
      const rows = this.q.range.all(start, end, Math.min(want + 1, 2 ** 31 - 1));
      const more = rows.length > want;
      return { kvs: more ? rows.slice(0, want) : rows, revision: this.metaValue('revision'), more };
    });
    // Nested better-sqlite3 transactions are savepoints: a failed commit rolls back alone.
    this.flushTxn = this.db.transaction((batch: PendingWrite[]) => {
      for (const item of batch) {
        try {
          item.result = item.run();
        } catch (e) {
          item.error = this.storageError(e);
        }
      }
    });
  }

  /**
   * SQLite's "disk full" (and I/O failures) as what they mean to a writer: refused, nothing of it
   * applied (the transaction rolled back), retry once space is freed.
   */
  private storageError(e: unknown): unknown {
    const code = (e as { code?: string }).code;
    if (code === 'SQLITE_FULL')
      return new BerthError(
        'Unavailable',
        `the store's disk is full (${this.file}): the write was refused and nothing of it was applied; free space and retry`,
        { cause: e },
      );
    if (code?.startsWith('SQLITE_IOERR'))
      return new BerthError(
        'Unavailable',
        `the store could not write ${this.file} (${code}): the write was refused and nothing of it was applied`,
        { cause: e },
      );
    return e;
  }

  private metaValue(name: string): number {
    return this.q.meta.get(name)!.value;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return this.q.get.get(key);
  }

  async backup(file: string): Promise<{ revision: number }> {
    // SQLite's online backup: pages copied a step at a time between writes, consistent at the end.
    await this.db.backup(file);
    keepPrivate(file);
    return { revision: revisionIn(file)! };
  }

  async range(prefix: string, options: { after?: string; limit?: number } = {}) {
    return this.rangeTxn(prefix, options);
  }

  commit(ops: BackendOp[]): Promise<CommitResult> {
    return this.write(() => this.commitTxn(ops));
  }

  /**
   * Writes made in the same turn of the event loop share one transaction (and one fsync): with
   * synchronous=FULL a commit's cost is its fsync, and a server takes many small writes at once
   * (binds, status updates, the nodes' lease renewals).
   */
  private write<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new BerthError('Unavailable', 'the store is closed'));
    return new Promise<T>((resolve, reject) => {
      if (this.pending.length === 0) {
        // Under a stream of writes (one a turn), a commit every turn is an fsync every turn: wait
        // out a short window after the last commit instead, so the writes of that window share one.
        const sinceLast = performance.now() - this.lastFlush;
        if (sinceLast < COMMIT_WINDOW_MS) setTimeout(() => this.flush(), COMMIT_WINDOW_MS - sinceLast);
        else setImmediate(() => this.flush());
      }
      this.pending.push({ run, resolve: resolve as (r: unknown) => void, reject });
    });
  }

  private flush(): void {
    this.lastFlush = performance.now();
    const batch = this.pending;
    this.pending = [];
    try {
      if (this.closed) throw new BerthError('Unavailable', 'the store is closed');
      this.flushTxn.immediate(batch);
    } catch (e) {
      const error = this.storageError(e);
      for (const item of batch) item.error ??= error;
    }
    for (const item of batch) {
      if (item.error === undefined) item.resolve(item.result);
      else item.reject(item.error);
    }
    this.wakeup.wake();
  }

  /** Runs inside the IMMEDIATE transaction: any throw rolls everything back. */
  private applyOps(ops: BackendOp[]): CommitResult {
    const revision = this.metaValue('revision') + 1;
    const previous: (KeyValue | undefined)[] = [];
    ops.forEach((op, seq) => {
      const prev = this.q.get.get(op.key);
      const err = preconditionError(op, prev);
      if (err) throw err;
      previous.push(prev);
      if (op.type === 'create') {
        this.q.insert.run(op.key, op.value, revision);
        this.q.log.run(revision, seq, op.key, 0, op.value, null, null);
      } else if (op.type === 'update') {
        // The compare-and-swap itself: the row must still be at the revision we read.
        if (this.q.update.run(op.value, revision, op.key, prev!.revision).changes !== 1)
          throw new BerthError('Conflict', `${op.key} changed during the write`);
        this.q.log.run(revision, seq, op.key, 0, op.value, prev!.value, prev!.revision);
      } else {
        if (this.q.remove.run(op.key, prev!.revision).changes !== 1)
          throw new BerthError('Conflict', `${op.key} changed during the write`);
        this.q.log.run(revision, seq, op.key, 1, null, prev!.value, prev!.revision);
      }
    });
    this.q.setMeta.run(revision, 'revision');
    return { revision, previous };
  }

  async revision(): Promise<number> {
    return this.metaValue('revision');
  }

  async oldestRevision(): Promise<number> {
    return this.metaValue('compacted');
  }

  async history(after: number): Promise<RevisionBatch[]> {
    return this.db.transaction(() => {
      const compacted = this.metaValue('compacted');
      if (after < compacted)
        throw new BerthError(
          'Compacted',
          `revision ${after} has been compacted; the oldest revision available is ${compacted}`,
        );
      const upTo = Math.min(this.metaValue('revision'), after + HISTORY_PAGE_REVISIONS);
      return toBatches(this.q.history.all(after, upTo));
    })();
  }

  async openStream(after: number, signal: AbortSignal): Promise<AsyncIterable<RevisionBatch>> {
    return followHistory(
      (a) => this.history(a),
      (s) => this.wakeup.wait(s, POLL_MS),
      () => this.closed,
      after,
      signal,
    );
  }

  async compact(keep: number): Promise<number> {
    const target = Math.max(this.metaValue('compacted'), this.metaValue('revision') - keep);
    let done = this.metaValue('compacted');
    while (done < target && !this.closed) {
      const next = Math.min(target, done + COMPACT_SLICE_REVISIONS);
      this.db
        .transaction(() => {
          this.q.compactSlice.run(done, next);
          this.q.setMeta.run(next, 'compacted');
        })
        .immediate();
      done = next;
      // Let writers in between slices.
      await new Promise((r) => setImmediate(r));
    }
    return done;
  }

  async leaseGet(name: string): Promise<string | undefined> {
    return this.q.leaseGet.get(name)?.value;
  }

  async leaseList(): Promise<string[]> {
    return this.q.leaseList.all().map((r) => r.value);
  }

  leaseSwap(name: string, expected: string | undefined, next: string | undefined): Promise<boolean> {
    return this.write(() => {
      if (expected === undefined) return next !== undefined && this.q.leaseInsert.run(name, next).changes === 1;
      if (next === undefined) return this.q.leaseDelete.run(name, expected).changes === 1;
      return this.q.leaseUpdate.run(next, name, expected).changes === 1;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeup.wake();
    this.db.close();
  }
}

function toBatches(rows: LogRow[]): RevisionBatch[] {
  const out: RevisionBatch[] = [];
  for (const r of rows) {
    let batch = out[out.length - 1];
    if (!batch || batch.revision !== r.revision) out.push((batch = { revision: r.revision, events: [] }));
    batch.events.push({
      type: r.type === 1 ? 'delete' : 'put',
      key: r.key,
      ...(r.value !== null ? { value: r.value } : {}),
      ...(r.prev_value !== null ? { prevValue: r.prev_value, prevRevision: r.prev_revision ?? 0 } : {}),
    });
  }
  return out;
}

/** The revision a store file is at (read only), or undefined when it has none (not a Berth store). */
function revisionIn(file: string): number | undefined {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
    return hasMeta
      ? db.prepare<[], { value: number }>("SELECT value FROM meta WHERE name = 'revision'").get()?.value
      : undefined;
  } finally {
    db.close();
  }
}

/**
 * Puts a backup in place of the store at `storeFile` (its server stopped): the file checked, the
 * current store kept beside it, and the restored store's revision moved past the one it replaces
 * and marked compacted up to there — so every watcher that saw a later state than the backup
 * (agents, informers) is told its revision is gone and lists again, as after etcd's restore.
 */
export function restoreSqliteBackup(backupFile: string, storeFile: string): { revision: number; keptAs?: string } {
  openChecked(backupFile).close();
  const backupRevision = revisionIn(backupFile);
  if (backupRevision === undefined)
    throw new BerthError('Invalid', `${backupFile} is not a Berth store backup (it has no revision)`);
  let replacedRevision = 0;
  let keptAs: string | undefined;
  if (existsSync(storeFile)) {
    try {
      replacedRevision = revisionIn(storeFile) ?? 0;
    } catch {
      // A damaged store: what it had is unknown; kept aside all the same.
    }
    keptAs = moveStoreAside(storeFile, 'before-restore');
  }
  copyFileSync(backupFile, storeFile);
  keepPrivate(storeFile);
  const db = new Database(storeFile);
  const revision = Math.max(backupRevision, replacedRevision) + 1;
  db.prepare("UPDATE meta SET value = ? WHERE name IN ('revision', 'compacted')").run(revision);
  db.prepare('DELETE FROM log').run();
  db.close();
  return { revision, ...(keptAs ? { keptAs } : {}) };
}
