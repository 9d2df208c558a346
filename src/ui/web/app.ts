/**
 * One Application: its resources as a tree (workloads with their ReplicaSets and pods; large
 * groups start collapsed) or a sortable table, a resource's live and desired YAML with its diff
 * and Events, the diff of the branch's head, the commit ledger as a timeline, and the actions an
 * admin may take — each confirmed first, its result said.
 */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import {
  apiVersionOf,
  get,
  mayAct,
  mergePatch,
  request,
  resourcePath,
  useLiveList,
  useLiveObject,
  usePolledList,
  type KubeObject,
  type Session,
} from './api.js';
import { Badge, healthOf, syncOf } from './apps.js';
import { age, short, toYaml } from './format.js';
import { DiffView, type DiffOutcome } from './diff.js';
import { appHref, logsHref } from './nav.js';
import { Timeline } from './timeline.js';
import { EventList, newestFirst } from './events.js';

const SYNC_REQUESTED = 'berth.dev/sync-requested';
const REFRESH_REQUESTED = 'berth.dev/refresh-requested';
const ROLLBACK = 'berth.dev/rollback';
const SYNC_REVISION = 'berth.dev/sync-revision';
const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
/** Groups larger than this start collapsed: a 2,000-object app stays one screen. */
const OPEN_GROUP_LIMIT = 20;
const TABLE_PAGE = 200;

interface Resource {
  group?: string;
  kind: string;
  namespace?: string;
  name: string;
  status?: string;
  health?: string;
}

export interface Action {
  label: string;
  /** What the confirmation says will happen. */
  explain: string;
  run: () => Promise<string>;
}

interface Condition {
  type: string;
  status?: string;
  message?: string;
}
/** Ready=False, or an error condition that holds (SyncError, ComparisonError, …); the rest is news, not trouble. */
const failing = (c: Condition) =>
  c.type === 'Ready'
    ? c.status === 'False'
    : /Error|Failed|Stalled|Invalid|Conflict/.test(c.type) && c.status !== 'False';

const appsPath = (ns: string) => `/apis/berth.dev/v1/namespaces/${encodeURIComponent(ns)}/applications`;
const resourceKey = (r: { kind: string; namespace?: string; name: string }) =>
  `${r.kind}/${r.namespace ?? ''}/${r.name}`;

/** Asks before it acts, then says what came of it (role=status, for screen readers too). */
export function useConfirm() {
  const [pending, setPending] = useState<Action | undefined>();
  const [result, setResult] = useState<{ ok: boolean; text: string } | undefined>();
  const ask = (a: Action) => {
    setResult(undefined);
    setPending(a);
  };
  const view = html`${
    pending &&
    html`<div
      class="modal"
      role="dialog"
      aria-modal="true"
      aria-labelledby="confirm-title"
      onKeyDown=${(e: KeyboardEvent) => e.key === 'Escape' && setPending(undefined)}
    >
      <div class="modal-box">
        <h2 id="confirm-title">${pending.label}?</h2>
        <p>${pending.explain}</p>
        <div class="buttons">
          <button
            class="primary"
            data-confirm
            autofocus
            onClick=${async () => {
              const a = pending;
              setPending(undefined);
              try {
                setResult({ ok: true, text: await a.run() });
              } catch (e) {
                setResult({ ok: false, text: `${a.label} failed: ${(e as Error).message}` });
              }
            }}
          >
            ${pending.label}
          </button>
          <button onClick=${() => setPending(undefined)}>Cancel</button>
        </div>
      </div>
    </div>`
  }
  ${result && html`<p class=${result.ok ? 'result' : 'error'} role="status" data-testid="action-result">${result.text}</p>`}`;
  return { ask, view };
}

