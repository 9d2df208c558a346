/**
 * One Git repository through isomorphic-git: a local repository read in place, or a remote one
 * cloned once (bare, no checkout) into the data directory and fetched incrementally. It resolves
 * revisions to commits and reads trees and blobs; tree listings are cached by tree id, so an
 * unchanged folder costs nothing on the next commit.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import path from 'node:path';
import git, { type GitHttpRequest, type GitHttpResponse, type HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { BerthError } from '../api/errors.js';
import { BlobSizes } from './blob-size.js';
import { SourceError } from './errors.js';
import { fetchThread, fetchThreadEnabled } from './fetch-thread.js';
import type { CommitInfo, Resolved, SourceCondition, SourceSpec } from './types.js';

export interface TreeEntry {
  path: string;
  mode: string;
  oid: string;
  type: 'blob' | 'tree' | 'commit';
}

export { SourceError } from './errors.js';

const COMMIT = /^[0-9a-f]{40}$/;

export function isRemote(repoURL: string): boolean {
  return /^https?:\/\//.test(repoURL);
}

/** A full ref name outside branches and tags: `refs/pull/7/head`, `refs/merge-requests/7/head`. */
export function isOtherRef(revision: string): boolean {
  return revision.startsWith('refs/') && !revision.startsWith('refs/heads/') && !revision.startsWith('refs/tags/');
}

export function localPath(repoURL: string): string {
  return repoURL.startsWith('file://') ? decodeURIComponent(new URL(repoURL).pathname) : path.resolve(repoURL);
}

export class GitRepository {
  /** isomorphic-git's object cache: shared by every read of this repository. */
  private readonly cache = {};
  private readonly trees = new Map<string, TreeEntry[]>();
  private readonly gitdir: string;
  private defaultBranch: string | undefined;
  private readonly looseObjects: LooseObjectDirs;
  private readonly blobSizes: BlobSizes;
  private readonly fs: typeof fs;

  constructor(
    readonly spec: Pick<SourceSpec, 'repoURL' | 'credentials'>,
    dataDir: string,
  ) {
    if (isRemote(spec.repoURL)) {
      const id = createHash('sha256').update(spec.repoURL).digest('hex').slice(0, 16);
      this.gitdir = path.join(dataDir, 'repos', `${id}.git`);
    } else {
      const dir = localPath(spec.repoURL);
      // A working copy keeps its repository in .git; a bare repository is the folder itself.
      this.gitdir = fs.existsSync(path.join(dir, '.git')) ? path.join(dir, '.git') : dir;
      if (!fs.existsSync(path.join(this.gitdir, 'HEAD'))) {
        throw new SourceError({ reason: 'InvalidRepository', message: `${spec.repoURL} is not a Git repository` });
      }
    }
    this.looseObjects = new LooseObjectDirs(this.gitdir);
    this.fs = this.looseObjects.fs;
    this.blobSizes = new BlobSizes(this.gitdir);
  }

  /**
   * Called before every read of new objects (resolve, readCommit, contains): Git may have written
   * loose objects since. Trees and blobs are read after one of those, for the commit just read.
   */
  private async rescan(): Promise<void> {
    // New packs (a fetch, a gc in a local repository) are listed again for blob sizes.
    this.blobSizes.forget();
    await this.looseObjects.scan();
  }

  get remote(): boolean {
    return isRemote(this.spec.repoURL);
  }

  private auth() {
    return this.spec.credentials
      ? () => ({ username: this.spec.credentials!.username, password: this.spec.credentials!.password })
      : undefined;
  }

  /**
   * The commit a ref has on the server, without fetching (a cheap "did it change?"), and the
   * server's answer, which a fetch that follows may reuse (see `fetch`).
   */
  async probe(ref: string | undefined): Promise<{ commit: string | undefined; advertisement?: Advertisement }> {
    if (!this.remote) return { commit: undefined };
    let advertisement: Advertisement | undefined;
    const recording: HttpClient = {
      request: async (req) => recordAdvertisement(await nodeHttp.request(req), req, (a) => (advertisement = a)),
    };
    // Protocol v1: the ref advertisement is one request (v2 needs a second for ls-refs).
    const refs = await this.wrap(() =>
      git.listServerRefs({
        http: recording,
        url: this.spec.repoURL,
        onAuth: this.auth(),
        symrefs: true,
        peelTags: true,
        protocolVersion: 1,
      }),
    );
    const head = refs.find((r) => r.ref === 'HEAD');
    if (head?.target) this.defaultBranch = head.target;
    const wanted =
      ref === undefined || ref === 'HEAD'
        ? head?.target
        : [`refs/heads/${ref}`, `refs/tags/${ref}`, ref].find((r) => refs.some((x) => x.ref === r));
    const match = refs.find((r) => r.ref === wanted);
    return { commit: match ? (match.peeled ?? match.oid) : undefined, ...(advertisement ? { advertisement } : {}) };
  }

