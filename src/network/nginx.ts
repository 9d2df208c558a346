/**
 * The nginx data plane (`--ingress-mode nginx`, as ingress-nginx does it): the route table the
 * built-in router uses, rendered as an nginx configuration — an upstream with keepalive per
 * Service port, a server block per host (one-label wildcards as regular expressions), locations
 * per path type — and a Berth-managed nginx (Debian's nginx/nginx-light, with its own prefix,
 * pid and config) reloaded on changes, debounced; a reload keeps in-flight requests (nginx's
 * graceful worker hand-over). TLS certificates from Secrets are written 0600.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathMatches, type Backend, type Route, type RouteTable } from './routes.js';
import type { Listen } from './router.js';
import type { ClusterView, Resolution, TlsPair } from './view.js';

const DEBOUNCE_MS = 100;

export interface RenderOptions {
  prefix: string;
  http?: Listen;
  https?: Listen;
  /** Certificate and key files by Secret (namespace/name); only those written exist. */
  certificates: Map<string, { cert: string; key: string }>;
  resolve: (backend: Backend) => Resolution;
  /**
   * Where this machine's service proxy listens: each upstream gets it as a backup server. A
   * reloaded nginx's old workers keep serving busy keep-alive connections with the old upstreams
   * (up to keepalive_requests); when those endpoints are gone, the proxy, which follows the
   * endpoints without a reload, takes the request instead of a 502.
   */
  serviceProxyAddress?: string;
}

/** A quoted location path (no variables are expanded there). */
const q = (s: string) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
/** A quoted `return` text: a literal $ is nginx's $dollar (see the geo block), not a variable. */
const qText = (s: string) =>
  `"${s.replace(/["\\$\n]/g, (c) => (c === '$' ? '${dollar}' : c === '\n' ? '\\n' : `\\${c}`))}"`;
const listenOf = (l: Listen) => `${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`;

/** The nginx locations one route needs: Exact is `= P`; Prefix P is `= P` and `P/` (element-wise). */
function locationsOf(r: Route): string[] {
  if (r.pathType === 'Exact') return [`= ${q(r.path)}`];
  if (r.elements.length === 0) return ['/'];
  const p = `/${r.elements.join('/')}`;
  return [`= ${q(p)}`, q(`${p}/`)];
}

/**
 * Locations for one server block: its host's routes, then those of the groups matchRoute falls
 * through to (wildcard, no host) unless a Prefix route above already covers their path, then the
 * defaultBackend at `/`. The first route to claim a location keeps it, as matchRoute's order.
 */
function serverRoutes(groups: (Route[] | undefined)[], table: RouteTable): Map<string, Backend | undefined> {
  const out = new Map<string, Backend | undefined>();
  const above: Route[] = [];
  for (const group of groups) {
    if (!group) continue;
    const kept = group.filter((r) => !above.some((h) => h.pathType !== 'Exact' && pathMatches(h, r.path)));
    for (const r of kept) for (const loc of locationsOf(r)) if (!out.has(loc)) out.set(loc, r.backend);
    above.push(...group);
  }
  if (!out.has('/')) out.set('/', table.defaultBackend);
  return out;
}

