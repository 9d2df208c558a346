/**
 * The dashboard talks to Berth's ordinary API, signed by its session cookie; every write carries
 * the CSRF header the server asks of cookie-signed writes. Lists are kept live with watches.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';

export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { kind: string; name: string; uid?: string }[];
}
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec?: any;
  status?: any;
  [k: string]: unknown;
}

export const CSRF_HEADER = 'x-berth-csrf';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function failure(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    return new ApiError(res.status, (JSON.parse(text) as { message?: string }).message ?? text);
  } catch {
    return new ApiError(res.status, text || res.statusText);
  }
}

export async function request<T = any>(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      Accept: 'application/json',
      ...(method === 'GET' ? {} : { [CSRF_HEADER]: '1' }),
      ...(body !== undefined ? { 'Content-Type': contentType } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export const get = <T = any>(path: string) => request<T>('GET', path);
export const mergePatch = (path: string, body: unknown) => request('PATCH', path, body, 'application/merge-patch+json');

/**
 * Streams end when the page is left. A page kept in the back/forward cache would otherwise keep
 * its watches open, and with them the browser's connections to this host (six at most): the next
 * pages would wait for a connection that never comes. Shown again from that cache, the page is
 * loaded anew (its lists would be stale).
 */
const pageShown = new AbortController();
addEventListener('pagehide', () => pageShown.abort());
addEventListener('pageshow', (e) => {
  if (e.persisted) location.reload();
});

/** Lines of a streamed response (watches, followed logs) until it ends, `signal` aborts or the page is left. */
export async function* streamLines(path: string, signal: AbortSignal): AsyncGenerator<string> {
  const res = await fetch(path, { credentials: 'same-origin', signal: AbortSignal.any([signal, pageShown.signal]) });
  if (!res.ok || !res.body) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        yield buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
      }
    }
    if (buffered) yield buffered;
  } finally {
    reader.releaseLock();
  }
}

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/**
 * A list kept live: listed, then watched from the list's revision; on a watch that ends or fails
 * (a compaction, the server restarting) listed again after a pause. Objects by namespace/name.
 */
export function useLiveList(path: string | undefined): {
  items: Map<string, KubeObject>;
  error?: string;
  loaded: boolean;
} {
  const [state, setState] = useState<{ items: Map<string, KubeObject>; error?: string; loaded: boolean }>({
    items: new Map(),
    loaded: false,
  });
  useEffect(() => {
    if (!path) return;
    const abort = new AbortController();
    const sep = path.includes('?') ? '&' : '?';
    void (async () => {
      while (!abort.signal.aborted) {
        try {
          const list = await get<{ items: KubeObject[]; metadata: { resourceVersion: string } }>(path);
          const items = new Map(list.items.map((o) => [keyOf(o), o]));
          setState({ items: new Map(items), loaded: true });
          let rv = list.metadata.resourceVersion;
          const url = () => `${path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${rv}`;
          // Events come in bursts (a rollout): the view is redrawn once a frame at most.
          let pending = false;
          const flush = () => {
            pending = false;
            setState({ items: new Map(items), loaded: true });
          };
          for await (const line of streamLines(url(), abort.signal)) {
            if (!line.trim()) continue;
            const event = JSON.parse(line) as { type: string; object: KubeObject };
            if (event.type === 'ERROR') break;
            rv = event.object.metadata.resourceVersion ?? rv;
            if (event.type === 'BOOKMARK') continue;
            if (event.type === 'DELETED') items.delete(keyOf(event.object));
            else items.set(keyOf(event.object), event.object);
            if (!pending) {
              pending = true;
              requestAnimationFrame(flush);
            }
          }
        } catch (e) {
          if (abort.signal.aborted) return;
          setState((s) => ({ ...s, error: (e as Error).message }));
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    return () => abort.abort();
  }, [path]);
  return state;
}

/**
 * A list fetched again every `everyMs`, for what may lag a few seconds. Browsers open at most six
 * HTTP/1.1 connections to a host and a watch holds one for as long as it runs, so a page keeps
 * at most three watches (the rest of the six serve its requests and a second tab) and polls the rest.
 */
export function usePolled<T>(path: string | undefined, everyMs: number): T | undefined {
  const [value, setValue] = useState<T | undefined>();
  useEffect(() => {
    if (!path) return;
    let stopped = false;
    const tick = () =>
      get<T>(path).then(
        (v) => !stopped && setValue(v),
        () => undefined,
      );
    void tick();
    const timer = setInterval(() => void tick(), everyMs);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [path]);
  return value;
}

export function usePolledList(path: string | undefined, everyMs: number): { items: Map<string, KubeObject> } {
  const list = usePolled<{ items: KubeObject[] }>(path, everyMs);
  const items = useMemo(() => new Map((list?.items ?? []).map((o) => [keyOf(o), o])), [list]);
  return { items };
}

/** One object kept live (a watch of its name). */
export function useLiveObject(listPath: string | undefined, name: string | undefined) {
  const { items, error, loaded } = useLiveList(
    listPath && name ? `${listPath}?fieldSelector=metadata.name%3D${encodeURIComponent(name)}` : undefined,
  );
  return { object: [...items.values()][0], error, loaded };
}

export interface Session {
  tokenId: string;
  role: string;
}
export const mayAct = (s: Session) => s.role === 'admin';

/** Where a kind's objects are, from the API's discovery documents (fetched once per group version). */
const discovered = new Map<string, Promise<{ kind: string; name: string; namespaced: boolean }[]>>();
export async function resourcePath(
  apiVersion: string,
  kind: string,
  namespace: string | undefined,
  name?: string,
): Promise<string | undefined> {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  let resources = discovered.get(base);
  if (!resources) {
    resources = get<{ resources: { kind: string; name: string; namespaced: boolean }[] }>(base).then((d) =>
      d.resources.filter((r) => !r.name.includes('/')),
    );
    discovered.set(base, resources);
  }
  const r = (await resources).find((x) => x.kind === kind);
  if (!r) return undefined;
  const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${r.name}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

/** The preferred version of each API group (for resources that name only their group). */
let groups: Promise<Map<string, string>> | undefined;
export async function apiVersionOf(group: string | undefined): Promise<string> {
  if (!group) return 'v1';
  groups ??= get<{ groups: { name: string; preferredVersion: { groupVersion: string } }[] }>('/apis').then(
    (l) => new Map(l.groups.map((g) => [g.name, g.preferredVersion.groupVersion])),
  );
  return (await groups).get(group) ?? `${group}/v1`;
}
