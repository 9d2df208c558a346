/**
 * `berth get`, `berth describe`, `berth delete`: kubectl's everyday reads and deletes.
 * Tables come from the server (the same columns kubectl shows); -o json|yaml|name|wide as kubectl.
 */
import { stringify } from 'yaml';
import { BerthError } from '../api/errors.js';
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
}

export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export async function getCommand(
  client: BerthClient,
  kind: string,
  name: string | undefined,
  o: GetOptions,
  io: CommandIO,
): Promise<number> {
  const info = kindOrFail(kind);
  const namespace = info.namespaced
    ? o.allNamespaces
      ? undefined
      : (o.namespace ?? client.connection.namespace)
    : undefined;
  const list = {
    ...(namespace !== undefined ? { namespace } : {}),
    ...(o.selector ? { labelSelector: o.selector } : {}),
  };
  if (o.output === 'json' || o.output === 'yaml' || o.output === 'name') {
    const objects: KubeObject[] = name
      ? [await client.get(info, namespace, name)]
      : (await client.list(info, list)).items;
    if (o.output === 'name')
      io.stdout(objects.map((x) => qualifiedName(info, x.metadata.name)).join('\n') + (objects.length ? '\n' : ''));
    else io.stdout(renderStructured(o.output, name ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects }));
    return 0;
  }
  const table = await client.table(info, { ...list, ...(name ? { name } : {}) });
  if (table.rows.length === 0) {
    io.stderr(namespace !== undefined ? `No resources found in ${namespace} namespace.\n` : 'No resources found\n');
    return 0;
  }
  const shown = table.columnDefinitions
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => o.output === 'wide' || c.priority === 0);
  const headers = [
    ...(o.allNamespaces && info.namespaced ? ['NAMESPACE'] : []),
    ...shown.map(({ c }) => c.name.toUpperCase()),
  ];
  const rows = table.rows.map((r) => [
    ...(o.allNamespaces && info.namespaced ? [r.object.metadata.namespace ?? ''] : []),
    ...shown.map(({ i }) => String(r.cells[i] ?? '')),
  ]);
  io.stdout(formatTable(headers, rows));
  return 0;
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
    const rows = events.items.map((e: any) => [
      e.type ?? '',
      e.reason ?? '',
      String(e.count ?? 1),
      e.source?.component ?? '',
      e.message ?? '',
    ]);
    lines.push(
      ...formatTable(['Type', 'Reason', 'Count', 'From', 'Message'], rows)
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  io.stdout(lines.join('\n') + '\n');
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