export function renderNginxConfig(table: RouteTable, o: RenderOptions): string {
  const upstreams = new Map<string, { name: string; servers: string[] }>();
  const location = (loc: string, backend: Backend | undefined): string => {
    if (!backend)
      return `    location ${loc} { default_type text/plain; return 404 "404 Not Found: no Ingress rule matches host \\"$host\\" and path \\"$uri\\"\\n"; }\n`;
    const resolved = o.resolve(backend);
    if (!resolved.ok)
      return `    location ${loc} { default_type text/plain; return 503 ${qText(`503 Service Unavailable: ${resolved.reason}\n`)}; }\n`;
    const key = `${backend.namespace}/${backend.service}:${backend.port}`;
    let up = upstreams.get(key);
    if (!up) {
      const servers = resolved.targets.map((t) => `${t.ip.includes(':') ? `[${t.ip}]` : t.ip}:${t.port} max_fails=0`);
      if (o.serviceProxyAddress && resolved.proxyPort)
        servers.push(`${o.serviceProxyAddress}:${resolved.proxyPort} backup`);
      upstreams.set(key, (up = { name: `u${upstreams.size}`, servers }));
    }
    return `    location ${loc} { proxy_pass http://${up.name}; }\n`;
  };
  const firstCert = o.certificates.values().next().value;
  const server = (
    names: string,
    tlsKey: string | undefined,
    routes: Map<string, Backend | undefined>,
    isDefault: boolean,
  ): string => {
    const cert = (tlsKey && o.certificates.get(tlsKey)) || firstCert;
    let s = '  server {\n';
    if (o.http) s += `    listen ${listenOf(o.http)}${isDefault ? ' default_server' : ''};\n`;
    if (o.https && cert)
      s += `    listen ${listenOf(o.https)} ssl${isDefault ? ' default_server' : ''};\n    ssl_certificate ${cert.cert};\n    ssl_certificate_key ${cert.key};\n`;
    s += `    server_name ${names};\n`;
    for (const [loc, backend] of [...routes].sort(([a], [b]) => a.localeCompare(b))) s += location(loc, backend);
    return `${s}  }\n`;
  };
  const tlsKeyOf = (host: string) => {
    const t = table.tls.get(host);
    return t ? `${t.namespace}/${t.secretName}` : undefined;
  };
  let servers = server('_', undefined, serverRoutes([table.anyHost], table), true);
  for (const [host, routes] of [...table.exact].sort(([a], [b]) => a.localeCompare(b))) {
    const suffix = host.indexOf('.') > 0 ? host.slice(host.indexOf('.')) : undefined;
    servers += server(
      host,
      tlsKeyOf(host) ?? (suffix ? tlsKeyOf(`*${suffix}`) : undefined),
      serverRoutes([routes, suffix ? table.wildcard.get(suffix) : undefined, table.anyHost], table),
      false,
    );
  }
  for (const [suffix, routes] of [...table.wildcard].sort(([a], [b]) => a.localeCompare(b))) {
    // nginx's own "*.example.com" also takes a.b.example.com; Kubernetes' wildcard is one label.
    servers += server(
      `"~^[^.]+${suffix.replace(/\./g, '\\.')}$"`,
      tlsKeyOf(`*${suffix}`),
      serverRoutes([routes, table.anyHost], table),
      false,
    );
  }
  const p = o.prefix;
  let conf = `# Written by Berth from its route table: edits are overwritten.
worker_processes 1;
# Old workers of a reload serve busy keep-alive connections with the old upstreams: at most this long.
worker_shutdown_timeout 10s;
daemon off;
pid ${p}/nginx.pid;
error_log ${p}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${p}/tmp/body; proxy_temp_path ${p}/tmp/proxy; fastcgi_temp_path ${p}/tmp/fastcgi; uwsgi_temp_path ${p}/tmp/uwsgi; scgi_temp_path ${p}/tmp/scgi;
  server_names_hash_bucket_size 128;
  geo $dollar { default "$"; }
  map $http_upgrade $berth_connection { default upgrade; "" ""; }
  proxy_http_version 1.1;
  proxy_connect_timeout 5s;
  proxy_read_timeout 60s;
  proxy_send_timeout 60s;
  proxy_next_upstream error timeout;
  proxy_next_upstream_tries 0; # every server once, then the backup (see serviceProxyAddress)
  proxy_set_header Host $http_host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_set_header X-Forwarded-Host $http_host;
  proxy_set_header X-Forwarded-Port $server_port;
  proxy_set_header X-Real-IP $remote_addr;
  proxy_set_header Upgrade $http_upgrade;
  proxy_set_header Connection $berth_connection;
`;
  for (const up of upstreams.values())
    conf += `  upstream ${up.name} {\n${up.servers.map((s) => `    server ${s};\n`).join('')}    keepalive 64;\n  }\n`;
  return `${conf}${servers}}\n`;
}

