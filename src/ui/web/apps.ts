/**
 * Every Application at a glance: health and sync, the revision and its commit message, the image
 * tags its workloads run, how long ago it last synced. Filters live in the address (deep links);
 * the apps that need someone come first (Degraded, then Missing, Progressing, OutOfSync).
 */
import { html } from 'htm/preact';
import { useMemo } from 'preact/hooks';
import { useLiveList, usePolledList, type KubeObject } from './api.js';
import { age, short } from './format.js';
import { UI, appHref, navigate } from './nav.js';

export const APPS_PATH = '/apis/berth.dev/v1/applications';
const TRACKING = 'berth.dev/tracking-id';
const WORKLOADS = ['/apis/apps/v1/deployments', '/apis/apps/v1/statefulsets', '/apis/apps/v1/daemonsets'];

const URGENCY: Record<string, number> = {
  Degraded: 0,
  Missing: 1,
  Unknown: 2,
  Progressing: 3,
  Suspended: 4,
  Healthy: 5,
};
export const healthOf = (app: KubeObject): string => app.status?.health?.status ?? 'Unknown';
export const syncOf = (app: KubeObject): string => app.status?.sync?.status ?? 'Unknown';
const urgency = (app: KubeObject) => (URGENCY[healthOf(app)] ?? 2) * 2 + (syncOf(app) === 'Synced' ? 1 : 0);

/** The image tags an app's workloads run (`name:tag`, the registry left out), from their tracking annotations. */
function useImagesByApp(): Map<string, string[]> {
  const lists = WORKLOADS.map((p) => usePolledList(p, 10_000));
  return useMemo(
    () => {
      const byApp = new Map<string, Set<string>>();
      for (const { items } of lists)
        for (const o of items.values()) {
          const tracking = o.metadata.annotations?.[TRACKING];
          if (!tracking) continue;
          const app = tracking.slice(0, tracking.indexOf(':'));
          const set = byApp.get(app) ?? new Set();
          for (const c of o.spec?.template?.spec?.containers ?? []) set.add(String(c.image).split('/').pop()!);
          byApp.set(app, set);
        }
      return new Map([...byApp].map(([k, v]) => [k, [...v].sort()]));
    },
    lists.map((l) => l.items),
  );
}

export const Badge = ({ value, kind }: { value: string; kind: 'health' | 'sync' | 'phase' }) =>
  html`<span class="badge ${kind} s-${value.toLowerCase()}">${value}</span>`;

function matches(app: KubeObject, q: URLSearchParams): boolean {
  const status = q.get('status');
  if (status && healthOf(app) !== status && syncOf(app) !== status) return false;
  const ns = q.get('namespace');
  if (ns && app.metadata.namespace !== ns) return false;
  const project = q.get('project');
  if (project && (app.spec?.project ?? 'default') !== project) return false;
  const label = q.get('label');
  if (label) {
    const labels = app.metadata.labels ?? {};
    for (const term of label
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean)) {
      const [k, v] = term.split('=');
      if (v === undefined ? !(k! in labels) : labels[k!.trim()] !== v.trim()) return false;
    }
  }
  const text = q.get('q');
  return !text || app.metadata.name.includes(text);
}

export function AppsPage({ query }: { query: URLSearchParams }) {
  const { items, error, loaded } = useLiveList(APPS_PATH);
  const images = useImagesByApp();
  const apps = [...items.values()];
  const shown = apps
    .filter((a) => matches(a, query))
    .sort((a, b) => urgency(a) - urgency(b) || a.metadata.name.localeCompare(b.metadata.name));
  const namespaces = [...new Set(apps.map((a) => a.metadata.namespace ?? 'default'))].sort();
  const projects = [...new Set(apps.map((a) => a.spec?.project ?? 'default'))].sort();
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set(key, value);
    else next.delete(key);
    navigate(`${UI}/${next.size ? `?${next}` : ''}`, { replace: true });
  };
  const select = (key: string, label: string, options: string[]) =>
    html`<label
      >${label}
      <select value=${query.get(key) ?? ''} onChange=${(e: Event) => set(key, (e.target as HTMLSelectElement).value)}>
        <option value="">all</option>
        ${options.map((o) => html`<option value=${o}>${o}</option>`)}
      </select>
    </label>`;
  const now = Date.now();
  return html`<section aria-labelledby="apps-title">
    <div class="bar">
      <h1 id="apps-title">Applications <span class="count">${shown.length} of ${apps.length}</span></h1>
      <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
        <label
          >Name
          <input
            type="search"
            value=${query.get('q') ?? ''}
            onInput=${(e: Event) => set('q', (e.target as HTMLInputElement).value)}
        /></label>
        ${select('status', 'Status', ['Degraded', 'Missing', 'Progressing', 'Healthy', 'Suspended', 'OutOfSync', 'Synced'])}
        ${select('namespace', 'Namespace', namespaces)} ${select('project', 'Project', projects)}
        <label
          >Labels
          <input
            value=${query.get('label') ?? ''}
            placeholder="team=web"
            onChange=${(e: Event) => set('label', (e.target as HTMLInputElement).value)}
        /></label>
      </form>
    </div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${loaded && !apps.length && html`<p class="empty">No Applications yet: <code>berth app create NAME --repo URL --path DIR</code>.</p>`}
    <ul class="tiles" data-testid="apps">
      ${shown.map((app) => {
        const ns = app.metadata.namespace ?? 'default';
        const history = app.status?.history ?? [];
        const last = history[history.length - 1];
        const revision = app.status?.sync?.revision;
        const tags = images.get(`${ns}/${app.metadata.name}`) ?? [];
        return html`<li class="tile h-${healthOf(app).toLowerCase()}" data-app=${`${ns}/${app.metadata.name}`}>
          <a href=${appHref(ns, app.metadata.name)}>
            <div class="tile-head"><strong>${app.metadata.name}</strong> <span class="ns">${ns}</span></div>
            <div><${Badge} kind="health" value=${healthOf(app)} /> <${Badge} kind="sync" value=${syncOf(app)} /></div>
            <div class="commit" title=${last?.message ?? ''}>
              <code>${short(revision)}</code> ${(last?.message ?? '').split('\n')[0]}
            </div>
            ${tags.length > 0 && html`<div class="images">${tags.slice(0, 4).map((t) => html`<span class="tag">${t}</span>`)}${tags.length > 4 ? ` +${tags.length - 4}` : ''}</div>`}
            <div class="muted">${last ? `synced ${age(last.deployedAt, now)} ago` : 'not synced yet'}</div>
          </a>
        </li>`;
      })}
    </ul>
  </section>`;
}
