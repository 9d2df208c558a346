/** The dashboard's addresses: every page has its own (deep links), changed without a reload. */
export const UI = '/ui';

/** `replace`: the same page with other settings (a filter typed in), not a step back can undo. */
export function navigate(href: string, o: { replace?: boolean } = {}): void {
  if (o.replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  dispatchEvent(new PopStateEvent('popstate'));
}

export const appHref = (namespace: string, name: string, query = '') =>
  `${UI}/apps/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}${query}`;
export const logsHref = (namespace: string, pod: string, container?: string) =>
  `${UI}/logs/${encodeURIComponent(namespace)}/${encodeURIComponent(pod)}${container ? `?container=${encodeURIComponent(container)}` : ''}`;
