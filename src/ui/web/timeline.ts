/**
 * The commit ledger as a timeline, newest first: when each commit was seen, synced, healthy and
 * serving (and how long each step took), the commit status posted for it, and its sync history
 * entry with a Roll back button for the ones the app is not at.
 */
import { html } from 'htm/preact';
import type { KubeObject } from './api.js';
import { duration, short } from './format.js';

interface LedgerEntry {
  revision: string;
  seenAt?: string;
  syncedAt?: string;
  healthyAt?: string;
  servingAt?: string;
  state?: string;
  description?: string;
  notified?: string;
}
interface HistoryEntry {
  id: number;
  revision: string;
  deployedAt: string;
  message?: string;
  author?: string;
  initiatedBy?: string;
  outcome?: string;
}

const STEPS = [
  ['seenAt', 'seen'],
  ['syncedAt', 'synced'],
  ['healthyAt', 'healthy'],
  ['servingAt', 'serving'],
] as const;

export function Timeline({
  app,
  canAct,
  onRollback,
}: {
  app: KubeObject;
  canAct: boolean;
  onRollback: (revision: string, message: string) => void;
}) {
  const ledger: LedgerEntry[] = [...(app.status?.ledger ?? [])].reverse();
  const history: HistoryEntry[] = app.status?.history ?? [];
  const current = app.status?.sync?.revision;
  const revisions = [...new Set([...ledger.map((l) => l.revision), ...[...history].reverse().map((h) => h.revision)])];
  return html`<ol class="timeline" data-testid="timeline">
    ${revisions.map((revision) => {
      const entry = ledger.find((l) => l.revision === revision);
      const synced = [...history].reverse().find((h) => h.revision === revision);
      let previous: number | undefined;
      return html`<li class=${revision === current ? 'current' : ''} data-revision=${revision}>
        <div class="bar">
          <div>
            <code title=${revision}>${short(revision)}</code>
            ${synced?.message && html` <span>${synced.message.split('\n')[0]}</span>`}
            ${synced?.author && html` <span class="muted">by ${synced.author}</span>`}
            ${revision === current && html` <span class="tag">current</span>`}
          </div>
          ${
            canAct &&
            synced &&
            revision !== current &&
            html`<button
              data-action="Roll back"
              data-rollback=${revision}
              onClick=${() => onRollback(revision, synced.message?.split('\n')[0] ?? '')}
            >
              Roll back
            </button>`
          }
        </div>
        <ol class="steps">
          ${STEPS.map(([field, label]) => {
            const at = entry?.[field];
            if (!at) return html`<li class="step pending">${label}</li>`;
            const t = Date.parse(at);
            const took = previous !== undefined ? ` (+${duration(t - previous)})` : '';
            previous = t;
            return html`<li class="step done" title=${at}>${label}${took}</li>`;
          })}
        </ol>
        <p class="muted">
          ${entry?.state ?? synced?.outcome ?? ''}${entry?.description ? `: ${entry.description}` : ''}
          ${entry?.notified ? ` · commit status ${entry.notified}` : ''}
          ${synced ? ` · sync #${synced.id}${synced.initiatedBy ? ` by ${synced.initiatedBy}` : ''}` : ''}
        </p>
      </li>`;
    })}
  </ol>`;
}
