/**
 * Keys that could reach an object's prototype when a parsed document is merged or patched into
 * another (`target[key] = value` with key `__proto__` sets the prototype). Bodies, patches and
 * manifests holding them are refused wherever they enter, so no later merge has to be careful.
 */
export const UNSAFE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Whether a key (or a `$directive/<field>` key of a strategic merge patch) is unsafe. */
export function isUnsafeKey(key: string): boolean {
  if (UNSAFE_KEYS.has(key)) return true;
  return key.startsWith('$') && key.includes('/') && UNSAFE_KEYS.has(key.slice(key.indexOf('/') + 1));
}

/** The first unsafe key in a JSON-like value, with the path to the object holding it; walks without recursion. */
export function unsafeKeyIn(value: unknown): { key: string; path: (string | number)[] } | undefined {
  // Only objects and arrays are stacked, each with a link to its parent's path (built only on a find).
  type At = { seg: string | number; up: At } | undefined;
  const stack: { v: object; at: At }[] =
    typeof value === 'object' && value !== null ? [{ v: value, at: undefined }] : [];
  while (stack.length) {
    const { v, at } = stack.pop()!;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++)
        if (typeof v[i] === 'object' && v[i] !== null) stack.push({ v: v[i], at: { seg: i, up: at } });
      continue;
    }
    for (const key of Object.keys(v)) {
      if (isUnsafeKey(key)) {
        const path: (string | number)[] = [];
        for (let a = at; a; a = a.up) path.unshift(a.seg);
        return { key, path };
      }
      const child = (v as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) stack.push({ v: child, at: { seg: key, up: at } });
    }
  }
  return undefined;
}
