/**
 * A plan as people read it in a pull request: created, changed (unified diff of the normalized
 * YAML, ~10 lines of context, "@@ skipped N lines (a -> b) @@" between hunks) and pruned objects,
 * as text, markdown (the shape Argo CD's diff preview posts) or JSON. Secret values never appear:
 * every value is `***`, and a changed one `*** (before)` / `*** (after)`, as Flux's diff does.
 */
import { structuredPatch } from 'diff';
import { stringify } from 'yaml';
import type { ImageChange } from './images.js';
import { normalizeForDiff, type Plan } from './plan.js';
import type { ObjectLike } from './tracking.js';

export interface ReportEntry {
  kind: string;
  namespace?: string;
  name: string;
  /** Changed: the unified diff; created and pruned: the object's YAML (masked). */
  diff: string;
  added: number;
  removed: number;
}

export interface DiffReport {
  revision: string;
  created: ReportEntry[];
  changed: ReportEntry[];
  pruned: ReportEntry[];
  /** The PR plan: what the sync would refuse, what would not fit or collide, which images change. */
  checks?: PlanChecks;
}

export interface PlanChecks {
  /** Why the sync would refuse the revision whole (project, Pod Security, quota, a missing namespace), file:line first. */
  refusals: string[];
  /** Today's nodes, which the pods below were placed on. */
  nodes: number;
  /** Pods the revision adds (new workloads, more replicas, a changed template's replacements), and how many found a node. */
  scheduling: { kind: string; namespace?: string; name: string; wanted: number; placed: number; message?: string }[];
  /** Host and path rules of the revision's Ingresses that an Ingress of someone else claims too. */
  ingressConflicts: {
    host: string;
    path: string;
    ours: string;
    theirs: string;
    /** The Application managing the other Ingress, if one does. */
    theirApp?: string;
    serving: string;
  }[];
  images: ImageChange[];
}

const CONTEXT = 10;

/** Secret data as `***`; values that differ between the two sides as `*** (before)`/`*** (after)`. */
function mask(
  o: ObjectLike | undefined,
  other: ObjectLike | undefined,
  side: 'before' | 'after',
): ObjectLike | undefined {
  if (!o || o.kind !== 'Secret') return o;
  const copy = structuredClone(o) as ObjectLike & {
    data?: Record<string, string>;
    stringData?: Record<string, string>;
  };
  const otherData = (other as { data?: Record<string, string> } | undefined)?.data ?? {};
  for (const field of ['data', 'stringData'] as const) {
    const values = copy[field];
    if (!values) continue;
    for (const k of Object.keys(values))
      values[k] = other && otherData[k] !== undefined && otherData[k] !== values[k] ? `*** (${side})` : '***';
  }
  return copy;
}

/** A Secret with every value shown as `***` (anything else as it is). */
export const maskSecret = (o: ObjectLike): ObjectLike => mask(o, undefined, 'after')!;

const yamlOf = (o: ObjectLike | undefined): string =>
  o ? stringify(normalizeForDiff(o), { sortMapEntries: true }) : '';

function unified(before: string, after: string): { text: string; added: number; removed: number } {
  const patch = structuredPatch('live', 'git', before, after, undefined, undefined, { context: CONTEXT });
  const lines: string[] = [];
  let added = 0;
  let removed = 0;
  patch.hunks.forEach((h, i) => {
    const prev = patch.hunks[i - 1];
    if (prev) {
      const from = prev.oldStart + prev.oldLines;
      lines.push(`@@ skipped ${h.oldStart - from} lines (${from} -> ${h.oldStart - 1}) @@`);
    }
    lines.push(`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`);
    for (const l of h.lines) {
      if (l.startsWith('\\')) continue;
      if (l.startsWith('+')) added++;
      if (l.startsWith('-')) removed++;
      lines.push(l);
    }
  });
  return { text: lines.join('\n'), added, removed };
}

const entryOf = (o: ObjectLike, diff: string, added: number, removed: number): ReportEntry => ({
  kind: o.kind,
  ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
  name: o.metadata.name,
  diff,
  added,
  removed,
});

export function diffReport(plan: Plan, revision: string): DiffReport {
  const report: DiffReport = { revision, created: [], changed: [], pruned: [] };
  for (const a of plan.waves.flatMap((w) => w.actions)) {
    if (a.type === 'create') {
      const text = yamlOf(mask(a.desired, undefined, 'after'));
      report.created.push(entryOf(a.desired, text, text.split('\n').filter(Boolean).length, 0));
    } else if (a.type === 'prune') {
      const text = yamlOf(mask(a.live, undefined, 'before'));
      report.pruned.push(entryOf(a.live, text, 0, text.split('\n').filter(Boolean).length));
    } else {
      const u = unified(yamlOf(mask(a.live, a.desired, 'before')), yamlOf(mask(a.desired, a.live, 'after')));
      report.changed.push(entryOf(a.desired, u.text, u.added, u.removed));
    }
  }
  return report;
}

