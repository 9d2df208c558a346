/**
 * Server-side apply and field ownership (Kubernetes' structured-merge-diff, for the shapes Berth
 * serves), pure. A field set is the leaf paths of an object: map keys `f:name`, items of keyed
 * lists `k:{"name":"web"}` (containers by name, ports by number: the strategic merge keys), values
 * of set lists `v:"x"` (finalizers); any other list is atomic, a leaf as a whole. managedFields
 * record, per manager and operation (Apply or Update), the paths it owns, as FieldsV1.
 *
 * - An Update (create, PUT, any other patch) takes the paths whose values it changed from
 *   everyone else, and never conflicts. It is recorded once the object has managedFields (its
 *   first apply gives everything it had to "before-first-apply", as Kubernetes does for objects
 *   without them).
 * - An Apply owns exactly the paths of its configuration: a path another manager owns with a
 *   different value is a conflict (409 naming the managers) unless forced, which takes it;
 *   paths it applied before and no longer does are removed, unless someone else owns them.
 */
import { isDeepStrictEqual } from 'node:util';
import { BerthError } from '../api/errors.js';
import { mergeKeyFor, strategicMerge } from './patch.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
  subresource?: string;
}

const isObj = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const SET_LISTS = new Set(['finalizers']);
/** What the server owns, never a manager: identity, bookkeeping, status (its own subresource). */
const UNOWNED_METADATA = new Set([
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'selfLink',
]);

export const BEFORE_FIRST_APPLY = 'before-first-apply';

/** A path, as its elements joined with NUL (elements are `f:…`, `k:{…}`, `v:…`). */
type Path = string;
const SEP = '\u0000';

function keyOf(field: string, list: Json[]): string | undefined {
  if (SET_LISTS.has(field)) return undefined;
  const key = mergeKeyFor(field, list);
  return key && list.every((i) => isObj(i) && i[key] !== undefined) ? key : undefined;
}

/** The leaf paths of an object (status and server-owned metadata left out). */
export function leafPaths(obj: unknown): Set<Path> {
  const out = new Set<Path>();
  const walk = (node: Json, prefix: string[], field: string): void => {
    if (isObj(node)) {
      const entries = Object.entries(node);
      if (!entries.length && prefix.length) out.add(prefix.join(SEP));
      for (const [k, v] of entries) walk(v, [...prefix, `f:${k}`], k);
      return;
    }
    if (Array.isArray(node)) {
      if (SET_LISTS.has(field)) {
        for (const v of node) out.add([...prefix, `v:${JSON.stringify(v)}`].join(SEP));
        if (!node.length) out.add(prefix.join(SEP));
        return;
      }
      const key = keyOf(field, node);
      if (!key || !node.length) {
        out.add(prefix.join(SEP));
        return;
      }
      for (const item of node as JsonObject[]) walk(item, [...prefix, `k:${JSON.stringify({ [key]: item[key] })}`], '');
      return;
    }
    out.add(prefix.join(SEP));
  };
  const { status: _s, metadata, apiVersion: _a, kind: _k, ...rest } = (obj ?? {}) as JsonObject;
  const meta = isObj(metadata)
    ? Object.fromEntries(
        Object.entries(metadata).filter(([k]) => !UNOWNED_METADATA.has(k) && k !== 'name' && k !== 'namespace'),
      )
    : {};
  walk({ ...rest, ...(Object.keys(meta).length ? { metadata: meta } : {}) } as JsonObject, [], '');
  return out;
}

/** The value at a path, or undefined when the object has nothing there. */
export function valueAt(obj: unknown, path: Path): Json | undefined {
  let cur: Json | undefined = obj as Json;
  for (const el of path.split(SEP)) {
    if (cur === undefined) return undefined;
    if (el.startsWith('f:')) cur = isObj(cur) ? cur[el.slice(2)] : undefined;
    else if (el.startsWith('k:')) {
      const [[k, v]] = Object.entries(JSON.parse(el.slice(2)) as JsonObject) as [[string, Json]];
      cur = Array.isArray(cur) ? cur.find((i) => isObj(i) && isDeepStrictEqual(i[k], v)) : undefined;
    } else if (el.startsWith('v:')) {
      const v = JSON.parse(el.slice(2)) as Json;
      cur = Array.isArray(cur) && cur.some((i) => isDeepStrictEqual(i, v)) ? v : undefined;
    }
  }
  return cur;
}