export function AppPage({
  session,
  namespace,
  name,
  query,
}: {
  session: Session;
  namespace: string;
  name: string;
  query: URLSearchParams;
}) {
  const { object: app, error, loaded } = useLiveObject(appsPath(namespace), name);
  const { ask, view: confirmView } = useConfirm();
  if (!app)
    return loaded
      ? html`<p class="error">Application ${namespace}/${name} not found${error ? `: ${error}` : ''}.</p>`
      : html`<p class="loading">Loading…</p>`;
  const path = `${appsPath(namespace)}/${encodeURIComponent(name)}`;
  const here = (q: Record<string, string | undefined>) => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(q)) v === undefined ? next.delete(k) : next.set(k, v);
    return appHref(namespace, name, next.size ? `?${next}` : '');
  };
  const annotations = app.metadata.annotations ?? {};
  const pinned = annotations[ROLLBACK] ?? annotations[SYNC_REVISION];
  const now = () => new Date().toISOString();
  const actions: Action[] = mayAct(session)
    ? [
        {
          label: 'Sync',
          // A sync by hand prunes whatever the policy says, as `berth app sync` does.
          explain: `Apply the head of ${app.spec?.source?.targetRevision ?? 'the tracked branch'} to the cluster now, and delete the objects Git no longer has. (Diff shows what it would do.)`,
          run: async () => {
            await mergePatch(path, { metadata: { annotations: { [SYNC_REQUESTED]: now() } } });
            return `sync of ${name} requested`;
          },
        },
        {
          label: 'Refresh',
          explain: 'Fetch the repository again and compare, as a push would.',
          run: async () => {
            await mergePatch(path, { metadata: { annotations: { [REFRESH_REQUESTED]: now() } } });
            return `refresh of ${name} requested`;
          },
        },
        ...(pinned
          ? [
              {
                label: 'Resume auto-sync',
                explain: `Unpin ${short(pinned)} and follow the tracked branch again.`,
                run: async () => {
                  await mergePatch(path, {
                    metadata: { annotations: { [ROLLBACK]: null, [SYNC_REVISION]: null, [SYNC_REQUESTED]: now() } },
                  });
                  return `${name} follows its branch again`;
                },
              },
            ]
          : []),
      ]
    : [];
  const rollback = (revision: string, message: string): Action => ({
    label: 'Roll back',
    explain: `Sync ${name} to ${short(revision)} (${message}) and pause automated sync until a new commit lands or it is resumed.`,
    run: async () => {
      await mergePatch(path, {
        metadata: { annotations: { [ROLLBACK]: revision, [SYNC_REVISION]: null, [SYNC_REQUESTED]: now() } },
      });
      return `rollback of ${name} to ${short(revision)} requested`;
    },
  });
  const view = query.get('view') ?? 'tree';
  const resource = query.get('resource');
  const op = app.status?.operationState;
  const conditions: Condition[] = app.status?.conditions ?? [];
  return html`<section class="app" aria-labelledby="app-title">
    <div class="bar">
      <h1 id="app-title">${name} <span class="ns">${namespace}</span></h1>
      <div class="badges" data-testid="app-status">
        <${Badge} kind="health" value=${healthOf(app)} /> <${Badge} kind="sync" value=${syncOf(app)} />
        <code title=${app.status?.sync?.revision ?? ''}>${short(app.status?.sync?.revision)}</code>
        ${pinned && html`<span class="tag warn">pinned to ${short(pinned)}</span>`}
      </div>
      <div class="actions">
        ${actions.map((a) => html`<button data-action=${a.label} onClick=${() => ask(a)}>${a.label}</button>`)}
        <a class="button" href=${here({ view: 'diff', resource: undefined })} data-view="diff"
          >Diff${mayAct(session) ? ' (dry run)' : ''}</a
        >
      </div>
    </div>
    ${confirmView}
    <p class="muted">
      ${app.spec?.source?.repoURL} · ${app.spec?.source?.path ?? '.'} @ ${app.spec?.source?.targetRevision ?? 'HEAD'}
      ${op ? html` · last operation ${op.phase}${op.message ? `: ${op.message}` : ''} ${op.finishedAt ? `(${age(op.finishedAt)} ago)` : ''}` : ''}
    </p>
    ${conditions.map((c) => html`<p class=${failing(c) ? 'error' : 'muted'}>${c.type}: ${c.message ?? ''}</p>`)}
    <nav class="tabs" aria-label="Views">
      ${[
        ['tree', 'Tree'],
        ['table', 'Table'],
        ['diff', 'Diff'],
        ['timeline', 'Timeline'],
      ].map(
        ([v, label]) =>
          html`<a href=${here({ view: v, resource: undefined })} aria-current=${view === v ? 'page' : undefined}
            >${label}</a
          >`,
      )}
    </nav>
    <div class="split">
      <div class="main-pane">
        ${
          view === 'diff'
            ? html`<${AppDiff} path=${path} />`
            : view === 'timeline'
              ? html`<${Timeline}
                  app=${app}
                  canAct=${mayAct(session)}
                  onRollback=${(rev: string, msg: string) => ask(rollback(rev, msg))}
                />`
              : view === 'table'
                ? html`<${ResourceTable} app=${app} here=${here} />`
                : html`<${ResourceTree} app=${app} here=${here} />`
        }
      </div>
      ${resource && html`<${ResourcePanel} key=${resource} app=${app} appPath=${path} refKey=${resource} session=${session} ask=${ask} close=${here({ resource: undefined })} />`}
    </div>
  </section>`;
}

