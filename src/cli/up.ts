/**
 * `berth up`'s side of the terminal: the Application it makes of a repository, and the live
 * report of what the Application does (sync, health, rollouts, where it is served). On a terminal
 * a status line stays at the bottom, redrawn each second, under the lines of what changed;
 * otherwise only those lines, for logs and pipes. The parts it runs are started by src/main.ts.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { isBerthError } from '../api/errors.js';
import { kindInfo } from '../api/kinds.js';
import type { ApplicationStatus } from '../api/types.gen.js';
import type { BerthClient, KubeObject } from '../client/index.js';

/** Lines of what changed, and (on a terminal) one live status line under them. */
export class UpTerminal {
  private live = '';
  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
  ) {}

  say(line: string): void {
    this.write(this.tty && this.live ? `\r\x1b[2K${line}\n${this.live}` : `${line}\n`);
  }

  status(line: string): void {
    if (!this.tty) return;
    this.live = line;
    this.write(`\r\x1b[2K${line}`);
  }

  /** Clears the live line, for the last lines. */
  clear(): void {
    this.status('');
    this.live = '';
  }
}

export interface UpSource {
  name: string;
  repoURL: string;
  path?: string;
  targetRevision?: string;
  local: boolean;
}

/** What `up` needs to know of a local directory: its repository's root, the directory in it, the branch checked out. */
export type LocalCheckout = (dir: string) => Promise<{ root: string; path: string; revision?: string }>;

/** REPO as an Application source: a URL as given; a local directory as its repository, path and branch. */
export async function upSource(
  repo: string,
  flags: { path?: string; revision?: string; name?: string },
  localCheckout: LocalCheckout,
): Promise<UpSource> {
  const dnsLabel = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63) || 'app';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/]+@[^/]+:/.test(repo)) {
    const name = flags.name ?? dnsLabel(path.basename(flags.path ?? repo.replace(/\.git$/, '')));
    return {
      name,
      repoURL: repo,
      ...(flags.path ? { path: flags.path } : {}),
      ...(flags.revision ? { targetRevision: flags.revision } : {}),
      local: false,
    };
  }
  const checkout = await localCheckout(repo);
  const dir = flags.path ?? checkout.path;
  // The repository's top folder: no path (the whole repository), as Argo CD's default.
  const top = ['', '.', './'].includes(dir);
  return {
    name: flags.name ?? dnsLabel(path.basename(top ? checkout.root : dir)),
    repoURL: checkout.root,
    ...(top ? {} : { path: dir }),
    targetRevision: flags.revision ?? checkout.revision,
    local: true,
  };
}

/**
 * `berth up`'s own data directory for this source (BASE/up/NAME-HASH, unless --data names one):
 * what up runs never meets what a later `berth server` on BASE runs (no Application of the same
 * name there, no pods restarted), and running up again on the same repository picks its state up.
 */
export function upDataDir(base: string, source: UpSource): string {
  const id = createHash('sha256')
    .update(`${source.repoURL}\u0000${source.path ?? ''}`)
    .digest('hex')
    .slice(0, 8);
  return path.join(base, 'up', `${source.name}-${id}`);
}

const APPLICATIONS = kindInfo('Application')!;

/** Creates the Application, or points the existing one at this source. */
export async function applyApplication(client: BerthClient, source: UpSource): Promise<void> {
  const spec = {
    source: {
      repoURL: source.repoURL,
      ...(source.path ? { path: source.path } : {}),
      ...(source.targetRevision ? { targetRevision: source.targetRevision } : {}),
    },
    destination: { namespace: 'default' },
    syncPolicy: { automated: { prune: true, selfHeal: true } },
    // A local repository is read in place: looking every few seconds costs next to nothing.
    ...(source.local ? { pollInterval: '3s' } : {}),
  };
  try {
    const app = await client.get(APPLICATIONS, 'default', source.name);
    await client.update(APPLICATIONS, { ...app, spec });
  } catch (e) {
    if (!isBerthError(e, 'NotFound')) throw e;
    await client.create(APPLICATIONS, {
      apiVersion: 'berth.dev/v1',
      kind: 'Application',
      metadata: { name: source.name, namespace: 'default' },
      spec,
    });
  }
}

/** Prints the Application's sync, health and rollouts as they change, and where it is served. */
export async function reportProgress(
  client: BerthClient,
  name: string,
  ingress: string,
  out: { say: (line: string) => void; status: (line: string) => void },
  signal: AbortSignal,
): Promise<void> {
  const say = (line: string) => out.say(line);
  const spinner = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
  let tick = 0;
  const seen = new Map<string, string>();
  const once = (key: string, line: string) => {
    if (seen.get(key) === line) return;
    seen.set(key, line);
    say(line);
  };
  while (!signal.aborted) {
    try {
      const app = await client.get<KubeObject & { status?: ApplicationStatus }>(APPLICATIONS, 'default', name);
      const st = app.status ?? {};
      const rev = st.sync?.revision?.slice(0, 7) ?? '…';
      if (st.operationState)
        once(
          'op',
          `sync ${rev}: ${st.operationState.phase}${st.operationState.message ? ` (${st.operationState.message})` : ''}`,
        );
      for (const c of st.conditions ?? [])
        if (c.status === 'True' && /Error|Warning|Active/.test(c.type))
          once(`cond/${c.type}`, `${c.type}: ${c.message ?? c.reason ?? ''}`);
      if (st.health) once('health', `health: ${st.health.status}${st.health.message ? ` (${st.health.message})` : ''}`);
      for (const r of st.resources ?? []) {
        if (r.kind !== 'Deployment' && r.kind !== 'StatefulSet' && r.kind !== 'DaemonSet') continue;
        const w = await client
          .get<KubeObject & { spec?: { replicas?: number }; status?: Record<string, number | undefined> }>(
            kindInfo(r.kind)!,
            r.namespace ?? 'default',
            r.name,
          )
          .catch(() => undefined);
        const want = w?.spec?.replicas ?? w?.status?.desiredNumberScheduled ?? 0;
        const ready = w?.status?.readyReplicas ?? w?.status?.numberReady ?? 0;
        const updated = w?.status?.updatedReplicas ?? w?.status?.updatedNumberScheduled ?? 0;
        if (w) once(`w/${r.kind}/${r.name}`, `${r.kind} ${r.name}: ${updated}/${want} updated, ${ready} ready`);
      }
      for (const r of st.resources ?? []) {
        if (r.kind !== 'Ingress') continue;
        const ing = await client
          .get<KubeObject & { spec?: { rules?: { host?: string }[] } }>(
            kindInfo('Ingress')!,
            r.namespace ?? 'default',
            r.name,
          )
          .catch(() => undefined);
        for (const host of (ing?.spec?.rules ?? []).map((x) => x.host ?? ''))
          once(
            `ing/${r.name}/${host}`,
            `serving ${host || '(any host)'}: curl ${host ? `-H 'Host: ${host}' ` : ''}${ingress}/`,
          );
      }
      const last = st.ledger?.at(-1);
      if (last?.servingAt)
        once(`served/${last.revision}`, `commit ${last.revision.slice(0, 7)} serving since ${last.servingAt}`);
      out.status(
        `${spinner[tick++ % spinner.length]} ${name}: ${st.sync?.status ?? 'Unknown'} at ${rev} · ${st.health?.status ?? 'Unknown'} · Ctrl-C to stop`,
      );
    } catch (e) {
      if (!isBerthError(e, 'NotFound')) once('error', `status not readable: ${(e as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