/** Removes what is at a path (in place); a keyed item or set value leaves its list. */
function removeAt(obj: JsonObject, path: Path): void {
  const els = path.split(SEP);
  const last = els.pop()!;
  const parent = els.length ? valueAt(obj, els.join(SEP)) : obj;
  if (last.startsWith('f:') && isObj(parent)) delete parent[last.slice(2)];
  else if ((last.startsWith('k:') || last.startsWith('v:')) && Array.isArray(parent)) {
    const target = valueAt(obj, path);
    const at = parent.indexOf(target as Json);
    if (at !== -1) parent.splice(at, 1);
  }
}

export function toFieldsV1(paths: Iterable<Path>): JsonObject {
  const root: JsonObject = {};
  for (const path of paths) {
    let cur = root;
    const els = path.split(SEP);
    els.forEach((el, i) => {
      cur[el] ??= {};
      cur = cur[el] as JsonObject;
      // A keyed item is itself a field its manager owns: "." marks it.
      if (el.startsWith('k:') && i < els.length - 1) cur['.'] ??= {};
    });
  }
  return root;
}

export function fromFieldsV1(fields: unknown): Set<Path> {
  const out = new Set<Path>();
  const walk = (node: unknown, prefix: string[]): void => {
    const children = isObj(node) ? Object.keys(node).filter((k) => k !== '.') : [];
    if (!children.length) {
      if (prefix.length) out.add(prefix.join(SEP));
      return;
    }
    for (const k of children) walk((node as JsonObject)[k], [...prefix, k]);
  };
  walk(fields, []);
  return out;
}

/** `.spec.replicas`, `.spec.template.spec.containers[name="web"].image`: how conflicts name paths. */
export function describePath(path: Path): string {
  return path
    .split(SEP)
    .map((el) => {
      if (el.startsWith('f:')) return `.${el.slice(2)}`;
      if (el.startsWith('k:'))
        return `[${Object.entries(JSON.parse(el.slice(2)) as JsonObject)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(',')}]`;
      return `[${el.slice(2)}]`;
    })
    .join('');
}

type Owners = Map<string, { entry: Omit<ManagedFieldsEntry, 'fieldsV1'>; paths: Set<Path> }>;
const entryKey = (manager: string, operation: string) => `${manager}\u0000${operation}`;

function ownersOf(entries: ManagedFieldsEntry[] | undefined): Owners {
  const owners: Owners = new Map();
  for (const e of entries ?? []) {
    if (e.subresource) continue;
    const { fieldsV1, ...entry } = e;
    owners.set(entryKey(e.manager, e.operation), { entry, paths: fromFieldsV1(fieldsV1) });
  }
  return owners;
}

function entriesOf(owners: Owners, present: Set<Path>): ManagedFieldsEntry[] {
  // Every path in the object and every prefix of one (an owned map or list may hold other paths).
  const within = new Set<Path>();
  for (const p of present) {
    const els = p.split(SEP);
    for (let i = 1; i <= els.length; i++) within.add(els.slice(0, i).join(SEP));
  }
  const out: ManagedFieldsEntry[] = [];
  for (const { entry, paths } of owners.values()) {
    // A path no longer in the object is owned by no one.
    const kept = [...paths].filter((p) => within.has(p));
    if (kept.length) out.push({ ...entry, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(kept) });
  }
  return out;
}

const changedPaths = (before: unknown, after: unknown): Path[] =>
  [...leafPaths(after)].filter((p) => !isDeepStrictEqual(valueAt(before, p), valueAt(after, p)));

/** managedFields after an Update by `manager`: it takes the paths it changed (all of a new object's). */
export function recordUpdate(
  before: unknown,
  after: unknown,
  previous: ManagedFieldsEntry[] | undefined,
  manager: string,
  apiVersion: string,
  time: string,
): ManagedFieldsEntry[] {
  const owners = ownersOf(previous);
  const changed = changedPaths(before, after);
  if (changed.length) {
    for (const o of owners.values()) for (const p of changed) o.paths.delete(p);
    const mine = owners.get(entryKey(manager, 'Update')) ?? {
      entry: { manager, operation: 'Update' as const, apiVersion, time, fieldsType: 'FieldsV1' as const },
      paths: new Set<Path>(),
    };
    for (const p of changed) mine.paths.add(p);
    mine.entry = { ...mine.entry, time, apiVersion };
    owners.set(entryKey(manager, 'Update'), mine);
  }
  return entriesOf(owners, leafPaths(after));
}

export interface ApplyResult {
  object: JsonObject;
  managedFields: ManagedFieldsEntry[];
}

/**
 * Server-side apply of `config` by `manager` onto `live` (undefined: the object is new). Throws a
 * 409 naming every conflicting manager and path unless `force`.
 */
