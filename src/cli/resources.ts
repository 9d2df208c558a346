/**
 * `berth get`, `berth describe`, `berth delete`: kubectl's everyday reads and deletes.
 * Tables come from the server (the same columns kubectl shows); -o json|yaml|name|wide as kubectl.
 */
import { stringify } from 'yaml';
import { BerthError } from '../api/errors.js';
import { age } from '../api/duration.js';
import { resolveKind, type KindInfo } from '../api/kinds.js';
import type { BerthClient, KubeObject } from '../client/index.js';
import { renderStructured, type CommandIO } from './output.js';

export const GET_OUTPUTS = ['table', 'wide', 'json', 'yaml', 'name'] as const;
export type GetOutput = (typeof GET_OUTPUTS)[number];

export function kindOrFail(name: string): KindInfo {
  const info = resolveKind(name);
  if (!info)
    throw new BerthError(
      'Usage',
      `the server doesn't have a resource type "${name}" (try: pods, deployments, services, ingresses, configmaps, secrets, namespaces, nodes, applications, …)`,
    );
  return info;
}

export function qualifiedName(info: KindInfo, name: string): string {
  return `${info.kind.toLowerCase()}${info.group ? `.${info.group}` : ''}/${name}`;
}

export interface GetOptions {
  namespace?: string;
  allNamespaces: boolean;
  selector?: string;
  output: GetOutput;
  /** --no-headers */
  noHeaders?: boolean;
  /** -L: label keys shown as columns. */
  labelColumns?: string[];
  /** -w: after the list, a row for each change until the signal. */
  watch?: AbortSignal;
}

export function formatTable(headers: string[], rows: string[][], options: { noHeaders?: boolean } = {}): string {
  const widths = columnWidths(headers, rows);
  return (
    [...(options.noHeaders ? [] : [tableLine(headers, widths)]), ...rows.map((r) => tableLine(r, widths))].join('\n') +
    '\n'
  );
}

const columnWidths = (headers: string[], rows: string[][]): number[] =>
  headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));

/** One row, its cells padded to the widths (the last one not). */
const tableLine = (cells: string[], widths: number[]): string =>
  cells
    .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? c.length)))
    .join('   ')
    .trimEnd();

type ServerTable = Awaited<ReturnType<BerthClient['table']>>;

/**
 * A server table's rows as `get` prints them: the columns shown (priority 0, or all with -o wide),
 * the namespace first with -A, the -L labels last; `kindPrefix` names the kind in the name column.
 */
function tableRows(
  table: ServerTable,
  o: GetOptions,
  info: KindInfo,
  kindPrefix: boolean,
): { headers: string[]; rows: string[][] } {
  const shown = table.columnDefinitions
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => o.output === 'wide' || c.priority === 0);
  const withNamespace = o.allNamespaces && info.namespaced;
  const labels = o.labelColumns ?? [];
  return {
    headers: [
      ...(withNamespace ? ['NAMESPACE'] : []),
      ...shown.map(({ c }) => c.name.toUpperCase()),
      ...labels.map((l) => l.slice(l.lastIndexOf('/') + 1).toUpperCase()),
    ],
    rows: table.rows.map((r) => {
      const cells = shown.map(({ i }) => String(r.cells[i] ?? ''));
      // Several kinds: each name says its kind, as kubectl's `get all`.
      if (kindPrefix) cells[0] = qualifiedName(info, cells[0]!);
      return [
        ...(withNamespace ? [r.object.metadata.namespace ?? ''] : []),
        ...cells,
        ...labels.map((l) => (r.object.metadata as { labels?: Record<string, string> }).labels?.[l] ?? ''),
      ];
    }),
  };
}

/** kubectl's `all`: the workload kinds and Services (not ConfigMaps, Secrets, Ingresses). */
const ALL_KINDS = ['pods', 'services', 'daemonsets', 'deployments', 'replicasets', 'statefulsets', 'jobs', 'cronjobs'];

