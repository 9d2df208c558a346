/**
 * The Git source: knows Git and nothing about applying. For an Application's source it fetches
 * (at most once per repository per interval, however many Applications share it), resolves the
 * revision to a commit, and builds the Artifact at that commit: the manifest files under the path,
 * loaded exactly as `berth validate` loads them. Parsed files are cached by blob id (and path), so
 * a commit that touches one file of 10,000 parses one file. Failures come back as conditions.
 */
import path from 'node:path';
import {
  MAX_FILE_BYTES,
  PARALLEL_THRESHOLD_FILES,
  collect,
  decryptionFailed,
  symlinkOutsideTree,
  ignoreScope,
  isIgnored,
  isManifestFileName,
  loadSourceFiles,
  type FileResult,
  type IgnoreScope,
  type LoadOptions,
  type SourceFile,
} from '../manifest/index.js';
import { GitRepository, SourceError, isOtherRef } from './git.js';
import type { Artifact, Decryptor, Resolved, SourceCondition, SourceSpec } from './types.js';

export interface GitSourceOptions {
  /** Where remote repositories are cloned. */
  dataDir: string;
  /** A repository is fetched at most this often unless forced (a webhook). */
  minFetchIntervalMs?: number;
  now?: () => number;
}

/** Folder listings kept per repository (a repository of 10,000 folders keeps them all). */
const MAX_CACHED_FOLDERS = 10_000;
/** Files read from Git before they are handed to the loader threads (one of their batches). */
const READ_PART = 16;

/** Git's mode for a symlink, whose blob holds the link's target path. */
const SYMLINK_MODE = '120000';
/** Marks a symlink's entry in a folder listing (in place of a blob id): the target path follows. */
const SYMLINK_MARK = 'symlink:';

/**
 * Symlinks in a commit, by the rule `berth validate` applies on disk: a link to a manifest file
 * inside the tree (`dir`) reads as that file; one that leaves the tree is skipped with a warning;
 * a link to a folder adds nothing (the folder is read where it is).
 */
function resolveSymlinks(
  found: Map<string, string>,
  dir: string,
): { files: Map<string, string>; outside: FileResult[] } {
  const files = new Map<string, string>();
  const outside: FileResult[] = [];
  const root = dir ? `${dir}/` : '';
  for (const [file, oid] of found) {
    if (!oid.startsWith(SYMLINK_MARK)) {
      files.set(file, oid);
      continue;
    }
    const target = oid.slice(SYMLINK_MARK.length);
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), target));
    if (target.startsWith('/') || resolved.startsWith('../') || resolved === '..' || !resolved.startsWith(root)) {
      if (isManifestFileName(path.posix.basename(file)) || !path.posix.extname(file))
        outside.push(symlinkOutsideTree(file, target));
      continue;
    }
    const targetOid = found.get(resolved);
    if (targetOid && !targetOid.startsWith(SYMLINK_MARK) && isManifestFileName(path.posix.basename(file)))
      files.set(file, targetOid);
  }
  return { files, outside };
}

export type SourceResult<T> = { ok: true; value: T } | { ok: false; condition: SourceCondition };

interface RepoState {
  repo: GitRepository;
  lastFetch: number;
  inflight?: Promise<void>;
  /** Parsed files by `blob\0path\0options`, kept for the files the latest artifacts used. */
  parsed: Map<string, FileResult>;
  /** The manifest files under a folder, by tree id, path and the .berthignore files above it. */
  folders: Map<string, Map<string, string>>;
}

/** What every SOPS-encrypted value starts with: files without it are never handed to a decryptor. */
const SOPS_MARK = 'ENC[AES256_GCM,';

export class GitSource {
  private readonly repos = new Map<string, RepoState>();
  private readonly minInterval: number;
  private readonly now: () => number;

  constructor(private readonly options: GitSourceOptions) {
    this.minInterval = options.minFetchIntervalMs ?? 0;
    this.now = options.now ?? Date.now;
  }

  private state(spec: SourceSpec): RepoState {
    const key = `${spec.repoURL}\u0000${spec.credentials?.username ?? ''}`;
    let s = this.repos.get(key);
    if (!s) {
      s = {
        repo: new GitRepository(spec, this.options.dataDir),
        lastFetch: -Infinity,
        parsed: new Map(),
        folders: new Map(),
      };
      this.repos.set(key, s);
    }
    return s;
  }

