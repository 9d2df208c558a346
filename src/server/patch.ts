/**
 * PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and Kubernetes' strategic
 * merge patch as `kubectl apply` sends it — lists of objects merged by their merge key (containers
 * by name, ports by number, …), `$patch: delete|replace`, `$setElementOrder/<list>`,
 * `$retainKeys`, `$deleteFromPrimitiveList/<list>`, and null deleting a field.
 */
import { BerthError } from '../api/errors.js';
import { UNSAFE_KEYS } from '../api/safe-keys.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export const PATCH_TYPES = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
} as const;

const isObj = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (why: string): BerthError => new BerthError('BadRequest', `invalid patch: ${why}`);

export function applyPatch(contentType: string, target: unknown, patch: unknown): unknown {
  const type = contentType.split(';')[0]!.trim();
  if (type === PATCH_TYPES.merge) return mergePatch(target as Json, patch as Json);
  if (type === PATCH_TYPES.json) return jsonPatch(target as Json, patch);
  if (type === PATCH_TYPES.strategic) return strategicMerge(target as Json, patch as Json);
  throw new BerthError(
    'UnsupportedMediaType',
    `unsupported patch type ${JSON.stringify(type)}: use ${Object.values(PATCH_TYPES).join(', ')}`,
  );
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return patch;
  const out: JsonObject = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

// ---- JSON patch ---------------------------------------------------------------------------

function pointer(path: unknown): string[] {
  if (typeof path !== 'string' || (path !== '' && !path.startsWith('/')))
    throw bad(`path ${JSON.stringify(path)} is not a JSON pointer`);
  const segments =
    path === ''
      ? []
      : path
          .slice(1)
          .split('/')
          .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const unsafe = segments.find((s) => UNSAFE_KEYS.has(s));
  if (unsafe !== undefined)
    throw new BerthError(
      'Invalid',
      `invalid patch: path ${JSON.stringify(path)} names ${JSON.stringify(unsafe)}, which is not allowed`,
    );
  return segments;
}

function parentOf(doc: Json, segs: string[]): { parent: Json; key: string } {
  let cur = doc;
  for (const s of segs.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[index(cur, s, false)]!;
    else if (isObj(cur) && s in cur) cur = cur[s]!;
    else throw bad(`path /${segs.join('/')} does not exist`);
  }
  return { parent: cur, key: segs[segs.length - 1]! };
}

function index(arr: Json[], s: string, forAdd: boolean): number {
  if (forAdd && s === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(s)) throw bad(`${JSON.stringify(s)} is not an array index`);
  const i = Number(s);
  if (i > arr.length || (!forAdd && i === arr.length)) throw bad(`index ${i} is out of range`);
  return i;
}

function getAt(doc: Json, segs: string[]): Json {
  let cur = doc;
  for (const s of segs) {
    if (Array.isArray(cur)) cur = cur[index(cur, s, false)]!;
    else if (isObj(cur) && s in cur) cur = cur[s]!;
    else throw bad(`path /${segs.join('/')} does not exist`);
  }
  return cur;
}

function remove(doc: Json, segs: string[]): Json {
  if (segs.length === 0) throw bad('cannot remove the whole document');
  const { parent, key } = parentOf(doc, segs);
  if (Array.isArray(parent)) return parent.splice(index(parent, key, false), 1)[0]!;
  if (!isObj(parent) || !(key in parent)) throw bad(`path /${segs.join('/')} does not exist`);
  const v = parent[key]!;
  delete parent[key];
  return v;
}

function add(doc: Json, segs: string[], value: Json): Json {
  if (segs.length === 0) return value;
  const { parent, key } = parentOf(doc, segs);
  if (Array.isArray(parent)) parent.splice(index(parent, key, true), 0, value);
  else if (isObj(parent)) parent[key] = value;
  else throw bad(`cannot add to /${segs.join('/')}`);
  return doc;
}

export function jsonPatch(target: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw bad('a JSON patch is an array of operations');
  let doc = structuredClone(target);
  for (const op of ops) {
    if (!isObj(op)) throw bad('each operation is an object');
    const segs = pointer(op.path);
    switch (op.op) {
      case 'add':
        doc = add(doc, segs, structuredClone(op.value ?? null));
        break;
      case 'remove':
        remove(doc, segs);
        break;
      case 'replace':
        getAt(doc, segs);
        if (segs.length === 0) doc = structuredClone(op.value ?? null);
        else {
          remove(doc, segs);
          doc = add(doc, segs, structuredClone(op.value ?? null));
        }
        break;
      case 'move': {
        const v = remove(doc, pointer(op.from));
        doc = add(doc, segs, v);
        break;
      }
      case 'copy':
        doc = add(doc, segs, structuredClone(getAt(doc, pointer(op.from))));
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, segs)) !== JSON.stringify(op.value))
          throw new BerthError('Invalid', `test operation failed at ${String(op.path)}`);
        break;
      default:
        throw bad(`unknown operation ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}

// ---- strategic merge patch ------------------------------------------------------------------

/** Merge keys of the list fields Berth serves (Kubernetes' patchMergeKey tags). */
export function mergeKeyFor(field: string, items: Json[]): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'volumes':
    case 'env':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'ownerReferences':
      return 'uid';
    case 'conditions':
      return 'type';
    case 'hostAliases':
      return 'ip';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    case 'ports':
      // Container ports merge by containerPort, Service ports by port.
      return items.some((i) => isObj(i) && 'containerPort' in i) ? 'containerPort' : 'port';
    default:
      return undefined;
  }
}

/** Primitive lists Kubernetes merges as sets. */
const SET_LISTS = new Set(['finalizers']);

export function strategicMerge(target: Json, patch: Json): Json {
  if (!isObj(patch)) return patch;
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return rest;
  }
  if (patch.$patch === 'delete') return null;
  const out: JsonObject = isObj(target) ? { ...target } : {};
  const retain = Array.isArray(patch.$retainKeys) ? new Set(patch.$retainKeys as string[]) : undefined;
  const orders: Record<string, Json[]> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith('$setElementOrder/')) {
      orders[k.slice('$setElementOrder/'.length)] = Array.isArray(v) ? v : [];
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const list = k.slice('$deleteFromPrimitiveList/'.length);
      const drop = new Set((Array.isArray(v) ? v : []).map((x) => JSON.stringify(x)));
      if (Array.isArray(out[list])) out[list] = (out[list] as Json[]).filter((x) => !drop.has(JSON.stringify(x)));
      continue;
    }
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v)) {
      out[k] = mergeList(k, Array.isArray(out[k]) ? (out[k] as Json[]) : [], v);
    } else if (isObj(v)) {
      const merged = strategicMerge(out[k] ?? null, v);
      if (merged === null) delete out[k];
      else out[k] = merged;
    } else {
      out[k] = v;
    }
  }
  for (const [list, order] of Object.entries(orders))
    if (Array.isArray(out[list])) out[list] = reorder(list, out[list] as Json[], order);
  if (retain) for (const k of Object.keys(out)) if (!retain.has(k)) delete out[k];
  return out;
}

function mergeList(field: string, current: Json[], patch: Json[]): Json[] {
  if (SET_LISTS.has(field))
    return [...new Set([...current, ...patch].map((x) => JSON.stringify(x)))].map((x) => JSON.parse(x) as Json);
  const key = mergeKeyFor(field, [...current, ...patch]);
  if (!key || !patch.every(isObj)) return patch.filter((p) => !(isObj(p) && p.$patch));
  if (patch.some((p) => isObj(p) && p.$patch === 'replace'))
    return patch.filter((p) => !(isObj(p) && p.$patch)).map((p) => p);
  const out = current.slice();
  for (const item of patch as JsonObject[]) {
    const at = out.findIndex((c) => isObj(c) && c[key] === item[key]);
    if (item.$patch === 'delete') {
      if (at !== -1) out.splice(at, 1);
    } else if (at !== -1) {
      out[at] = strategicMerge(out[at]!, item);
    } else {
      const { $patch: _, ...clean } = item;
      out.push(clean);
    }
  }
  return out;
}

function reorder(field: string, items: Json[], order: Json[]): Json[] {
  const key = mergeKeyFor(field, items);
  const id = (x: Json): string => JSON.stringify(key && isObj(x) ? x[key] : x);
  const rank = new Map(order.map((o, i) => [id(o), i]));
  return items
    .map((x, i) => ({ x, i, r: rank.get(id(x)) ?? Number.MAX_SAFE_INTEGER }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((e) => e.x);
}
