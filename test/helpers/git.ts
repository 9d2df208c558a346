/**
 * Real Git for tests: repositories made and pushed with the git CLI, and a smart-HTTP server
 * (`git http-backend` behind node:http on 127.0.0.1, optionally behind Basic auth).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Berth Test',
  GIT_AUTHOR_EMAIL: 'test@berth.dev',
  GIT_COMMITTER_NAME: 'Berth Test',
  GIT_COMMITTER_EMAIL: 'test@berth.dev',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: tmpdir(),
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8' }).trim();
}

/** A bare "remote" (`git init --bare -b main`) and a working clone that pushes to it. */
export class TestRepo {
  readonly root: string;
  readonly bare: string;
  readonly work: string;

  constructor(name = 'repo') {
    this.root = mkdtempSync(path.join(tmpdir(), 'berth-git-'));
    this.bare = path.join(this.root, `${name}.git`);
    this.work = path.join(this.root, 'work');
    git(this.root, 'init', '-q', '--bare', '-b', 'main', this.bare);
    git(this.bare, 'config', 'http.receivepack', 'true');
    git(this.root, 'init', '-q', '-b', 'main', this.work);
    git(this.work, 'remote', 'add', 'origin', this.bare);
  }

  write(files: Record<string, string | null>): this {
    for (const [rel, content] of Object.entries(files)) {
      const full = path.join(this.work, rel);
      if (content === null) unlinkSync(full);
      else {
        mkdirSync(path.dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    return this;
  }

  /** Commits everything and pushes; returns the commit id. */
  commit(message: string, options: { branch?: string; force?: boolean } = {}): string {
    git(this.work, 'add', '-A');
    git(this.work, 'commit', '-q', '--allow-empty', '-m', message);
    git(this.work, 'push', '-q', ...(options.force ? ['--force'] : []), 'origin', `HEAD:${options.branch ?? 'main'}`);
    return git(this.work, 'rev-parse', 'HEAD');
  }

  run(...args: string[]): string {
    return git(this.work, ...args);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface GitHttpServer {
  url: string;
  /** Requests served, by `service` (git-upload-pack info/refs and packs). */
  requests: string[];
  close(): Promise<void>;
}

/** Serves every bare repository under `projectRoot` over smart HTTP (on `port`, or any free one). */
export async function startGitHttpServer(
  projectRoot: string,
  auth?: { username: string; password: string },
  port = 0,
): Promise<GitHttpServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://git');
    if (auth) {
      const expected = 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end('unauthorized');
        return;
      }
    }
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const cgi = spawn('git', ['http-backend'], {
      env: {
        ...process.env,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        CONTENT_LENGTH: req.headers['content-length'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: auth?.username ?? '',
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      headersDone = true;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.stdout.on('end', () => res.end());
    cgi.on('error', () => res.destroy());
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