  /**
   * Brings a remote repository up to date (clones it the first time); a no-op for local ones.
   * Runs on the fetch thread (see fetch-thread.ts): a fetch is hundreds of small awaits, each of
   * which waited behind the controllers' work on a busy server's event loop (1.4 s for a one-file
   * commit while 2,000 Deployments settled, against 0.15 s on a quiet one).
   */
  async fetch(revision?: string, advertisement?: Advertisement): Promise<void> {
    if (!this.remote) return;
    const request: FetchRequest = {
      gitdir: this.gitdir,
      url: this.spec.repoURL,
      ...(this.spec.credentials ? { credentials: this.spec.credentials } : {}),
      ...(revision !== undefined ? { revision } : {}),
      ...(advertisement ? { advertisement } : {}),
    };
    const result = fetchThreadEnabled()
      ? await fetchThread().fetch(request)
      : await fetchRemote(request, { fs: this.fs, cache: this.cache });
    if (result.defaultBranch) this.defaultBranch = result.defaultBranch;
  }

  /** Branch, tag, commit, or the default branch → a commit. */
  async resolve(revision: string | undefined): Promise<Resolved> {
    await this.rescan();
    const rev = revision && revision !== 'HEAD' ? revision : undefined;
    if (rev && COMMIT.test(rev)) {
      await this.readCommit(rev).catch((e) => {
        throw new SourceError(
          {
            reason: 'RevisionNotFound',
            message: `commit ${rev} is not in ${this.spec.repoURL} (not on any fetched branch or tag)`,
          },
          e,
        );
      });
      return { commit: rev, ref: rev };
    }
    const candidates = rev
      ? this.remote
        ? [`refs/remotes/origin/${rev}`, `refs/tags/${rev}`, rev]
        : [`refs/heads/${rev}`, `refs/tags/${rev}`, rev]
      : this.remote
        ? [
            this.defaultBranch
              ? this.defaultBranch.replace('refs/heads/', 'refs/remotes/origin/')
              : 'refs/remotes/origin/HEAD',
            'refs/remotes/origin/main',
            'refs/remotes/origin/master',
          ]
        : ['HEAD'];
    for (const ref of candidates) {
      try {
        const oid = await git.resolveRef({ fs: this.fs, gitdir: this.gitdir, ref });
        // An annotated tag names a tag object: follow it to its commit.
        const { oid: commit } = await git.readCommit({
          fs: this.fs,
          gitdir: this.gitdir,
          oid: await this.peel(oid),
          cache: this.cache,
        });
        return { commit, ref: ref.replace('refs/remotes/origin/', 'refs/heads/') };
      } catch {
        // try the next spelling
      }
    }
    throw new SourceError({
      reason: 'RevisionNotFound',
      message: rev
        ? `revision ${JSON.stringify(rev)} is not a branch, tag or commit of ${this.spec.repoURL}`
        : `${this.spec.repoURL} has no default branch`,
    });
  }

  private async peel(oid: string): Promise<string> {
    const { type, object } = await git.readObject({
      fs: this.fs,
      gitdir: this.gitdir,
      oid,
      cache: this.cache,
      format: 'parsed',
    });
    return type === 'tag' ? (object as { object: string }).object : oid;
  }

  async readCommit(commit: string): Promise<CommitInfo> {
    await this.rescan();
    const { commit: c } = await git.readCommit({ fs: this.fs, gitdir: this.gitdir, oid: commit, cache: this.cache });
    return {
      commit,
      message: c.message.trim(),
      author: `${c.author.name} <${c.author.email}>`,
      timestamp: c.committer.timestamp * 1000,
    };
  }

  /** True when `ancestor` is `commit` or one of its ancestors (false after a history rewrite). */
  async contains(commit: string, ancestor: string): Promise<boolean> {
    if (commit === ancestor) return true;
    await this.rescan();
    try {
      return await git.isDescendent({
        fs: this.fs,
        gitdir: this.gitdir,
        oid: commit,
        ancestor,
        depth: -1,
        cache: this.cache,
      });
    } catch {
      return false;
    }
  }

  /** The tree id of `dir` (repository-relative, '' for the root) at a commit. */
  async treeAt(commit: string, dir: string): Promise<string | undefined> {
    const { commit: c } = await git.readCommit({ fs: this.fs, gitdir: this.gitdir, oid: commit, cache: this.cache });
    let tree = c.tree;
    for (const part of dir.split('/').filter(Boolean)) {
      const next = (await this.listTree(tree)).find((e) => e.path === part && e.type === 'tree');
      if (!next) return undefined;
      tree = next.oid;
    }
    return tree;
  }