/** `get KIND[,KIND…]`, `get all`: the kinds asked for, in order. */
export function kindsOf(arg: string): KindInfo[] {
  const names = arg.split(',').flatMap((k) => (k === 'all' ? ALL_KINDS : [k]));
  return [...new Map(names.map((k) => kindOrFail(k)).map((i) => [`${i.group}/${i.kind}`, i])).values()];
}

export async function getCommand(
  client: BerthClient,
  kind: string,
  name: string | undefined,
  o: GetOptions,
  io: CommandIO,
): Promise<number> {
  const infos = kindsOf(kind);
  const several = infos.length > 1;
  if (several && name) throw new BerthError('Usage', 'a name goes with one kind (get deploy web), not several');
  if (several && o.watch) throw new BerthError('Usage', 'watch one kind at a time');
  const namespaceOf = (info: KindInfo) =>
    info.namespaced ? (o.allNamespaces ? undefined : (o.namespace ?? client.connection.namespace)) : undefined;
  const listOf = (info: KindInfo) => ({
    ...(namespaceOf(info) !== undefined ? { namespace: namespaceOf(info)! } : {}),
    ...(o.selector ? { labelSelector: o.selector } : {}),
  });
  if (o.output === 'json' || o.output === 'yaml' || o.output === 'name') {
    const objects: [KindInfo, KubeObject][] = [];
    for (const info of infos) {
      const found = name
        ? [await client.get(info, namespaceOf(info), name)]
        : (await client.list(info, listOf(info))).items;
      objects.push(...found.map((x): [KindInfo, KubeObject] => [info, x]));
    }
    if (o.output === 'name')
      io.stdout(objects.map(([i, x]) => qualifiedName(i, x.metadata.name)).join('\n') + (objects.length ? '\n' : ''));
    else
      io.stdout(
        renderStructured(
          o.output,
          name ? objects[0]![1] : { apiVersion: 'v1', kind: 'List', items: objects.map(([, x]) => x) },
        ),
      );
    return 0;
  }
  const printed: string[] = [];
  // The watch goes on from the listed revision, its rows padded as the listed ones.
  let listed: { resourceVersion?: string; widths?: number[] } = {};
  for (const info of infos) {
    const table = await client.table(info, { ...listOf(info), ...(name ? { name } : {}) });
    listed = { ...(table.metadata?.resourceVersion ? { resourceVersion: table.metadata.resourceVersion } : {}) };
    if (table.rows.length === 0) continue;
    const { headers, rows } = tableRows(table, o, info, several);
    printed.push(formatTable(headers, rows, { noHeaders: o.noHeaders === true }));
    listed.widths = columnWidths(headers, rows);
  }
  if (printed.length) io.stdout(printed.join('\n'));
  else {
    const namespace = namespaceOf(infos[0]!);
    io.stderr(namespace !== undefined ? `No resources found in ${namespace} namespace.\n` : 'No resources found\n');
  }
  if (o.watch) await watchRows(client, infos[0]!, name, listOf(infos[0]!), o, listed, io);
  return 0;
}

/** `get -w`: a row for every change after the list, as kubectl prints them, until the signal. */
async function watchRows(
  client: BerthClient,
  info: KindInfo,
  name: string | undefined,
  list: { namespace?: string; labelSelector?: string },
  o: GetOptions,
  listed: { resourceVersion?: string; widths?: number[] },
  io: CommandIO,
): Promise<void> {
  const resourceVersion =
    listed.resourceVersion ?? (await client.list(info, { ...list, limit: 1 })).metadata.resourceVersion;
  try {
    for await (const e of client.watch(info, {
      ...list,
      ...(name ? { fieldSelector: `metadata.name=${name}` } : {}),
      resourceVersion,
      signal: o.watch!,
    })) {
      const { metadata } = e.object;
      // The object's own row, from its namespace (with -A the list has none).
      const table = await client
        .table(info, { ...(metadata.namespace ? { namespace: metadata.namespace } : {}), name: metadata.name })
        .catch(() => undefined);
      // A deleted object has no row left: a row of its own name (and namespace, labels).
      const { rows } = tableRows(
        table ?? {
          columnDefinitions: [{ name: 'Name', priority: 0 }],
          rows: [{ cells: [metadata.name], object: e.object as ServerTable['rows'][number]['object'] }],
        },
        o,
        info,
        false,
      );
      for (const row of rows) io.stdout(tableLine(row, listed.widths ?? []) + '\n');
    }
  } catch (e) {
    if (!o.watch!.aborted) throw e;
  }
}

