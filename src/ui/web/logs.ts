/**
 * A pod's logs: followed live, or the previous container's; since a time; filtered as they come;
 * with timestamps; downloadable. Everything chosen is in the address, so a link opens the same view.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, streamLines, type KubeObject } from './api.js';
import { UI, navigate } from './nav.js';

const SINCE = [
  ['', 'all'],
  ['300', '5 minutes'],
  ['3600', '1 hour'],
  ['86400', '1 day'],
];
/** Lines kept on screen: a chatty pod followed for an hour does not grow the page without bound. */
const KEEP = 5000;

export function LogsPage({ namespace, pod, query }: { namespace: string; pod: string; query: URLSearchParams }) {
  const [object, setObject] = useState<KubeObject | undefined>();
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState('');
  const bottom = useRef<HTMLDivElement>(null);
  const container = query.get('container') ?? '';
  const follow = query.get('follow') !== 'false';
  const previous = query.get('previous') === 'true';
  const timestamps = query.get('timestamps') === 'true';
  const since = query.get('since') ?? '';
  const filter = query.get('filter') ?? '';
  const podPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}`;
  useEffect(() => {
    get<KubeObject>(podPath).then(setObject, (e: unknown) => setError((e as Error).message));
  }, [podPath]);
  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    setError('');
    const q = new URLSearchParams();
    if (container) q.set('container', container);
    if (follow && !previous) q.set('follow', 'true');
    if (previous) q.set('previous', 'true');
    if (timestamps) q.set('timestamps', 'true');
    if (since) q.set('sinceSeconds', since);
    void (async () => {
      let buffer: string[] = [];
      let pending = false;
      try {
        for await (const line of streamLines(`${podPath}/log?${q}`, abort.signal)) {
          buffer.push(line);
          if (!pending) {
            pending = true;
            // Drawn once a frame: a burst of lines is one redraw.
            requestAnimationFrame(() => {
              pending = false;
              const add = buffer;
              buffer = [];
              setLines((old) => [...old, ...add].slice(-KEEP));
            });
          }
        }
      } catch (e) {
        if (!abort.signal.aborted) setError((e as Error).message);
      }
    })();
    return () => abort.abort();
  }, [podPath, container, follow, previous, timestamps, since]);
  useEffect(() => {
    if (follow) bottom.current?.scrollIntoView({ block: 'end' });
  }, [lines.length, follow]);
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set(key, value);
    else next.delete(key);
    navigate(`${UI}/logs/${encodeURIComponent(namespace)}/${encodeURIComponent(pod)}${next.size ? `?${next}` : ''}`, {
      replace: true,
    });
  };
  const shown = filter ? lines.filter((l) => l.includes(filter)) : lines;
  const containers: string[] = (object?.spec?.containers ?? []).map((c: { name: string }) => c.name);
  // The file is made when asked for, from the lines shown (filter included).
  const download = () => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([shown.join('\n') + '\n'], { type: 'text/plain' }));
    a.download = `${pod}${container ? `-${container}` : ''}.log`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };
  return html`<section class="logs" aria-labelledby="logs-title">
    <div class="bar">
      <h1 id="logs-title">Logs of ${pod} <span class="ns">${namespace}</span></h1>
    </div>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      ${
        containers.length > 1 &&
        html`<label
          >Container
          <select value=${container} onChange=${(e: Event) => set('container', (e.target as HTMLSelectElement).value)}>
            ${containers.map((c) => html`<option value=${c}>${c}</option>`)}
          </select>
        </label>`
      }
      <label
        ><input
          type="checkbox"
          checked=${follow}
          onChange=${(e: Event) => set('follow', (e.target as HTMLInputElement).checked ? '' : 'false')}
        />
        Follow</label
      >
      <label
        ><input
          type="checkbox"
          checked=${previous}
          onChange=${(e: Event) => set('previous', (e.target as HTMLInputElement).checked ? 'true' : '')}
        />
        Previous container</label
      >
      <label
        ><input
          type="checkbox"
          checked=${timestamps}
          onChange=${(e: Event) => set('timestamps', (e.target as HTMLInputElement).checked ? 'true' : '')}
        />
        Timestamps</label
      >
      <label
        >Since
        <select value=${since} onChange=${(e: Event) => set('since', (e.target as HTMLSelectElement).value)}>
          ${SINCE.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
        </select>
      </label>
      <label
        >Filter
        <input
          type="search"
          value=${filter}
          onInput=${(e: Event) => set('filter', (e.target as HTMLInputElement).value)}
      /></label>
      <button type="button" onClick=${download}>Download</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <pre class="log" data-testid="log" aria-live="off">${shown.join('\n')}</pre>
    <div ref=${bottom} class="muted">
      ${shown.length} line${shown.length === 1 ? '' : 's'}${follow && !previous ? ' · following' : ''}
    </div>
  </section>`;
}
