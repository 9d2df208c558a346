/**
 * A diff of Git against the cluster, as the PR comment shows it: created, changed and pruned
 * objects, each a collapsible block of unified diff (Secret values masked by the server), with
 * collapse-all and expand-all; then what the sync would refuse and what would not fit.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { short } from './format.js';

interface Entry {
  kind: string;
  namespace?: string;
  name: string;
  diff: string;
  added: number;
  removed: number;
}
export type DiffOutcome =
  | {
      ok: true;
      report: {
        revision: string;
        created: Entry[];
        changed: Entry[];
        pruned: Entry[];
        checks?: {
          refusals: string[];
          scheduling: { kind: string; name: string; wanted: number; placed: number; message?: string }[];
        };
      };
    }
  | { ok: false; reason: string; errors: string[] };

const lineClass = (line: string) =>
  line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : line.startsWith('@@') ? 'hunk' : '';

export function DiffView({ outcome }: { outcome: DiffOutcome }) {
  // A generation counter: each collapse/expand-all redraws every block with that state.
  const [all, setAll] = useState<{ open: boolean; generation: number }>({ open: true, generation: 0 });
  if (!outcome.ok)
    return html`<div class="error" role="alert">
      <strong>${outcome.reason}</strong>${outcome.errors.map((e) => html`<pre>${e}</pre>`)}
    </div>`;
  const r = outcome.report;
  const sections: [string, Entry[]][] = [
    ['Created', r.created],
    ['Changed', r.changed],
    ['Pruned', r.pruned],
  ];
  const total = r.created.length + r.changed.length + r.pruned.length;
  const checks = r.checks;
  const unscheduled = (checks?.scheduling ?? []).filter((s) => s.placed < s.wanted);
  return html`<div class="diff" data-testid="diff">
    <div class="bar">
      <p>
        Revision <code>${short(r.revision)}</code>:
        ${total ? `${total} object${total === 1 ? '' : 's'} would change` : 'in sync, nothing would change'}
      </p>
      <div class="buttons">
        <button onClick=${() => setAll({ open: false, generation: all.generation + 1 })}>Collapse all</button>
        <button onClick=${() => setAll({ open: true, generation: all.generation + 1 })}>Expand all</button>
      </div>
    </div>
    ${(checks?.refusals ?? []).map((x) => html`<p class="error">Would be refused: ${x}</p>`)}
    ${unscheduled.map((s) => html`<p class="warn">${s.kind} ${s.name}: ${s.wanted - s.placed} of ${s.wanted} new pods would not be scheduled${s.message ? ` (${s.message})` : ''}</p>`)}
    ${sections.map(
      ([title, entries]) =>
        entries.length > 0 &&
        html`<h3>${title} <span class="count">${entries.length}</span></h3>
          ${entries.map(
            (e) =>
              html`<details
                key=${`${all.generation}-${e.kind}-${e.namespace}-${e.name}`}
                open=${all.open}
                class="diff-entry"
              >
                <summary>
                  <strong>${e.kind}</strong> ${e.namespace ? `${e.namespace}/` : ''}${e.name}${' '}
                  <span class="add">+${e.added}</span> <span class="del">−${e.removed}</span>
                </summary>
                <pre>${e.diff.split('\n').map((l) => html`<span class=${lineClass(l)}>${`${l}\n`}</span>`)}</pre>
              </details>`,
          )}`,
    )}
  </div>`;
}
