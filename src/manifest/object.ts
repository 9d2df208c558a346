/** Small, defensive accessors for untrusted plain objects (anything may be of any shape). */
export type PlainObject = Record<string, unknown>;

export function isObject(v: unknown): v is PlainObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function objectAt(parent: unknown, key: string): PlainObject | undefined {
  if (!isObject(parent)) return undefined;
  const v = parent[key];
  return isObject(v) ? v : undefined;
}

export function arrayAt(parent: unknown, key: string): unknown[] {
  if (!isObject(parent)) return [];
  const v = parent[key];
  return Array.isArray(v) ? v : [];
}

export function stringAt(parent: unknown, key: string): string | undefined {
  if (!isObject(parent)) return undefined;
  const v = parent[key];
  return typeof v === 'string' ? v : undefined;
}

/** Sets parent[key] = value when the key is absent (Kubernetes defaulting never overwrites). */
export function setDefault(parent: PlainObject, key: string, value: unknown): void {
  if (parent[key] === undefined || parent[key] === null) parent[key] = value;
}

/** Returns parent[key] as an object, creating it when absent; undefined when it is not an object. */
export function ensureObject(parent: PlainObject, key: string): PlainObject | undefined {
  if (parent[key] === undefined || parent[key] === null) parent[key] = {};
  return objectAt(parent, key);
}
