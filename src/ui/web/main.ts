/**
 * The dashboard's shell: sign-in, the theme, the header and the routes. Every page has its own
 * address (deep links); links inside /ui/ change the page without reloading it.
 */
import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { get, request, type Session } from './api.js';
import { AppsPage } from './apps.js';
import { AppPage } from './app.js';
import { LogsPage } from './logs.js';
import { ClusterPage } from './cluster.js';
import { UI, navigate } from './nav.js';

function useLocation(): URL {
  const [url, setUrl] = useState(() => new URL(location.href));
  useEffect(() => {
    const changed = () => setUrl(new URL(location.href));
    addEventListener('popstate', changed);
    return () => removeEventListener('popstate', changed);
  }, []);
  return url;
}

// Links to the dashboard's own pages do not reload it (a modified click opens a tab as usual).
document.addEventListener('click', (e) => {
  const a = (e.target as Element).closest?.('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${UI}/`) || a.hasAttribute('download')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

type Theme = 'light' | 'dark';
function initialTheme(): Theme {
  const saved = localStorage.getItem('berth-theme');
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    const token = (new FormData(e.target as HTMLFormElement).get('token') as string | null) ?? '';
    try {
      onSignedIn(await request<Session>('POST', `${UI}/login`, { token }));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<main class="signin">
    <form onSubmit=${submit} aria-label="Sign in">
      <h1>Berth</h1>
      <p>Paste a token (<code>berth token create --role readonly</code>, or an admin's).</p>
      <label for="token">Token</label>
      <input id="token" name="token" type="password" autocomplete="off" required autofocus />
      <button type="submit" class="primary">Sign in</button>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>
  </main>`;
}

function Shell() {
  const url = useLocation();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  useEffect(() => {
    // Not signed in (401), or the session's token revoked: the sign-in form.
    get<Session>(`${UI}/session`).then(setSession, () => setSession(null));
  }, []);
  if (session === undefined) return html`<p class="loading">Loading…</p>`;
  if (session === null) return html`<${SignIn} onSignedIn=${setSession} />`;
  const toggleTheme = () => {
    const next = theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem('berth-theme', next);
    setTheme(next);
  };
  const signOut = async () => {
    await request('POST', `${UI}/logout`).catch(() => undefined);
    setSession(null);
  };
  const parts = url.pathname.slice(UI.length).split('/').filter(Boolean).map(decodeURIComponent);
  let page;
  if (parts[0] === 'apps' && parts.length === 3)
    page = html`<${AppPage} session=${session} namespace=${parts[1]} name=${parts[2]} query=${url.searchParams} />`;
  else if (parts[0] === 'logs' && parts.length === 3)
    page = html`<${LogsPage} namespace=${parts[1]} pod=${parts[2]} query=${url.searchParams} />`;
  else if (parts[0] === 'cluster') page = html`<${ClusterPage} />`;
  else page = html`<${AppsPage} query=${url.searchParams} />`;
  const here = (p: string) => (parts[0] ?? 'apps') === p;
  return html`<header class="top">
      <a class="brand" href="${UI}/">Berth</a>
      <nav aria-label="Pages">
        <a href="${UI}/" aria-current=${here('apps') ? 'page' : undefined}>Applications</a>
        <a href="${UI}/cluster" aria-current=${here('cluster') ? 'page' : undefined}>Cluster</a>
      </nav>
      <span class="who" title="token ${session.tokenId}">${session.role}</span>
      <button onClick=${toggleTheme} aria-label="Switch to ${theme === 'dark' ? 'light' : 'dark'} theme">
        ${theme === 'dark' ? 'Light' : 'Dark'}
      </button>
      <button onClick=${signOut}>Sign out</button>
    </header>
    <main>${page}</main>`;
}

render(html`<${Shell} />`, document.getElementById('root')!);
