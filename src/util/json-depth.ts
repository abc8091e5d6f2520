// How deep JSON data may nest. Input of any depth must never reach code that walks it
// recursively (deepMerge, canonicalJson, JSON.stringify, renderers: a stack overflow is a
// crash without a location), so every way in (the manifest, request bodies, the registry)
// checks depth first, with this one iterative walk and this one limit.

/** Most levels of objects/arrays fleetd accepts in any JSON or JSON5 input (OpenClaw configs use ~10). */
export const MAX_JSON_DEPTH = 100;

/** A path into JSON data: object keys and array indexes. */
export type JsonPath = Array<string | number>;

/** One container still to look into, with the way back to the root. */
interface Pending {
  value: object;
  depth: number;
  key: string | number | null;
  parent: Pending | null;
}

/** Path of the first object/array nested deeper than `max` levels (the root is level 1); undefined when none is. */
export function findTooDeep(value: unknown, max: number = MAX_JSON_DEPTH): JsonPath | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const stack: Pending[] = [{ value, depth: 1, key: null, parent: null }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.depth > max) return pathOf(item);
    const entries: Array<[string | number, unknown]> = Array.isArray(item.value) ? item.value.map((v, i) => [i, v]) : Object.entries(item.value);
    for (const [key, child] of entries) {
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: item.depth + 1, key, parent: item });
    }
  }
  return undefined;
}

/** Rebuilds the path from the root to `item`. */
function pathOf(item: Pending): JsonPath {
  const path: JsonPath = [];
  for (let at: Pending | null = item; at && at.key !== null; at = at.parent) path.push(at.key);
  return path.reverse();
}