export const hasDifferences = (r: DiffReport): boolean => r.created.length + r.changed.length + r.pruned.length > 0;

const title = (e: { kind: string; name: string; namespace?: string }): string =>
  `${e.kind}/${e.name}${e.namespace ? ` (${e.namespace})` : ''}`;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The plan's findings as list items (markdown-safe text, `code` spans) and whether each is a problem. */
function planLines(c: PlanChecks): { refusals: string[]; warnings: string[]; notes: string[] } {
  const unscheduled = c.scheduling.filter((s) => s.placed < s.wanted);
  const wanted = c.scheduling.reduce((n, s) => n + s.wanted, 0);
  const warnings = [
    ...unscheduled.map(
      (s) =>
        `${title(s)}: ${s.wanted - s.placed} of ${plural(s.wanted, 'new pod')} would not be scheduled: ${s.message ?? ''}`,
    ),
    ...c.ingressConflicts.map(
      (x) =>
        `Ingress ${x.ours} claims ${x.path === 'defaultBackend' ? 'the defaultBackend' : `host \`${x.host}\` path \`${x.path}\``} that ${x.theirs}${x.theirApp ? ` (Application ${x.theirApp})` : ''} claims too: ${x.serving} serves it (the older Ingress)`,
    ),
  ];
  const notes = [
    ...(wanted && !unscheduled.length
      ? [`${plural(wanted, 'new pod')} fit on today's ${plural(c.nodes, 'node')}`]
      : []),
    ...(!c.ingressConflicts.length ? ['no Ingress host or path that someone else serves'] : []),
  ];
  return { refusals: c.refusals, warnings, notes };
}

const imageRow = (i: ImageChange) =>
  `| \`${title(i)}\` | ${i.container} | ${i.from ? `\`${i.from}\`` : '(new)'} | ${i.to ? `\`${i.to}\`` : '(removed)'} |`;

/** The plan under the summary: a CAUTION when the sync would refuse, a WARNING for what would not fit or collides, the image changes. */
function renderPlanMarkdown(c: PlanChecks | undefined): string[] {
  if (!c) return [];
  const { refusals, warnings, notes } = planLines(c);
  return [
    ...(refusals.length
      ? [
          '> [!CAUTION]',
          `> **The sync would refuse this revision: nothing of it would be applied (${plural(refusals.length, 'violation')}).**`,
          '>',
          ...refusals.map((r) => `> - ${r.replace(/\n/g, ' ')}`),
          '',
        ]
      : []),
    ...(warnings.length ? ['> [!WARNING]', ...warnings.map((w) => `> - ${w}`), ''] : []),
    ...(notes.length ? [...notes.map((n) => `- ${n}`), ''] : []),
    ...(c.images.length
      ? [
          'Images:',
          '',
          '| Workload | Container | Now | After |',
          '| --- | --- | --- | --- |',
          ...c.images.map(imageRow),
          '',
        ]
      : []),
  ];
}

function renderPlanText(c: PlanChecks | undefined): string[] {
  if (!c) return [];
  const { refusals, warnings, notes } = planLines(c);
  const plain = (s: string) => s.replace(/`/g, '');
  return [
    ...refusals.map((r) => `refused: ${r}`),
    ...warnings.map((w) => `warning: ${plain(w)}`),
    ...notes.map((n) => `ok: ${n}`),
    ...c.images.map((i) => `image: ${title(i)} ${i.container}: ${i.from ?? '(new)'} -> ${i.to ?? '(removed)'}`),
  ];
}

export function renderText(r: DiffReport): string {
  const plan = renderPlanText(r.checks);
  if (!hasDifferences(r)) return [`no differences at ${r.revision.slice(0, 7)}`, ...plan, ''].join('\n');
  const out: string[] = [];
  for (const e of r.created)
    out.push(
      `+ ${title(e)} (created)`,
      ...e.diff
        .trimEnd()
        .split('\n')
        .map((l) => `+ ${l}`),
      '',
    );
  for (const e of r.changed) out.push(`± ${title(e)} (+${e.added}|-${e.removed})`, e.diff, '');
  for (const e of r.pruned)
    out.push(
      `- ${title(e)} (pruned)`,
      ...e.diff
        .trimEnd()
        .split('\n')
        .map((l) => `- ${l}`),
      '',
    );
  out.push(
    `${r.created.length} created, ${r.changed.length} changed, ${r.pruned.length} pruned at ${r.revision.slice(0, 7)}`,
    ...plan,
  );
  return out.join('\n') + '\n';
}

/** GitHub refuses a comment over 65,536 characters. */
export const MAX_COMMENT_CHARS = 65_536;

