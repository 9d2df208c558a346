/**
 * `berth app create|list|get|sync|delete`: Applications through the API. A manual sync stamps the
 * `berth.dev/sync-requested` annotation; the server's controller sees it and syncs at once.
 * Exit codes: 0 done (sync: Synced), 1 failed or out of sync, 2 usage or unreachable, 3 timeout.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import type { Application } from '../api/types.gen.js';
import { APP_FAILURE_CONDITIONS, KSTATUS_CONDITION } from '../api/conditions.js';
import { BerthError, isBerthError } from '../api/errors.js';
import { KINDS, resolveKind } from '../api/kinds.js';
import {
  INSTANCE_LABEL,
  ROLLBACK_ANNOTATION,
  SYNC_REQUESTED_ANNOTATION,
  SYNC_REVISION_ANNOTATION,
  TRACKING_ANNOTATION,
  hasDifferences,
  renderMarkdown,
  renderMarkdownParts,
  renderFailureMarkdown,
  renderText,
  type DiffReport,
} from '../diff/index.js';
import { resourcePath, type BerthClient, type KubeObject } from '../client/index.js';
import { colorDiff, renderStructured, type CommandIO, type OutputFormat } from './output.js';
import { formatTable } from './resources.js';

const APPS = resolveKind('applications')!;

type App = KubeObject & Pick<Application, 'spec' | 'status'>;

export interface AppCreateOptions {
  repo: string;
  revision?: string;
  path?: string;
  destNamespace?: string;
  autoSync: boolean;
  prune: boolean;
  selfHeal: boolean;
  autoRollback: boolean;
  pollInterval?: string;
  namespace?: string;
  /** As `argocd app create --upsert`: an existing Application gets this spec instead of an error. */
  upsert?: boolean;
  commitStatusUrl?: string;
  commitStatusTokenSecret?: string;
  commitStatusContext?: string;
  commitStatusTargetUrl?: string;
}

/** `spec.notify.commitStatus` from the --commit-status-* flags (undefined when none is given). */
function commitStatusOf(o: {
  commitStatusUrl?: string;
  commitStatusTokenSecret?: string;
  commitStatusContext?: string;
  commitStatusTargetUrl?: string;
}): Record<string, string> | undefined {
  const given = {
    ...(o.commitStatusUrl ? { url: o.commitStatusUrl } : {}),
    ...(o.commitStatusTokenSecret ? { tokenSecret: o.commitStatusTokenSecret } : {}),
    ...(o.commitStatusContext ? { context: o.commitStatusContext } : {}),
    ...(o.commitStatusTargetUrl ? { targetURL: o.commitStatusTargetUrl } : {}),
  };
  return Object.keys(given).length ? given : undefined;
}

export async function appCreate(
  client: BerthClient,
  name: string,
  o: AppCreateOptions,
  io: CommandIO,
): Promise<number> {
  if (!o.autoSync && (o.prune || o.selfHeal))
    throw new BerthError('Usage', '--prune and --self-heal go with --auto-sync');
  const app = {
    apiVersion: 'berth.dev/v1',
    kind: 'Application',
    metadata: { name, namespace: o.namespace ?? client.connection.namespace },
    spec: {
      source: {
        repoURL: o.repo,
        ...(o.revision ? { targetRevision: o.revision } : {}),
        ...(o.path ? { path: o.path } : {}),
      },
      ...(o.destNamespace ? { destination: { namespace: o.destNamespace } } : {}),
      syncPolicy: {
        ...(o.autoSync ? { automated: { prune: o.prune, selfHeal: o.selfHeal } } : {}),
        ...(o.autoRollback ? { autoRollback: true } : {}),
      },
      ...(o.pollInterval ? { pollInterval: o.pollInterval } : {}),
      ...(commitStatusOf(o) ? { notify: { commitStatus: commitStatusOf(o) } } : {}),
    },
  };
  if (app.spec.notify && !o.commitStatusUrl)
    throw new BerthError('Usage', '--commit-status-url is needed with the other --commit-status-* flags');
  try {
    await client.create(APPS, app as KubeObject);
  } catch (e) {
    if (!o.upsert || !isBerthError(e, 'AlreadyExists')) throw e;
    const current = await client.get<App>(APPS, app.metadata.namespace, name);
    if (JSON.stringify(current.spec) === JSON.stringify(app.spec)) {
      io.stdout(`application.berth.dev/${name} unchanged\n`);
      return 0;
    }
    await client.update(APPS, { ...current, spec: app.spec } as KubeObject);
    io.stdout(`application.berth.dev/${name} updated\n`);
    return 0;
  }
  io.stdout(`application.berth.dev/${name} created\n`);
  return 0;
}