function AppDiff({ path }: { path: string }) {
  const [outcome, setOutcome] = useState<DiffOutcome | { error: string } | undefined>();
  useEffect(() => {
    get<DiffOutcome>(`${path}/diff`).then(setOutcome, (e: unknown) => setOutcome({ error: (e as Error).message }));
  }, [path]);
  if (!outcome) return html`<p class="loading">Comparing the branch's head with the cluster…</p>`;
  if ('error' in outcome) return html`<p class="error">${outcome.error}</p>`;
  return html`<${DiffView} outcome=${outcome} />`;
}

const resourcesOf = (app: KubeObject): Resource[] => app.status?.resources ?? [];
const destinationOf = (app: KubeObject): string => app.spec?.destination?.namespace ?? 'default';

/** Pods and ReplicaSets of the app's namespace, by the owner they name (Kind/name). */
function useChildren(app: KubeObject): Map<string, KubeObject[]> {
  const ns = encodeURIComponent(destinationOf(app));
  const pods = useLiveList(`/api/v1/namespaces/${ns}/pods`);
  const sets = usePolledList(`/apis/apps/v1/namespaces/${ns}/replicasets`, 5000);
  const byOwner = new Map<string, KubeObject[]>();
  for (const list of [sets.items, pods.items])
    for (const o of list.values())
      for (const owner of o.metadata.ownerReferences ?? []) {
        const key = `${owner.kind}/${owner.name}`;
        byOwner.set(key, [...(byOwner.get(key) ?? []), { ...o, kind: list === pods.items ? 'Pod' : 'ReplicaSet' }]);
      }
  return byOwner;
}

function podState(pod: KubeObject): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  const waiting = (pod.status?.containerStatuses ?? []).find((c: any) => c.state?.waiting)?.state.waiting.reason;
  return waiting ?? pod.status?.phase ?? 'Pending';
}