export async function describeCommand(
  client: BerthClient,
  kind: string,
  name: string,
  namespace: string | undefined,
  io: CommandIO,
): Promise<number> {
  const info = kindOrFail(kind);
  const ns = info.namespaced ? (namespace ?? client.connection.namespace) : undefined;
  const obj = await client.get(info, ns, name);
  const meta = obj.metadata as Record<string, unknown>;
  const kv = (m: unknown) =>
    Object.entries((m ?? {}) as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n' + ' '.repeat(13)) || '<none>';
  const lines = [
    `Name:        ${obj.metadata.name}`,
    ...(ns ? [`Namespace:   ${ns}`] : []),
    `Kind:        ${info.kind}`,
    `Labels:      ${kv(meta.labels)}`,
    `Annotations: ${kv(Object.fromEntries(Object.entries((meta.annotations ?? {}) as Record<string, string>).filter(([k]) => !k.endsWith('last-applied-configuration'))))}`,
    `Created:     ${String(meta.creationTimestamp ?? '')}`,
  ];
  const indent = (title: string, value: unknown) =>
    value === undefined
      ? []
      : [
          `${title}:`,
          ...stringify(value)
            .trimEnd()
            .split('\n')
            .map((l) => `  ${l}`),
        ];
  const { apiVersion: _a, kind: _k, metadata: _m, status, ...body } = obj;
  lines.push(
    ...indent('Spec', Object.keys(body).length ? (info.kind === 'Secret' ? redactSecret(body) : body) : undefined),
    ...indent('Status', status),
  );
  const events = await client.list(kindOrFail('events'), {
    ...(ns ? { namespace: ns } : {}),
    fieldSelector: `involvedObject.name=${name},involvedObject.kind=${info.kind}${obj.metadata.uid ? `,involvedObject.uid=${obj.metadata.uid}` : ''}`,
  });
  lines.push('Events:');
  if (events.items.length === 0) lines.push('  <none>');
  else {
    const now = Date.now();
    const rows = byTime(events.items as EventLike[]).map((e) => [
      e.type ?? '',
      e.reason ?? '',
      eventAge(e, now),
      e.source?.component ?? '',
      e.message ?? '',
    ]);
    const headers = ['Type', 'Reason', 'Age', 'From', 'Message'];
    lines.push(
      ...formatTable(headers, [headers.map((h) => '-'.repeat(h.length)), ...rows])
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  io.stdout(lines.join('\n') + '\n');
  return 0;
}

interface EventLike {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  metadata: { namespace?: string; creationTimestamp?: string };
  involvedObject?: { kind?: string; name?: string; apiVersion?: string };
  source?: { component?: string };
}

const lastSeen = (e: EventLike) => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp;
/** Oldest first, as kubectl lists them. */
const byTime = (events: EventLike[]) =>
  [...events].sort((a, b) => Date.parse(lastSeen(a) ?? '') - Date.parse(lastSeen(b) ?? ''));

/** kubectl's Age of an Event: "10s", or "3m (x4 over 10m)" when it happened again. */
function eventAge(e: EventLike, now: number): string {
  const last = age(lastSeen(e), now);
  const count = e.count ?? 1;
  return count > 1 && e.firstTimestamp ? `${last} (x${count} over ${age(e.firstTimestamp, now)})` : last;
}

export interface EventsOptions {
  namespace?: string;
  allNamespaces: boolean;
  /** --for KIND/NAME: the Events of one object. */
  for?: string;
  /** --types Warning,Normal */
  types?: string[];
  watch?: AbortSignal;
}

/** `berth events`, as `kubectl events`: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, oldest first; -w follows. */
export async function eventsCommand(client: BerthClient, o: EventsOptions, io: CommandIO): Promise<number> {
  const info = kindOrFail('events');
  const namespace = o.allNamespaces ? undefined : (o.namespace ?? client.connection.namespace);
  let fieldSelector: string | undefined;
  if (o.for) {
    const slash = o.for.indexOf('/');
    if (slash < 1)
      throw new BerthError('Usage', `--for takes KIND/NAME (e.g. deploy/web), not ${JSON.stringify(o.for)}`);
    const kind = kindOrFail(o.for.slice(0, slash)).kind;
    fieldSelector = `involvedObject.kind=${kind},involvedObject.name=${o.for.slice(slash + 1)}`;
  }
  const types = o.types?.map((t) => t.trim()).filter(Boolean);
  for (const t of types ?? [])
    if (t !== 'Normal' && t !== 'Warning') throw new BerthError('Usage', `--types takes Normal and Warning, not ${t}`);
  const wanted = (e: EventLike) => !types?.length || types.includes(e.type ?? '');
  const list = { ...(namespace !== undefined ? { namespace } : {}), ...(fieldSelector ? { fieldSelector } : {}) };
  const listed = await client.list(info, list);
  const rowOf = (e: EventLike, now: number) => [
    ...(namespace === undefined ? [e.metadata.namespace ?? ''] : []),
    eventAge(e, now),
    e.type ?? '',
    e.reason ?? '',
    `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`,
    e.message ?? '',
  ];
  const headers = [
    ...(namespace === undefined ? ['NAMESPACE'] : []),
    'LAST SEEN',
    'TYPE',
    'REASON',
    'OBJECT',
    'MESSAGE',
  ];
  const events = byTime(listed.items as EventLike[]).filter(wanted);
  if (events.length)
    io.stdout(
      formatTable(
        headers,
        events.map((e) => rowOf(e, Date.now())),
      ),
    );
  else if (!o.watch)
    io.stderr(namespace !== undefined ? `No events found in ${namespace} namespace.\n` : 'No events found.\n');
  if (!o.watch) return 0;
  try {
    for await (const e of client.watch(info, {
      ...list,
      resourceVersion: listed.metadata.resourceVersion,
      signal: o.watch,
    })) {
      if (e.type === 'DELETED' || !wanted(e.object as EventLike)) continue;
      io.stdout(rowOf(e.object as EventLike, Date.now()).join('   ') + '\n');
    }
  } catch (e) {
    if (!o.watch.aborted) throw e;
  }
  return 0;
}

function redactSecret(body: Record<string, unknown>): Record<string, unknown> {
  const data = body.data as Record<string, string> | undefined;
  return {
    ...body,
    ...(data
      ? {
          data: Object.fromEntries(
            Object.entries(data).map(([k, v]) => [k, `${Buffer.from(v, 'base64').length} bytes`]),
          ),
        }
      : {}),
  };
}

export async function deleteCommand(
  client: BerthClient,
  kind: string,
  names: string[],
  namespace: string | undefined,
  io: CommandIO,
): Promise<number> {
  const info = kindOrFail(kind);
  const ns = info.namespaced ? (namespace ?? client.connection.namespace) : undefined;
  for (const name of names) {
    await client.delete(info, ns, name);
    io.stdout(`${info.kind.toLowerCase()}${info.group ? `.${info.group}` : ''} "${name}" deleted\n`);
  }
  return 0;
}
