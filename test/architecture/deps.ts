/**
 * The dependency direction of ../shared/DESIGN.md, checked over the import statements of src/.
 * A module (the first folder under src/, or a file directly in it) may import only the modules
 * listed for it; some npm packages may be imported from one place only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const ALLOWED: Record<string, readonly string[]> = {
  api: [],
  // Bearer and join tokens: what the server checks, the agent joins with and the CLI makes.
  auth: ['api'],
  // The HTTPS server the API and the ingress router listen with.
  transport: [],
  // The informer (a cache kept by list and watch), over the store or the API client alike.
  informer: ['api'],
  manifest: ['api'],
  diff: ['api'],
  health: ['api'],
  store: ['api'],
  runtime: ['api', 'store', 'informer'],
  source: ['api', 'manifest'],
  // The sync engine: a source's commit, planned by diff, written to the store. Its PR plan runs
  // the scheduler's filters and the ingress route table (pure cores) as simulations.
  sync: ['api', 'manifest', 'diff', 'health', 'source', 'store', 'runtime', 'scheduler', 'network', 'sops'],
  // The SOPS format and its age data keys: pure but for age's key agreement.
  sops: [],
  controllers: ['api', 'runtime', 'manifest', 'diff', 'health'],
  scheduler: ['api', 'runtime'],
  // The agent runs on other machines: it talks to the server through the API client.
  agent: ['api', 'auth', 'informer', 'runtime', 'health', 'client'],
  // The data plane (service proxy, ingress router) reads the cluster through the API client too.
  network: ['api', 'client', 'informer', 'transport'],
  server: ['api', 'auth', 'transport', 'store', 'manifest', 'diff', 'health', 'runtime', 'ui'],
  // The dashboard: its server side (page, assets, sign-in) and, in ui/web, the browser's code,
  // which imports nothing of Berth's (it talks to the API over HTTP like any client).
  ui: ['api'],
  client: ['api', 'informer'],
  cli: ['api', 'auth', 'client', 'manifest', 'diff', 'sops'],
  // The composition root wires everything.
  'main.ts': ['*'],
};

/** npm packages that only one place may import (the concrete drivers). */
export const PACKAGE_HOMES: Record<string, string> = {
  dockerode: 'agent/docker/',
  'better-sqlite3': 'store/sqlite',
  etcd3: 'store/etcd',
  'age-encryption': 'sops/',
  preact: 'ui/web/',
  htm: 'ui/web/',
};

/** The dashboard's browser code: it runs in the page, where only its own files and the import map's packages exist. */
export const BROWSER_CODE = 'ui/web/';
export const BROWSER_PACKAGES: readonly string[] = ['preact', 'preact/hooks', 'htm', 'htm/preact'];

/**
 * The pure cores (DESIGN.md: functions tested with tables; the shells touch the world): they may
 * not import Node's I/O modules. The manifest pipeline is pure but for what reads files (tree,
 * schema, openapi) and runs threads (pool, worker, warmup, index).
 */
export const PURE_CORES: readonly RegExp[] = [
  /^diff\//,
  /^health\//,
  /(^|\/)plan\.ts$/,
  /^network\/(routes|dns)\.ts$/,
  /^agent\/dns-config\.ts$/,
  /^api\/(cidr|services|selector|quantity)\.ts$/,
  /^sops\//,
  /^store\/encryption\.ts$/,
  /^manifest\/(?!(tree|schema|openapi|pool|worker|warmup|index)\.ts$)[^/]+\.ts$/,
];
const IO_MODULES = new Set([
  'fs',
  'fs/promises',
  'net',
  'dgram',
  'http',
  'https',
  'http2',
  'tls',
  'dns',
  'dns/promises',
  'child_process',
  'worker_threads',
  'cluster',
  'os',
  'readline',
]);

export interface Violation {
  file: string;
  imports: string;
  why: string;
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;

export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

export function moduleOf(relativeToSrc: string): string {
  const [first] = relativeToSrc.split('/');
  return relativeToSrc.includes('/') ? first! : relativeToSrc;
}

/** files: paths relative to src/ with their source text. */
export function checkDependencies(files: { path: string; source: string }[]): Violation[] {
  const violations: Violation[] = [];
  for (const f of files) {
    const from = moduleOf(f.path);
    const allowed = ALLOWED[from];
    for (const spec of importsOf(f.source)) {
      if (spec.startsWith('.')) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(f.path), spec));
        if (target.startsWith('..')) {
          violations.push({ file: f.path, imports: spec, why: 'imports from outside src/' });
          continue;
        }
        if (f.path.startsWith(BROWSER_CODE) && !target.startsWith(BROWSER_CODE)) {
          violations.push({
            file: f.path,
            imports: spec,
            why: `the browser's code may import only src/${BROWSER_CODE}`,
          });
          continue;
        }
        const to = moduleOf(target);
        if (to === from) continue;
        if (!allowed)
          violations.push({
            file: f.path,
            imports: spec,
            why: `module "${from}" has no place in the dependency rules`,
          });
        else if (!allowed.includes('*') && !allowed.includes(to))
          violations.push({
            file: f.path,
            imports: spec,
            why: `${from} may not depend on ${to} (allowed: ${allowed.join(', ') || 'nothing'})`,
          });
      } else if (f.path.startsWith(BROWSER_CODE) && !BROWSER_PACKAGES.includes(spec)) {
        violations.push({ file: f.path, imports: spec, why: `the browser has only ${BROWSER_PACKAGES.join(', ')}` });
      } else if (PURE_CORES.some((r) => r.test(f.path)) && IO_MODULES.has(spec.replace(/^node:/, ''))) {
        violations.push({
          file: f.path,
          imports: spec,
          why: `a pure core may not import ${spec}: I/O belongs in the shell around it`,
        });
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        const home = PACKAGE_HOMES[pkg];
        if (home && !f.path.startsWith(home))
          violations.push({ file: f.path, imports: spec, why: `only src/${home} may import ${pkg}` });
      }
    }
  }
  return violations;
}

export function readSources(srcDir: string): { path: string; source: string }[] {
  const out: { path: string; source: string }[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (/\.(ts|js)$/.test(e.name) && !e.name.endsWith('.d.ts'))
        out.push({ path: path.relative(srcDir, full).split(path.sep).join('/'), source: readFileSync(full, 'utf8') });
    }
  };
  walk(srcDir);
  return out;
}