  async listTree(oid: string): Promise<TreeEntry[]> {
    let entries = this.trees.get(oid);
    if (!entries) {
      const { tree } = await git.readTree({ fs: this.fs, gitdir: this.gitdir, oid, cache: this.cache });
      entries = tree as TreeEntry[];
      this.trees.set(oid, entries);
    }
    return entries;
  }

  /** A blob's size from its header, without reading it (undefined when that cannot be told). */
  blobSize(oid: string): number | undefined {
    return this.blobSizes.sizeOf(oid);
  }

  async readBlob(oid: string): Promise<Uint8Array> {
    return (await git.readBlob({ fs: this.fs, gitdir: this.gitdir, oid, cache: this.cache })).blob;
  }

  /** isomorphic-git's and the network's errors as the source's conditions. */
  private async wrap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw new SourceError(classify(e as GitFailure, this.spec.repoURL), e);
    }
  }
}

/** A server's ref advertisement (GET …/info/refs?service=git-upload-pack), kept whole. */
export interface Advertisement {
  url: string;
  authorization: string | undefined;
  response: Omit<GitHttpResponse, 'body'>;
  body: Uint8Array[];
}

const isAdvertisementRequest = (req: GitHttpRequest): boolean =>
  (req.method ?? 'GET') === 'GET' && req.url.endsWith('/info/refs?service=git-upload-pack');
const authorizationOf = (req: GitHttpRequest): string | undefined =>
  req.headers?.Authorization ?? req.headers?.authorization;

async function* replay(chunks: Uint8Array[]): AsyncIterableIterator<Uint8Array> {
  yield* chunks;
}

/** Passes a response on, keeping a successful advertisement whole on the way. */
async function recordAdvertisement(
  res: GitHttpResponse,
  req: GitHttpRequest,
  keep: (a: Advertisement) => void,
): Promise<GitHttpResponse> {
  if (!isAdvertisementRequest(req) || res.statusCode !== 200 || !res.body) return res;
  const body: Uint8Array[] = [];
  for await (const chunk of res.body) body.push(chunk);
  const { body: _stream, ...response } = res;
  keep({ url: req.url, authorization: authorizationOf(req), response, body });
  return { ...response, body: replay(body) };
}

/** An HTTP client that answers the first request for this advertisement from it, once. */
function replaying(advertisement: Advertisement): HttpClient {
  let used = false;
  return {
    request: async (req) => {
      // Only the same request: another URL, or credentials the probe did not send, go to the server.
      if (
        used ||
        !isAdvertisementRequest(req) ||
        req.url !== advertisement.url ||
        authorizationOf(req) !== advertisement.authorization
      )
        return nodeHttp.request(req);
      used = true;
      return { ...advertisement.response, body: replay(advertisement.body) };
    },
  };
}

/** What isomorphic-git gets back from its "does readFile return a promise?" probe. */
const PROBE = new Error('readFile needs a path');
/** A loose object known to be absent (isomorphic-git only looks at the code): one error for all. */
const NO_LOOSE_OBJECT = Object.assign(new Error('ENOENT: no such loose object'), { code: 'ENOENT' });

/**
 * isomorphic-git looks for every object as a loose file before it looks in the packs (one failed
 * read per object) and stats the gitdir at the start of every command: most of the time spent
 * reading a freshly cloned tree, whose objects are all packed (each is a trip through libuv's
 * thread pool). A loose object lives in objects/<its first two hex digits>/, so when that folder
 * does not exist the answer is known without asking the disk. The folder list is taken by scan()
 * before each batch of reads and forgotten when isomorphic-git writes under objects/ (a fetch);
 * until the next scan every read goes to the disk. The gitdir stays a directory.
 * (Keeping objects/pack's listing too, which isomorphic-git reads per packed object, made no
 * measurable difference to a sync, and a `git gc` in a local repository would make it stale.)
 */
class LooseObjectDirs {
  private present: Set<string> | undefined;
  /** Bumped by every write: a scan that a write overtook keeps nothing. */
  private writes = 0;
  private gitdirStat: Promise<fs.Stats> | undefined;
  readonly fs: typeof fs;