export function serverSideApply(
  live: JsonObject | undefined,
  config: JsonObject,
  manager: string,
  force: boolean,
  time: string,
): ApplyResult {
  const recorded = (live?.metadata as { managedFields?: ManagedFieldsEntry[] } | undefined)?.managedFields;
  const owners = ownersOf(recorded);
  // An object no one has applied yet: what it has belongs to "before-first-apply" (Kubernetes' name), so an apply that changes it conflicts.
  if (live && !recorded?.length) {
    const paths = leafPaths(live);
    if (paths.size)
      owners.set(entryKey(BEFORE_FIRST_APPLY, 'Update'), {
        entry: {
          manager: BEFORE_FIRST_APPLY,
          operation: 'Update',
          apiVersion: String(live.apiVersion ?? ''),
          time,
          fieldsType: 'FieldsV1',
        },
        paths,
      });
  }
  const applied = leafPaths(config);
  const key = entryKey(manager, 'Apply');
  const previous = owners.get(key)?.paths ?? new Set<Path>();
  const conflicts: { manager: string; path: Path }[] = [];
  for (const p of applied) {
    const current = live === undefined ? undefined : valueAt(live, p);
    if (current === undefined || isDeepStrictEqual(current, valueAt(config, p))) continue;
    for (const [k, o] of owners) if (k !== key && o.paths.has(p)) conflicts.push({ manager: o.entry.manager, path: p });
  }
  if (conflicts.length && !force) {
    const lines = conflicts.map((c) => `conflict with "${c.manager}": ${describePath(c.path)}`);
    throw new BerthError(
      'Conflict',
      `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${lines.join('\n')}`,
      {
        causes: conflicts.map((c, i) => ({
          reason: 'FieldManagerConflict',
          message: lines[i]!,
          field: describePath(c.path),
        })),
      },
    );
  }
  // Forced (or no conflict): the applier takes what it sets with a new value from everyone.
  for (const c of conflicts) {
    for (const operation of ['Apply', 'Update']) owners.get(entryKey(c.manager, operation))?.paths.delete(c.path);
  }
  const { metadata: liveMeta, ...liveRest } = live ?? {};
  const { managedFields: _m, ...liveMetaRest } = (isObj(liveMeta) ? liveMeta : {}) as JsonObject;
  const merged = strategicMerge(
    { ...liveRest, metadata: liveMetaRest } as JsonObject,
    withoutDirectives(config),
  ) as JsonObject;
  // What this manager applied before and no longer does goes, unless another manager owns it.
  const othersOwn = (p: Path) => [...owners].some(([k, o]) => k !== key && o.paths.has(p));
  // A keyed item's key goes last: the item is found by it while its other fields go.
  const isKey = (p: Path) => {
    const els = p.split(SEP);
    const parent = els.at(-2);
    return (
      parent?.startsWith('k:') === true &&
      Object.keys(JSON.parse(parent.slice(2)) as object).includes(els.at(-1)!.slice(2))
    );
  };
  const dropped = [...previous].filter((p) => !applied.has(p) && !othersOwn(p));
  for (const p of [...dropped.filter((x) => !isKey(x)), ...dropped.filter(isKey)]) removeAt(merged, p);
  dropEmptyItems(merged);
  owners.set(key, {
    entry: { manager, operation: 'Apply', apiVersion: String(config.apiVersion ?? ''), time, fieldsType: 'FieldsV1' },
    paths: applied,
  });
  return { object: merged, managedFields: entriesOf(owners, leafPaths(merged)) };
}

/** Keyed list items left with no field (their manager stopped applying them) leave their list. */
function dropEmptyItems(node: Json, field = ''): void {
  if (Array.isArray(node)) {
    if (
      keyOf(
        field,
        node.filter((i) => !(isObj(i) && !Object.keys(i).length)),
      )
    ) {
      for (let i = node.length - 1; i >= 0; i--)
        if (isObj(node[i]) && !Object.keys(node[i] as JsonObject).length) node.splice(i, 1);
    }
    for (const item of node) dropEmptyItems(item);
  } else if (isObj(node)) {
    for (const [k, v] of Object.entries(node)) dropEmptyItems(v, k);
  }
}

/** An applied configuration is plain data: strategic-merge directives in it are not honoured. */
function withoutDirectives(config: JsonObject): JsonObject {
  const strip = (v: Json): Json =>
    Array.isArray(v)
      ? v.map(strip)
      : isObj(v)
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([k]) => !k.startsWith('$'))
              .map(([k, x]) => [k, strip(x)]),
          )
        : v;
  return strip(config) as JsonObject;
}