  /** Fetches the repository unless it was fetched within the interval (or a fetch is running), or offline. */
  async refresh(
    spec: SourceSpec,
    options: { force?: boolean; offline?: boolean } = {},
  ): Promise<SourceResult<Resolved>> {
    return this.attempt(async () => {
      const s = this.state(spec);
      const due = options.force || this.now() - s.lastFetch >= this.minInterval;
      // Offline (a reconcile for a change in the cluster, not in Git): what was fetched last will do.
      const offline = options.offline === true && s.lastFetch > -Infinity;
      if (s.inflight) await s.inflight;
      else if (due && !offline) {
        s.inflight = (async () => {
          // A cheap look at the server first: nothing to fetch when the ref has not moved.
          const remote = await s.repo.probe(spec.targetRevision);
          const have = remote.commit
            ? await s.repo.resolve(spec.targetRevision).then(
                (r) => r.commit,
                () => undefined,
              )
            : undefined;
          if (!remote.commit || remote.commit !== have) await s.repo.fetch(spec.targetRevision, remote.advertisement);
          // A pull request's ref is fetched alone: the branches still need their own fetch.
          if (!spec.targetRevision || !isOtherRef(spec.targetRevision)) s.lastFetch = this.now();
        })().finally(() => {
          s.inflight = undefined;
        });
        await s.inflight;
      }
      return s.repo.resolve(spec.targetRevision);
    });
  }

  /**
   * Any revision (branch, tag, commit, `refs/pull/N/head`) of the source's repository → a commit.
   * A remote repository is fetched for it once when it is not there yet (a new tag, a PR head).
   */
  async resolve(spec: SourceSpec, revision: string): Promise<SourceResult<Resolved>> {
    return this.attempt(async () => {
      const s = this.state(spec);
      try {
        return await s.repo.resolve(revision);
      } catch (e) {
        if (!s.repo.remote) throw e;
        await s.repo.fetch(revision);
        return s.repo.resolve(revision);
      }
    });
  }

  /** True when `ancestor` is in the history of `commit` (false after a force-push rewrote it). */
  async contains(spec: SourceSpec, commit: string, ancestor: string): Promise<boolean> {
    return this.state(spec).repo.contains(commit, ancestor);
  }

  /** The manifests under spec.path at a commit, loaded and validated. */
  async artifact(
    spec: SourceSpec,
    commit: string,
    load: LoadOptions,
    decryptor?: Decryptor,
  ): Promise<SourceResult<Artifact>> {
    return this.attempt(async () => {
      const s = this.state(spec);
      const dir = treePath(spec.path);
      const info = await s.repo.readCommit(commit);
      const tree = await s.repo.treeAt(commit, dir);
      if (!tree)
        throw new SourceError({
          reason: 'PathNotFound',
          message: `path ${JSON.stringify(dir)} does not exist at commit ${commit.slice(0, 7)}`,
        });
      const found = new Map<string, string>();
      await this.collectFiles(s, tree, dir, [], '', found);
      const { files, outside } = resolveSymlinks(found, dir);

      const optionsKey = `${load.strict}\u0000${load.defaultNamespace}\u0000${decryptor?.id ?? ''}`;
      const keyOf = (file: string, oid: string): string => `${oid}\u0000${file}\u0000${optionsKey}`;
      const unparsed = [...files].filter(([file, oid]) => !s.parsed.has(keyOf(file, oid)));
      const loaded = await this.loadBlobs(s, unparsed, load, decryptor);
      const fresh = new Map(unparsed.map(([file, oid], i) => [keyOf(file, oid), loaded[i]!]));
      const next = new Map<string, FileResult>();
      const results = [...files].map(([file, oid]) => {
        const key = keyOf(file, oid);
        const r = fresh.get(key) ?? s.parsed.get(key)!;
        next.set(key, r);
        return r;
      });
      // Keep what this artifact used; a file another path of the same repo needs is re-cached then.
      for (const [k, v] of next) s.parsed.set(k, v);
      if (s.parsed.size > next.size * 4 + 1000)
        for (const k of [...s.parsed.keys()]) if (!next.has(k)) s.parsed.delete(k);
      // The objects are the cache's own, shared by every artifact while their file is unchanged
      // (which lets a plan recognise them): callers read them and copy before changing anything.
      const result = collect([...results, ...outside]);
      return { ...info, repoURL: spec.repoURL, path: dir, files, result, parsed: unparsed.length };
    });
  }