export interface MarkdownOptions {
  /** Each resource's diff is cut after this many characters, with a note saying so. */
  maxDiffLength?: number;
  /** Past this size the comment is split into parts at resource boundaries (default: GitHub's cap). */
  maxCommentChars?: number;
}

export function renderMarkdown(r: DiffReport, app: string, o: MarkdownOptions = {}): string {
  return renderMarkdownParts(r, app, { ...o, maxCommentChars: Infinity })[0]!;
}

/**
 * The PR comment in argocd-diff-preview's layout (see ../shared/PR-DIFF.md): a summary, then one
 * `#### Kind/name` block per resource inside `<details>`. Long diffs are cut at maxDiffLength; a
 * comment over maxCommentChars becomes several, split between resource blocks, each part closing
 * and re-opening its `<details>` so every part renders on its own.
 */
export function renderMarkdownParts(r: DiffReport, app: string, o: MarkdownOptions = {}): string[] {
  const limit = o.maxCommentChars ?? MAX_COMMENT_CHARS;
  const total = r.created.length + r.changed.length + r.pruned.length;
  const summary = [
    `Total: ${total} resource${total === 1 ? '' : 's'} changed`,
    ...(r.created.length
      ? ['', `Added (${r.created.length}):`, ...r.created.map((e) => `+ ${title(e)} (+${e.added})`)]
      : []),
    ...(r.pruned.length
      ? ['', `Deleted (${r.pruned.length}):`, ...r.pruned.map((e) => `- ${title(e)} (-${e.removed})`)]
      : []),
    ...(r.changed.length
      ? ['', `Modified (${r.changed.length}):`, ...r.changed.map((e) => `± ${title(e)} (+${e.added}|-${e.removed})`)]
      : []),
  ];
  const cut = (diff: string, max: number): string =>
    diff.length <= max
      ? diff
      : `${diff.slice(0, diff.lastIndexOf('\n', max) + 1 || max)}@@ diff cut: ${diff.length - max} more characters (berth app diff ${app} --revision ${r.revision.slice(0, 7)} shows it whole) @@\n`;
  const block = (e: ReportEntry, prefix: string, max: number) =>
    [
      `#### ${title(e)}`,
      '```diff',
      cut(
        prefix
          ? e.diff
              .trimEnd()
              .split('\n')
              .map((l) => `${prefix}${l}`)
              .join('\n') + '\n'
          : e.diff,
        max,
      ).trimEnd(),
      '```',
      '',
    ].join('\n');
  const head = (part: number) =>
    [
      `## Berth Diff Preview${part > 1 ? ` (part ${part})` : ''}`,
      '',
      `Application \`${app}\` at \`${r.revision.slice(0, 7)}\``,
      '',
      ...(part === 1 ? ['Summary:', '```yaml', ...summary, '```', '', ...renderPlanMarkdown(r.checks)] : []),
    ].join('\n') + '\n';
  const open = ['<details>', `<summary>${app}</summary>`, '<br>', '', ''].join('\n');
  const close = '</details>\n';
  if (!total) return [head(1)];
  const blocks = [
    ...r.created.map((e) => [e, '+'] as const),
    ...r.changed.map((e) => [e, ''] as const),
    ...r.pruned.map((e) => [e, '-'] as const),
  ];
  const parts: string[] = [];
  let current = head(1) + open;
  let inPart = 0;
  for (const [e, prefix] of blocks) {
    // Room for a block in an empty part: what is left of the limit after the part's frame.
    const room = Math.max(200, limit - head(2).length - open.length - close.length - 200);
    let text = block(e, prefix, Math.min(o.maxDiffLength ?? Infinity, room));
    if (inPart > 0 && current.length + text.length + close.length > limit) {
      parts.push(current + close);
      current = head(parts.length + 1) + open;
      inPart = 0;
    }
    if (current.length + text.length + close.length > limit)
      text = block(e, prefix, Math.max(0, limit - current.length - close.length - 400));
    current += text;
    inPart++;
  }
  parts.push(current + close);
  return parts;
}

/**
 * The PR comment when there is nothing to diff: the revision's manifests are invalid (each error
 * with its file:line) or the source could not be read. A CAUTION alert, as GitHub and Gitea
 * render it, so the PR shows why instead of an empty comment.
 */
export function renderFailureMarkdown(app: string, failure: { reason: string; errors: string[] }): string {
  const headline =
    failure.reason === 'InvalidManifests'
      ? 'The revision has invalid manifests: nothing would be synced.'
      : 'The source could not be read: nothing would be synced.';
  return [
    '## Berth Diff Preview',
    '',
    `Application \`${app}\``,
    '',
    '> [!CAUTION]',
    `> **${headline}**`,
    '>',
    ...failure.errors.map((e) => `> - ${e.replace(/\n/g, ' ')}`),
    '',
  ].join('\n');
}