/** A Berth-managed nginx following the view. */
export class NginxDataPlane {
  private child: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The configuration nginx was last started or reloaded with. */
  private written = '';
  private readonly certificates = new Map<string, { cert: string; key: string }>();
  /** The Secret contents last written to the certificate files, by Secret. */
  private readonly writtenPairs = new Map<string, TlsPair>();
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly view: ClusterView,
    private readonly o: {
      prefix: string;
      http?: Listen;
      https?: Listen;
      serviceProxyAddress?: string;
      binary?: string;
      log?: { warn(o: object, m: string): void };
    },
  ) {}

  async start(): Promise<void> {
    mkdirSync(path.join(this.o.prefix, 'tmp'), { recursive: true, mode: 0o700 });
    mkdirSync(path.join(this.o.prefix, 'certs'), { recursive: true, mode: 0o700 });
    this.written = this.write() ?? this.written;
    await this.test();
    const child = spawn(
      this.o.binary ?? 'nginx',
      ['-p', this.o.prefix, '-e', path.join(this.o.prefix, 'error.log'), '-c', this.configPath()],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.on('error', (e) => this.o.log?.warn({ err: e }, 'nginx could not be started'));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.o.log?.warn({ code, signal, stderr: err.slice(-2000) }, 'nginx exited');
    });
    this.view.onChange(() => this.schedule());
    await this.waitListening();
  }

  private configPath(): string {
    return path.join(this.o.prefix, 'nginx.conf');
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // One reload at a time: a second one's write must not change the file under the first's
      // test and SIGHUP.
      this.reloading = this.reloading.then(() => this.reload());
    }, DEBOUNCE_MS);
  }

  private reloading: Promise<void> = Promise.resolve();

  /**
   * Writes certificates and the config; returns the config when it (or a certificate) changed
   * since nginx last loaded it, undefined when nginx runs it already.
   */
  private write(): string | undefined {
    let renewed = false;
    for (const [key, pair] of this.view.secrets) renewed = this.writeCertificate(key, pair) || renewed;
    const text = renderNginxConfig(this.view.routes, {
      prefix: this.o.prefix,
      ...(this.o.http ? { http: this.o.http } : {}),
      ...(this.o.https ? { https: this.o.https } : {}),
      certificates: this.certificates,
      resolve: (b) => this.view.resolve(b),
      ...(this.o.serviceProxyAddress ? { serviceProxyAddress: this.o.serviceProxyAddress } : {}),
    });
    if (text === this.written && !renewed) return undefined;
    // Whole or not at all (a rename): nginx must never read a half-written file.
    writeFileSync(`${this.configPath()}.new`, text, { mode: 0o600 });
    renameSync(`${this.configPath()}.new`, this.configPath());
    return text;
  }

  /** Writes a Secret's certificate and key when they changed since the last write; says whether they did. */
  private writeCertificate(key: string, pair: TlsPair): boolean {
    if (this.writtenPairs.get(key) === pair) return false;
    const base = path.join(this.o.prefix, 'certs', key.replace('/', '_'));
    const files = { cert: `${base}.crt`, key: `${base}.key` };
    writeFileSync(files.cert, pair.cert, { mode: 0o600 });
    writeFileSync(files.key, pair.key, { mode: 0o600 });
    this.certificates.set(key, files);
    this.writtenPairs.set(key, pair);
    return true;
  }

  /** `nginx -t`: a configuration nginx refuses is never loaded (the running one stays). */
  private test(): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(
        this.o.binary ?? 'nginx',
        ['-t', '-q', '-p', this.o.prefix, '-e', path.join(this.o.prefix, 'error.log'), '-c', this.configPath()],
        (e, _out, stderr) => {
          if (!e) return resolve();
          if ((e as NodeJS.ErrnoException).code === 'ENOENT')
            return reject(
              new Error(
                `--ingress-mode nginx needs nginx, and there is no \`${this.o.binary ?? 'nginx'}\` on PATH (Debian: apt-get install nginx-light)`,
              ),
            );
          reject(new Error(`nginx refused the configuration: ${stderr.trim()}`));
        },
      );
    });
  }

  private async reload(): Promise<void> {
    try {
      const text = this.write();
      if (text === undefined || !this.child?.pid) return;
      await this.test();
      // SIGHUP: new workers with the new configuration; the old ones finish their requests.
      process.kill(this.child.pid, 'SIGHUP');
      // Only now is it what nginx runs: a refused or unsent one is written again at the next change.
      this.written = text;
    } catch (e) {
      this.o.log?.warn({ err: e }, 'nginx configuration not reloaded');
    }
  }

  private async waitListening(): Promise<void> {
    const at = this.o.http ?? this.o.https;
    if (!at) return;
    const { connect } = await import('node:net');
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(at.port, at.host === '0.0.0.0' ? '127.0.0.1' : at.host);
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      if (this.child?.exitCode !== null || Date.now() > deadline)
        throw new Error(`nginx did not start listening on ${listenOf(at)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGQUIT: nginx's graceful shutdown, requests in flight finish. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) {
      child.kill('SIGQUIT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(killer);
    }
  }
}
