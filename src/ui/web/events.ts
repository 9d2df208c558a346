/** Events as the app's resource panel and the cluster page list them: newest first, warnings marked. */
import { html } from 'htm/preact';
import type { KubeObject } from './api.js';
import { age } from './format.js';
import { logsHref } from './nav.js';

const when = (e: any): string => String(e.lastTimestamp ?? e.eventTime ?? '');

export const newestFirst = (events: Iterable<KubeObject>): KubeObject[] =>
  [...events].sort((a, b) => when(b).localeCompare(when(a)));

/** `withObject`: say what each Event is about (a pod's name links to its logs); a resource's own panel need not. */
export function EventList({ events, withObject }: { events: KubeObject[]; withObject?: boolean }) {
  return html`<ul class="events" data-testid=${withObject ? 'events' : undefined}>
    ${events.map((e: any) => {
      const o = e.involvedObject ?? {};
      const what = !withObject
        ? ''
        : o.kind === 'Pod'
          ? html`<a href=${logsHref(o.namespace ?? 'default', o.name)}>Pod ${o.name}</a> `
          : `${o.kind} ${o.name} `;
      return html`<li class=${e.type === 'Warning' ? 'warn' : ''}>
        <span class="muted">${age(when(e) || undefined)} ago</span> ${what}<strong>${e.reason}</strong> ${e.message}
        ${e.count > 1 ? html` <span class="muted">×${e.count}</span>` : ''}
      </li>`;
    })}
  </ul>`;
}