function ResourceTree({ app, here }: { app: KubeObject; here: (q: Record<string, string | undefined>) => string }) {
  const children = useChildren(app);
  // A group's objects are drawn only while it is open: a closed group of 2,000 costs nothing.
  const [opened, setOpened] = useState<Record<string, boolean>>({});
  const groups = new Map<string, Resource[]>();
  for (const r of resourcesOf(app)) groups.set(r.kind, [...(groups.get(r.kind) ?? []), r]);
  const link = (r: { kind: string; namespace?: string; name: string }) => here({ resource: resourceKey(r) });
  const child = (o: KubeObject, depth: number): unknown => {
    const kids = children.get(`${o.kind}/${o.metadata.name}`) ?? [];
    const ref = { kind: o.kind!, namespace: o.metadata.namespace, name: o.metadata.name };
    return html`<li>
      <a href=${link(ref)}>${o.kind} ${o.metadata.name}</a>
      ${
        o.kind === 'Pod'
          ? html` <${Badge} kind="phase" value=${podState(o)} />
              <a class="small" href=${logsHref(o.metadata.namespace ?? 'default', o.metadata.name)}>logs</a>`
          : html` <span class="muted">${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0} ready</span>`
      }
      ${
        kids.length > 0 &&
        depth < 3 &&
        html`<ul>
          ${kids.map((k) => child(k, depth + 1))}
        </ul>`
      }
    </li>`;
  };
  return html`<div class="tree" data-testid="resource-tree">
    <p class="muted">${resourcesOf(app).length} resources</p>
    ${[...groups].map(([kind, rs]) => {
      const open = opened[kind] ?? rs.length <= OPEN_GROUP_LIMIT;
      return html`<details
        open=${open}
        class="group"
        onToggle=${(e: Event) => {
          const now = (e.target as HTMLDetailsElement).open;
          if (now !== open) setOpened({ ...opened, [kind]: now });
        }}
      >
        <summary><strong>${kind}</strong> <span class="count">${rs.length}</span></summary>
        ${
          open &&
          html`<ul>
            ${rs.map((r) => {
              const kids = children.get(`${r.kind}/${r.name}`) ?? [];
              return html`<li data-resource=${resourceKey(r)}>
                <a href=${link(r)}>${r.name}</a>
                ${r.health && html` <${Badge} kind="health" value=${r.health} />`}
                ${r.status && r.status !== 'Synced' && html` <${Badge} kind="sync" value=${r.status} />`}
                ${
                  kids.length > 0 &&
                  html`<ul>
                    ${kids.map((k) => child(k, 1))}
                  </ul>`
                }
              </li>`;
            })}
          </ul>`
        }
      </details>`;
    })}
  </div>`;
}

type Column = 'kind' | 'namespace' | 'name' | 'status' | 'health';