  /**
   * Reads and loads files not parsed before. Many (a first sync) are handed to the loader threads
   * in parts of READ_PART files as they are read: Git's reads here overlap the threads' parsing,
   * which is most of the cost.
   */
  private async loadBlobs(
    s: RepoState,
    wanted: [file: string, oid: string][],
    load: LoadOptions,
    decryptor: Decryptor | undefined,
  ): Promise<FileResult[]> {
    const undecryptable = new Map<string, string>();
    async function* parts(): AsyncGenerator<SourceFile[]> {
      for (let i = 0; i < wanted.length; i += READ_PART) {
        const part: SourceFile[] = [];
        for (const [file, oid] of wanted.slice(i, i + READ_PART)) {
          // An oversized file is refused by the size in its header: never read, never inflated.
          const size = s.repo.blobSize(oid);
          part.push(
            size !== undefined && size > MAX_FILE_BYTES
              ? { path: file, bytes: new Uint8Array(0), size }
              : { path: file, bytes: await decrypted(file, await s.repo.readBlob(oid)) },
          );
        }
        yield part;
      }
    }
    // The loader sees plaintext; a file that does not decrypt is refused by its reason alone.
    async function decrypted(file: string, bytes: Uint8Array): Promise<Uint8Array> {
      if (!decryptor || !Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(SOPS_MARK))
        return bytes;
      try {
        const plain = await decryptor.decrypt(file, Buffer.from(bytes).toString('utf8'));
        return plain === undefined ? bytes : Buffer.from(plain, 'utf8');
      } catch (e) {
        undecryptable.set(file, (e as Error).message);
        return bytes;
      }
    }
    const results = await loadSourceFiles(parts(), load, wanted.length >= PARALLEL_THRESHOLD_FILES);
    return results.map((r) => {
      const why = undecryptable.get(r.file);
      return why === undefined ? r : decryptionFailed(r.file, why);
    });
  }

  /**
   * The manifest files under a tree, by path, with their blob ids. A folder's list depends only on
   * its tree id, where it is, and the .berthignore files above it, so it is kept by those: an
   * unchanged folder of a new commit is not walked again.
   */
  private async collectFiles(
    s: RepoState,
    tree: string,
    dir: string,
    scopes: IgnoreScope[],
    scopesId: string,
    out: Map<string, string>,
  ): Promise<void> {
    const cacheKey = `${tree}\u0000${dir}\u0000${scopesId}`;
    const known = s.folders.get(cacheKey);
    if (known) {
      for (const [file, oid] of known) out.set(file, oid);
      return;
    }
    const entries = await s.repo.listTree(tree);
    const ignoreFile = entries.find((e) => e.path === '.berthignore' && e.type === 'blob');
    if (ignoreFile) {
      scopes = [
        ...scopes,
        ignoreScope(dir || '.', Buffer.from(await s.repo.readBlob(ignoreFile.oid)).toString('utf8')),
      ];
      scopesId = `${scopesId}/${ignoreFile.oid}@${dir}`;
    }
    const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const mine = new Map<string, string>();
    for (const e of sorted) {
      if (e.path.startsWith('.')) continue;
      const full = dir ? `${dir}/${e.path}` : e.path;
      const isDir = e.type === 'tree';
      if (isIgnored(scopes, path.posix.normalize(full), isDir)) continue;
      if (isDir) await this.collectFiles(s, e.oid, full, scopes, scopesId, mine);
      else if (e.type === 'blob' && e.mode === SYMLINK_MODE)
        mine.set(full, `${SYMLINK_MARK}${Buffer.from(await s.repo.readBlob(e.oid)).toString('utf8')}`);
      else if (e.type === 'blob' && isManifestFileName(e.path)) mine.set(full, e.oid);
    }
    if (s.folders.size > MAX_CACHED_FOLDERS) s.folders.clear();
    s.folders.set(cacheKey, mine);
    for (const [file, oid] of mine) out.set(file, oid);
  }

  private async attempt<T>(fn: () => Promise<T>): Promise<SourceResult<T>> {
    try {
      return { ok: true, value: await fn() };
    } catch (e) {
      if (e instanceof SourceError) return { ok: false, condition: e.condition };
      return { ok: false, condition: { reason: 'InvalidRepository', message: (e as Error).message } };
    }
  }
}

/**
 * An Application's path as a folder of the tree: "", ".", "./" and "/" are the top (as Argo CD
 * reads them); "./apps/" is "apps".
 */
export function treePath(p: string | undefined): string {
  return (p ?? '')
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}