export async function appGet(
  client: BerthClient,
  name: string,
  namespace: string | undefined,
  output: OutputFormat,
  io: CommandIO,
): Promise<number> {
  const app = await client.get<App>(APPS, namespace ?? client.connection.namespace, name);
  if (output !== 'text') {
    io.stdout(renderStructured(output, app));
    return 0;
  }
  const s = app.status ?? {};
  const src = app.spec.source;
  const lines = [
    `Name:          ${app.metadata.namespace}/${name}`,
    `Repo:          ${src.repoURL}`,
    `Target:        ${src.targetRevision ?? '(default branch)'}`,
    `Path:          ${src.path ?? '.'}`,
    `Sync Status:   ${s.sync?.status ?? 'Unknown'}${s.sync?.revision ? ` to ${s.sync.revision.slice(0, 7)}` : ''}`,
    `Health Status: ${s.health?.status ?? 'Unknown'}${s.health?.message ? ` (${s.health.message})` : ''}`,
    ...(s.operationState ? [`Last Sync:     ${s.operationState.phase}: ${s.operationState.message ?? ''}`] : []),
  ];
  // Ready/Reconciling/Stalled restate the lines above for kstatus; the others say what is wrong.
  for (const c of s.conditions ?? []) {
    if ((Object.values(KSTATUS_CONDITION) as string[]).includes(c.type)) continue;
    lines.push(
      `Condition:     ${c.type} (${c.reason ?? ''})`,
      ...String(c.message ?? '')
        .split('\n')
        .map((m) => `  ${m}`),
    );
  }
  if (s.resources?.length) {
    lines.push(
      '',
      formatTable(
        ['KIND', 'NAMESPACE', 'NAME', 'STATUS', 'HEALTH'],
        s.resources.map((r) => [r.kind, r.namespace ?? '', r.name, r.status, r.health ?? '']),
      ).trimEnd(),
    );
  }
  if (s.history?.length) {
    lines.push(
      '',
      formatTable(
        ['ID', 'DEPLOYED', 'REVISION', 'MESSAGE'],
        [...s.history]
          .reverse()
          .map((h) => [String(h.id), h.deployedAt, h.revision.slice(0, 7), (h.message ?? '').split('\n')[0]!]),
      ).trimEnd(),
    );
  }
  io.stdout(lines.join('\n') + '\n');
  return 0;
}

/**
 * `app sync NAME [--revision R] [--resume]`. A revision other than the tracked one pins the app to
 * it (as a rollback does): automated sync pauses until a new commit lands or `--resume`.
 */