function ResourceTable({ app, here }: { app: KubeObject; here: (q: Record<string, string | undefined>) => string }) {
  const [sort, setSort] = useState<{ by: Column; desc: boolean }>({ by: 'kind', desc: false });
  const [all, setAll] = useState(false);
  const rows = [...resourcesOf(app)].sort((a, b) => {
    const c = String(a[sort.by] ?? '').localeCompare(String(b[sort.by] ?? '')) || a.name.localeCompare(b.name);
    return sort.desc ? -c : c;
  });
  const shown = all ? rows : rows.slice(0, TABLE_PAGE);
  const header = (c: Column, label: string) =>
    html`<th aria-sort=${sort.by === c ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button class="link" onClick=${() => setSort({ by: c, desc: sort.by === c && !sort.desc })}>${label}</button>
    </th>`;
  return html`<table class="resources" data-testid="resource-table">
      <thead>
        <tr>
          ${header('kind', 'Kind')}${header('namespace', 'Namespace')}${header('name', 'Name')}${header('status', 'Sync')}${header('health', 'Health')}
        </tr>
      </thead>
      <tbody>
        ${shown.map(
          (r) =>
            html`<tr>
              <td>${r.kind}</td>
              <td>${r.namespace ?? ''}</td>
              <td><a href=${here({ resource: resourceKey(r) })}>${r.name}</a></td>
              <td>${r.status ?? ''}</td>
              <td>${r.health ? html`<${Badge} kind="health" value=${r.health} />` : ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${rows.length > shown.length && html`<button onClick=${() => setAll(true)}>Show all ${rows.length}</button>`}`;
}

function ResourcePanel({
  app,
  appPath,
  refKey,
  session,
  ask,
  close,
}: {
  app: KubeObject;
  appPath: string;
  refKey: string;
  session: Session;
  ask: (a: Action) => void;
  close: string;
}) {
  const [kind, namespace, name] = refKey.split('/') as [string, string, string];
  const listed = resourcesOf(app).find((r) => resourceKey(r) === refKey);
  const [state, setState] = useState<{
    live?: KubeObject | null;
    desired?: KubeObject | null;
    diff?: string;
    path?: string;
    error?: string;
  }>({});
  const [tab, setTab] = useState<'live' | 'desired' | 'diff' | 'events'>('live');
  useEffect(() => {
    void (async () => {
      try {
        const apiVersion =
          kind === 'Pod' ? 'v1' : kind === 'ReplicaSet' ? 'apps/v1' : await apiVersionOf(listed?.group);
        const path = await resourcePath(apiVersion, kind, namespace || undefined, name);
        const live = path ? await get<KubeObject>(path).catch(() => null) : null;
        const manifests = await get<{ ok: boolean; objects?: KubeObject[] }>(`${appPath}/manifests`).catch(
          () => undefined,
        );
        const desired =
          manifests?.objects?.find(
            (o) =>
              o.kind === kind &&
              o.metadata.name === name &&
              (o.metadata.namespace ?? '') === (namespace || (o.metadata.namespace ?? '')),
          ) ?? null;
        const report = await get<DiffOutcome>(`${appPath}/diff`).catch(() => undefined);
        const entry =
          report && 'report' in report
            ? [...report.report.changed, ...report.report.created, ...report.report.pruned].find(
                (e) => e.kind === kind && e.name === name,
              )
            : undefined;
        setState({ live, desired, diff: entry?.diff ?? '', ...(path ? { path } : {}) });
      } catch (e) {
        setState({ error: (e as Error).message });
      }
    })();
  }, [refKey]);
  const events = usePolledList(
    namespace
      ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/events?fieldSelector=involvedObject.name%3D${encodeURIComponent(name)}`
      : undefined,
    5000,
  );
  const live = state.live;
  const canAct = mayAct(session) && live && state.path;
  const actions: Action[] = [];
  if (canAct && ['Deployment', 'StatefulSet', 'DaemonSet'].includes(kind))
    actions.push({
      label: 'Restart',
      explain: `Replace every pod of ${kind} ${name}, as kubectl rollout restart does.`,
      run: async () => {
        await mergePatch(state.path!, {
          spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date().toISOString() } } } },
        });
        return `${kind} ${name} restarted`;
      },
    });
  if (canAct && kind === 'Pod')
    actions.push({
      label: 'Delete pod',
      explain: `Delete pod ${name}; its controller makes another.`,
      run: async () => {
        await request('DELETE', state.path!);
        return `pod ${name} deleted`;
      },
    });
  const shownEvents = newestFirst(events.items.values()).filter((e: any) => e.involvedObject?.kind === kind);
  return html`<aside class="panel" aria-labelledby="panel-title" data-testid="resource-panel">
    <div class="bar">
      <h2 id="panel-title">${kind} ${name}</h2>
      <a href=${close} aria-label="Close">×</a>
    </div>
    <div class="actions">
      ${actions.map((a) => html`<button data-action=${a.label} onClick=${() => ask(a)}>${a.label}</button>`)}
      ${kind === 'Pod' && html`<a class="button" href=${logsHref(namespace, name)}>Logs</a>`}
    </div>
    <nav class="tabs" role="tablist">
      ${(['live', 'desired', 'diff', 'events'] as const).map(
        (t) =>
          html`<button role="tab" aria-selected=${tab === t} onClick=${() => setTab(t)}>
            ${t === 'events' ? `Events (${shownEvents.length})` : t[0]!.toUpperCase() + t.slice(1)}
          </button>`,
      )}
    </nav>
    ${state.error && html`<p class="error">${state.error}</p>`}
    ${tab === 'live' && html`<pre class="yaml" data-testid="live-yaml">${live === undefined ? 'Loading…' : live === null ? 'Not in the cluster.' : toYaml(live)}</pre>`}
    ${tab === 'desired' && html`<pre class="yaml" data-testid="desired-yaml">${state.desired === undefined ? 'Loading…' : state.desired === null ? 'Not in Git (made by a controller).' : toYaml(state.desired)}</pre>`}
    ${tab === 'diff' && html`<pre class="yaml">${state.diff === undefined ? 'Loading…' : state.diff || 'No difference between Git and the cluster.'}</pre>`}
    ${tab === 'events' && html`<${EventList} events=${shownEvents} />`}
  </aside>`;
}