  constructor(private readonly gitdir: string) {
    const objects = path.join(gitdir, 'objects') + path.sep;
    const p = fs.promises;
    const forget = (file: fs.PathLike): void => {
      if (typeof file !== 'string' || file.startsWith(objects)) {
        this.present = undefined;
        this.writes++;
      }
    };
    const readFile = (async (file: fs.PathLike, options?: unknown) => {
      // isomorphic-git calls readFile() with no path to learn whether the API returns promises,
      // once per command: answer without making Node build an argument error each time.
      if (file === undefined) throw PROBE;
      const rel = typeof file === 'string' && file.startsWith(objects) ? file.slice(objects.length) : undefined;
      if (rel && this.present && /^[0-9a-f]{2}[/\\][0-9a-f]{38}$/.test(rel) && !this.present.has(rel.slice(0, 2))) {
        throw NO_LOOSE_OBJECT;
      }
      return p.readFile(file, options as Parameters<typeof p.readFile>[1]);
    }) as typeof p.readFile;
    const stat = (async (file: fs.PathLike, options?: unknown) => {
      if (file !== gitdir || options !== undefined) return p.stat(file, options as Parameters<typeof p.stat>[1]);
      this.gitdirStat ??= p.stat(gitdir).catch((e: unknown) => {
        this.gitdirStat = undefined;
        throw e;
      });
      return this.gitdirStat;
    }) as typeof p.stat;
    const writing = <F extends (file: fs.PathLike, ...rest: never[]) => Promise<unknown>>(f: F): F =>
      (async (file: fs.PathLike, ...rest: never[]) => {
        forget(file);
        return f(file, ...rest);
      }) as F;
    // isomorphic-git takes an object with an enumerable `promises` (Node's fs API).
    this.fs = {
      promises: {
        ...p,
        readFile,
        stat,
        writeFile: writing(p.writeFile),
        unlink: writing(p.unlink),
        rename: writing(p.rename),
        mkdir: writing(p.mkdir),
      },
    } as unknown as typeof fs;
  }

  async scan(): Promise<void> {
    const writes = this.writes;
    const entries = await fs.promises.readdir(path.join(this.gitdir, 'objects')).catch(() => undefined);
    if (writes !== this.writes) return;
    this.present = entries ? new Set(entries.filter((e) => /^[0-9a-f]{2}$/.test(e))) : undefined;
  }
}

type GitFailure = Error & { code?: string; data?: { statusCode?: number } };

function classify(e: GitFailure, url: string): SourceCondition {
  const status = e.data?.statusCode;
  if (status === 401 || status === 403)
    return {
      reason: 'AuthenticationFailed',
      message: `authentication to ${url} failed (HTTP ${status}): check the Application's credentialsSecret`,
    };
  if (status === 404) return { reason: 'InvalidRepository', message: `${url} was not found (HTTP 404)` };
  const code = e.code ?? (e.cause as { code?: string } | undefined)?.code ?? '';
  if (
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|socket hang up/i.test(`${code} ${e.message}`)
  ) {
    return { reason: 'Unreachable', message: `cannot reach ${url}: ${e.message}` };
  }
  if (status) return { reason: 'Unreachable', message: `${url} answered HTTP ${status}: ${e.message}` };
  return { reason: 'InvalidRepository', message: `${url}: ${e.message}` };
}

/** One fetch, as the fetch thread is asked for it (everything structured-clonable). */
export interface FetchRequest {
  gitdir: string;
  url: string;
  credentials?: { username: string; password: string };
  revision?: string;
  advertisement?: Advertisement;
}

/**
 * The fetch itself (in the fetch thread, or here when threads are off). Branches and tags come
 * with every fetch; any other ref the revision names (a pull request's `refs/pull/N/head`,
 * GitLab's `refs/merge-requests/N/head`) is fetched alone and kept under its own name. Given the
 * advertisement a probe just read, the fetch starts from it instead of asking the server again:
 * one round trip less, and exactly the refs the probe saw.
 */
export async function fetchRemote(
  r: FetchRequest,
  o: { fs: typeof fs; cache: object } = { fs, cache: {} },
): Promise<{ defaultBranch?: string }> {
  const http = r.advertisement ? replaying(r.advertisement) : nodeHttp;
  const onAuth = r.credentials ? () => r.credentials! : undefined;
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw new SourceError(classify(e as GitFailure, r.url), e);
    }
  };
  const { gitdir } = r;
  if (!fs.existsSync(path.join(gitdir, 'HEAD'))) {
    await git.init({ fs: o.fs, gitdir, bare: true, defaultBranch: 'main' });
    await git.addRemote({ fs: o.fs, gitdir, remote: 'origin', url: r.url, force: true });
  }
  const from = { fs: o.fs, http, gitdir, remote: 'origin', onAuth, cache: o.cache };
  if (r.revision && isOtherRef(r.revision)) {
    const revision = r.revision;
    // singleBranch: only this ref's objects; no prune, which would drop every branch not named.
    const res = await wrap(() =>
      git.fetch({ ...from, ref: revision, remoteRef: revision, singleBranch: true, tags: false }),
    );
    if (!res.fetchHead)
      throw new SourceError({ reason: 'RevisionNotFound', message: `${revision} is not a ref of ${r.url}` });
    await git.writeRef({ fs: o.fs, gitdir, ref: revision, value: res.fetchHead, force: true });
    return {};
  }
  const res = await wrap(() => git.fetch({ ...from, tags: true, singleBranch: false, prune: true }));
  return res.defaultBranch ? { defaultBranch: res.defaultBranch } : {};
}
