// The one merge rule of fleetd's config layers: objects merge key by key, recursively;
// arrays, scalars and null replace whatever was below them. Inputs are never mutated.

/** A JSON object (what openclaw.json and its fragments are). */
export type JsonObject = Record<string, unknown>;

/** True for a plain object (not an array, not null): the only thing that merges. */
export function isPlainObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Deep-merges config layers, later layers winning (defaults < fleet defaults < agent < managed). */
export function deepMerge(...layers: Array<JsonObject | undefined>): JsonObject {
  let out: JsonObject = {};
  for (const layer of layers) {
    if (layer !== undefined) out = mergeTwo(out, layer);
  }
  return out;
}

/** Merges `top` onto `base` into a new object. */
function mergeTwo(base: JsonObject, top: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(base)) setOwn(out, key, value);
  for (const [key, value] of Object.entries(top)) {
    const below = out[key];
    setOwn(out, key, isPlainObject(below) && isPlainObject(value) ? mergeTwo(below, value) : cloneJson(value));
  }
  return out;
}

/** Copies a JSON value so the result shares nothing with the manifest it came from. */
function cloneJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneJson);
  if (isPlainObject(value)) return mergeTwo({}, value);
  return value;
}

// A JSON5 `"__proto__"` key arrives as an own property; plain assignment would change the
// prototype instead of copying the key, so every key is defined, never assigned.
/** Defines `key` as an ordinary own property. */
function setOwn(target: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