export async function appSync(
  client: BerthClient,
  name: string,
  o: { namespace?: string; timeoutMs: number; wait: boolean; resume?: boolean; revision?: string; rollbackTo?: string },
  io: CommandIO,
): Promise<number> {
  const ns = o.namespace ?? client.connection.namespace;
  if (o.resume && (o.revision || o.rollbackTo))
    throw new BerthError('Usage', '--resume follows the tracked branch again; it does not go with --revision');
  const request = new Date().toISOString();
  // At most one pin at a time; --resume withdraws it (null deletes an annotation in a merge patch).
  const pin = {
    [ROLLBACK_ANNOTATION]: o.rollbackTo ?? null,
    [SYNC_REVISION_ANNOTATION]: o.rollbackTo ? null : (o.revision ?? null),
  };
  const pinning = o.rollbackTo !== undefined || o.revision !== undefined || o.resume;
  await client.patch(APPS, ns, name, {
    metadata: { annotations: { [SYNC_REQUESTED_ANNOTATION]: request, ...(pinning ? pin : {}) } },
  });
  const what = o.rollbackTo
    ? `rollback of ${ns}/${name} to ${o.rollbackTo.slice(0, 7)}`
    : o.revision
      ? `sync of ${ns}/${name} to ${o.revision}`
      : `sync of ${ns}/${name}`;
  io.stderr(`${what} requested\n`);
  if (!o.wait) return 0;
  const deadline = Date.now() + o.timeoutMs;
  while (Date.now() < deadline) {
    const app = await client.get<App>(APPS, ns, name);
    const s = app.status ?? {};
    if (s.lastSyncRequest === request) {
      const failed = s.conditions?.find((c) => (APP_FAILURE_CONDITIONS as readonly string[]).includes(c.type));
      if (failed) {
        io.stderr(`${failed.type}: ${failed.message ?? ''}\n`);
        return 1;
      }
      io.stdout(
        `${name}: ${s.sync?.status ?? 'Unknown'} at ${s.sync?.revision?.slice(0, 7) ?? '?'}${s.operationState?.message ? ` (${s.operationState.message})` : ''}\n`,
      );
      return s.sync?.status === 'Synced' ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  io.stderr(`timed out waiting for the sync of ${ns}/${name}\n`);
  return 3;
}

/** `app rollback NAME [ID|COMMIT]`: a history ID, a commit (or its prefix); default the previous sync. */
export async function appRollback(
  client: BerthClient,
  name: string,
  target: string | undefined,
  o: { namespace?: string; timeoutMs: number; wait: boolean },
  io: CommandIO,
): Promise<number> {
  const ns = o.namespace ?? client.connection.namespace;
  const app = await client.get<App>(APPS, ns, name);
  const history = app.status?.history ?? [];
  let revision: string | undefined;
  if (target === undefined) revision = history[history.length - 2]?.revision;
  else if (/^[0-9]+$/.test(target) && target.length < 7)
    revision = history.find((h) => h.id === Number(target))?.revision;
  else revision = /^[0-9a-f]{40}$/.test(target) ? target : history.find((h) => h.revision.startsWith(target))?.revision;
  if (!revision) {
    throw new BerthError(
      'Usage',
      target === undefined
        ? `${name} has no earlier sync to roll back to`
        : `${JSON.stringify(target)} is neither a history ID nor a commit in ${name}'s history (see \`berth app get ${name}\`)`,
    );
  }
  return appSync(client, name, { ...o, rollbackTo: revision }, io);
}

export async function appDelete(
  client: BerthClient,
  name: string,
  o: { namespace?: string; cascade: boolean },
  io: CommandIO,
): Promise<number> {
  const ns = o.namespace ?? client.connection.namespace;
  await client.get(APPS, ns, name);
  if (o.cascade) {
    // The objects the app manages: its label, and its tracking annotation naming exactly this app.
    for (const info of KINDS.filter((k) => k.declarable && k.kind !== 'Application')) {
      const { items } = await client.list(info, { labelSelector: `${INSTANCE_LABEL}=${name}` });
      for (const obj of items) {
        const annotations = (obj.metadata.annotations ?? {}) as Record<string, string>;
        if (!annotations[TRACKING_ANNOTATION]?.startsWith(`${ns}/${name}:`)) continue;
        await client.delete(info, obj.metadata.namespace, obj.metadata.name);
        io.stdout(`${info.kind.toLowerCase()}${info.group ? `.${info.group}` : ''}/${obj.metadata.name} deleted\n`);
      }
    }
  }
  await client.delete(APPS, ns, name);
  io.stdout(`application.berth.dev/${name} deleted\n`);
  return 0;
}

/**
 * `app wait NAME [--revision SHA] [--health] [--timeout 300s]`: until the app is synced at SHA (or
 * at a later revision its history shows came after SHA) and, with --health, Healthy. Progress is a
 * live line on a terminal and one line per change otherwise.
 * Exit: 0 done, 1 failed or degraded, 2 error (no such app, unreachable server, refused), 3 timed out.
 */
export async function appWait(
  client: BerthClient,
  name: string,
  o: { namespace?: string; revision?: string; health: boolean; timeoutMs: number; tty: boolean },
  io: CommandIO,
): Promise<number> {
  const ns = o.namespace ?? client.connection.namespace;
  const deadline = Date.now() + o.timeoutMs;
  let last = '';
  const show = (line: string): void => {
    if (line === last) return;
    last = line;
    io.stderr(o.tty ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  const done = (code: number, line: string): number => {
    show(line);
    if (o.tty) io.stderr('\n');
    return code;
  };
  while (Date.now() < deadline) {
    let app: App;
    try {
      app = await client.get<App>(APPS, ns, name);
    } catch (e) {
      // 1 means the commit failed or degraded; anything that stops the wait itself is an error.
      if (!(e instanceof BerthError)) throw e;
      return done(2, `${name}: ${e.message}`);
    }
    const s = app.status ?? {};
    const at = s.sync?.revision ?? '';
    const history = s.history ?? [];
    const wantedIndex = o.revision ? history.findIndex((h) => h.revision.startsWith(o.revision!)) : -1;
    const reached =
      !o.revision ||
      at.startsWith(o.revision) ||
      (wantedIndex !== -1 && wantedIndex < history.length - 1 && history[history.length - 1]!.revision === at);
    const failed = s.conditions?.find((c) => (APP_FAILURE_CONDITIONS as readonly string[]).includes(c.type));
    const health = s.health?.status ?? 'Unknown';
    const progress = `${name}: ${s.sync?.status ?? 'Unknown'} at ${at.slice(0, 7) || '?'}, ${health}${s.health?.message ? ` (${s.health.message})` : ''}`;
    if (reached && failed && (!o.revision || at.startsWith(o.revision)))
      return done(1, `${name}: ${failed.type}: ${(failed.message ?? '').split('\n')[0]}`);
    if (reached && health === 'Degraded' && o.health) return done(1, `${progress}`);
    if (reached && history.find((h) => h.revision === at)?.outcome === 'Failed')
      return done(1, `${name}: ${at.slice(0, 7)} failed and was rolled back`);
    if (reached && s.sync?.status === 'Synced' && (!o.health || health === 'Healthy')) return done(0, progress);
    show(progress);
    await new Promise((r) => setTimeout(r, 500));
  }
  return done(3, `timed out waiting for ${name}${o.revision ? ` at ${o.revision.slice(0, 7)}` : ''}`);
}

/**
 * `app diff NAME [--revision REV] [-o text|markdown|json]`: what syncing REV would change, and
 * the plan beside it (what the sync would refuse, pods that would not fit, Ingress rules someone
 * else serves, changed images). Exit: 0 no difference, 1 differences, 2 the revision would not be
 * synced (invalid manifests listed with file:line, a policy it breaks, an unreachable repository).
 */
export async function appDiff(
  client: BerthClient,
  name: string,
  o: {
    namespace?: string;
    revision?: string;
    output: 'text' | 'markdown' | 'json';
    maxDiffLength?: number;
    /** Markdown written as DIR/comment-N.md, each part under GitHub's cap. */
    splitDir?: string;
  },
  io: CommandIO,
): Promise<number> {
  const ns = o.namespace ?? client.connection.namespace;
  const q = o.revision ? `?revision=${encodeURIComponent(o.revision)}` : '';
  const outcome = await client.request<DiffOutcome>('GET', `${resourcePath(APPS, ns, name, 'diff')}${q}`);
  if (!outcome.ok) {
    if (o.output === 'json') io.stdout(JSON.stringify(outcome, null, 2) + '\n');
    else for (const e of outcome.errors) io.stderr(`${e}\n`);
    // The PR comment says why there is no diff.
    if (o.output === 'markdown') writeComment([renderFailureMarkdown(name, outcome)], o.splitDir, io);
    io.stderr(
      `${outcome.reason === 'InvalidManifests' ? 'the revision has invalid manifests' : 'the source could not be read'}: nothing would be synced\n`,
    );
    return 2;
  }
  if (o.output === 'json') io.stdout(JSON.stringify(outcome.report, null, 2) + '\n');
  else if (o.output === 'markdown') {
    const limits = o.maxDiffLength !== undefined ? { maxDiffLength: o.maxDiffLength } : {};
    writeComment(
      o.splitDir ? renderMarkdownParts(outcome.report, name, limits) : [renderMarkdown(outcome.report, name, limits)],
      o.splitDir,
      io,
    );
  } else io.stdout(io.color ? colorDiff(renderText(outcome.report)) : renderText(outcome.report));
  if (outcome.report.checks?.refusals.length) {
    io.stderr('the sync would refuse this revision: nothing would be synced\n');
    return 2;
  }
  return hasDifferences(outcome.report) ? 1 : 0;
}

/** The comment on stdout, or its parts as DIR/comment-1.md, -2.md, … (their paths on stdout, in order). */
function writeComment(parts: string[], splitDir: string | undefined, io: CommandIO): void {
  if (!splitDir) {
    io.stdout(parts.join('\n'));
    return;
  }
  mkdirSync(splitDir, { recursive: true });
  parts.forEach((part, i) => {
    const file = path.join(splitDir, `comment-${i + 1}.md`);
    writeFileSync(file, part);
    io.stdout(`${file}\n`);
  });
}

type DiffOutcome = { ok: true; report: DiffReport } | { ok: false; reason: string; errors: string[] };

export interface AppSetOptions {
  namespace?: string;
  repo?: string;
  revision?: string;
  path?: string;
  pollInterval?: string;
  autoSync?: boolean;
  prune?: boolean;
  selfHeal?: boolean;
  autoRollback?: boolean;
  commitStatusUrl?: string;
  commitStatusTokenSecret?: string;
  commitStatusContext?: string;
  commitStatusTargetUrl?: string;
  noCommitStatus?: boolean;
}

/**
 * `app set NAME [flags]`: changes the given settings of an existing Application (argocd app set),
 * as one merge patch; what is not given stays. `--no-auto-sync` turns automated sync off.
 */
export async function appSet(client: BerthClient, name: string, o: AppSetOptions, io: CommandIO): Promise<number> {
  const ns = o.namespace ?? client.connection.namespace;
  const current = await client.get<App>(APPS, ns, name);
  const automated = current.spec.syncPolicy?.automated;
  const wantsAutomated = o.autoSync ?? automated !== undefined;
  if (!wantsAutomated && (o.prune !== undefined || o.selfHeal !== undefined))
    throw new BerthError('Usage', '--prune and --self-heal go with automated sync (--auto-sync)');
  const source = {
    ...(o.repo ? { repoURL: o.repo } : {}),
    ...(o.revision !== undefined ? { targetRevision: o.revision } : {}),
    ...(o.path !== undefined ? { path: o.path } : {}),
  };
  const syncPolicy = {
    ...(o.autoSync === false
      ? { automated: null }
      : o.autoSync || o.prune !== undefined || o.selfHeal !== undefined
        ? {
            automated: {
              ...(o.prune !== undefined ? { prune: o.prune } : {}),
              ...(o.selfHeal !== undefined ? { selfHeal: o.selfHeal } : {}),
            },
          }
        : {}),
    ...(o.autoRollback !== undefined ? { autoRollback: o.autoRollback } : {}),
  };
  const commitStatus = commitStatusOf(o);
  if (commitStatus && !commitStatus.url && !current.spec.notify?.commitStatus?.url)
    throw new BerthError('Usage', '--commit-status-url is needed: the Application posts no commit status yet');
  const spec = {
    ...(Object.keys(source).length ? { source } : {}),
    ...(Object.keys(syncPolicy).length ? { syncPolicy } : {}),
    ...(o.pollInterval !== undefined ? { pollInterval: o.pollInterval } : {}),
    ...(o.noCommitStatus ? { notify: { commitStatus: null } } : commitStatus ? { notify: { commitStatus } } : {}),
  };
  if (!Object.keys(spec).length) throw new BerthError('Usage', 'nothing to set: give at least one setting');
  await client.patch(APPS, ns, name, { spec });
  io.stdout(`application.berth.dev/${name} configured\n`);
  return 0;
}

/**
 * `app history NAME`: the Application's syncs, newest first — id, when, the commit and its message,
 * who started it, how it ended and how long until healthy (from the commit's ledger entry).
 */
export async function appHistory(
  client: BerthClient,
  name: string,
  o: { namespace?: string; output: OutputFormat },
  io: CommandIO,
): Promise<number> {
  const app = await client.get<App>(APPS, o.namespace ?? client.connection.namespace, name);
  const history = [...(app.status?.history ?? [])].reverse();
  if (o.output !== 'text') {
    io.stdout(renderStructured(o.output, history));
    return 0;
  }
  if (!history.length) {
    io.stderr(`${name} has not synced yet\n`);
    return 0;
  }
  const ledger = new Map((app.status?.ledger ?? []).map((e) => [e.revision, e]));
  const took = (h: (typeof history)[number]) => {
    const healthyAt = ledger.get(h.revision)?.healthyAt;
    if (!healthyAt || h.outcome !== 'Healthy') return '';
    return `${Math.max(0, Math.round((Date.parse(healthyAt) - Date.parse(h.deployedAt)) / 1000))}s`;
  };
  io.stdout(
    formatTable(
      ['ID', 'DEPLOYED', 'REVISION', 'INITIATED BY', 'RESULT', 'DURATION', 'MESSAGE'],
      history.map((h) => [
        String(h.id),
        h.deployedAt,
        h.revision.slice(0, 7),
        h.initiatedBy ?? '',
        h.outcome ?? '',
        took(h),
        (h.message ?? '').split('\n')[0]!,
      ]),
    ),
  );
  return 0;
}

/** `app manifests NAME [--revision R]`: what a sync of R would apply (Secret values masked), as YAML documents or JSON. */
export async function appManifests(
  client: BerthClient,
  name: string,
  o: { namespace?: string; revision?: string; output: 'yaml' | 'json' },
  io: CommandIO,
): Promise<number> {
  const ns = o.namespace ?? client.connection.namespace;
  const q = o.revision ? `?revision=${encodeURIComponent(o.revision)}` : '';
  const outcome = await client.request<
    { ok: true; revision: string; objects: KubeObject[] } | { ok: false; reason: string; errors: string[] }
  >('GET', `${resourcePath(APPS, ns, name, 'manifests')}${q}`);
  if (!outcome.ok) {
    for (const e of outcome.errors) io.stderr(`${e}\n`);
    return 2;
  }
  if (o.output === 'json')
    io.stdout(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: outcome.objects }, null, 2) + '\n');
  else io.stdout(outcome.objects.map((x) => stringifyYaml(x)).join('---\n'));
  return 0;
}
