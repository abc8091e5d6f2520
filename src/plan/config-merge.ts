// Three-way merge of openclaw.json, like kubectl's last-applied: the file as it is now
// (OpenClaw may have written it), the config fleetd applied last time, and the config the
// manifest and fleetd want now. Keys the manifest or fleetd set win (an override of a value
// OpenClaw changed is reported); keys the manifest dropped since the last apply are removed
// unless OpenClaw changed them since; every other key belongs to OpenClaw and survives.
// Objects merge key by key; arrays, scalars and null are values. Pure.
import { canonicalJson } from './hash.js';
import { isPlainObject, type JsonObject } from './merge.js';

/** Paths replaced as a whole by the desired value, never merged (fleetd owns the whole block). */
export const ATOMIC_CONFIG_PATHS: readonly string[] = ['gateway.auth'];

/** What the merge did (or, for a dry run, would do) at one path. */
export type ConfigChange =
  /** A desired value replaced a value OpenClaw wrote or changed since the last apply (or restores a key it deleted). */
  | { kind: 'override'; path: string[]; openclaw: unknown; desired: unknown }
  /** A desired value changed since the last apply (OpenClaw left the key alone). */
  | { kind: 'update'; path: string[]; from: unknown; to: unknown }
  /** The manifest dropped a key fleetd had applied, OpenClaw left it alone: removed. */
  | { kind: 'remove'; path: string[]; value: unknown }
  /** The manifest dropped a key fleetd had applied, but OpenClaw changed it since: kept as OpenClaw's. */
  | { kind: 'keep'; path: string[]; value: unknown; applied: unknown };

/** A subtree that belongs to OpenClaw (neither desired now nor applied before), kept as it is. */
export interface OpenClawKey {
  path: string[];
  value: unknown;
}

/** Inputs of mergeConfig. */
export interface MergeInput {
  /** openclaw.json as it is on disk now (undefined: there is no file yet). */
  current: JsonObject | undefined;
  /** The config fleetd applied last time (undefined: never recorded, e.g. first start or an older fleetd). */
  lastApplied: JsonObject | undefined;
  /** What the manifest and fleetd want now (managed keys included). */
  desired: JsonObject;
  /** Dotted paths replaced whole; default ATOMIC_CONFIG_PATHS. */
  atomicPaths?: readonly string[];
}

/** Result of mergeConfig. */
export interface MergeResult {
  /** The config to write. */
  config: JsonObject;
  /** Every change against `current`, in document order. */
  changes: ConfigChange[];
  /** OpenClaw's own subtrees (kept). */
  openclaw: OpenClawKey[];
  /** True when `config` differs from `current` (a write is needed). */
  changed: boolean;
}

/** True when two JSON values are equal (object key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return canonicalJson(a) === canonicalJson(b);
}

/** Merges current + last applied + desired into the config to write, and says what changed (pure). */
export function mergeConfig(input: MergeInput): MergeResult {
  const atomic = new Set(input.atomicPaths ?? ATOMIC_CONFIG_PATHS);
  const changes: ConfigChange[] = [];
  const openclaw: OpenClawKey[] = [];
  const config = mergeLevel([], input.current ?? {}, input.lastApplied, input.desired, { atomic, changes, openclaw });
  const changed = input.current === undefined || !jsonEqual(config, input.current);
  return { config, changes, openclaw, changed };
}

/** Accumulators of one merge. */
interface Walk {
  atomic: ReadonlySet<string>;
  changes: ConfigChange[];
  openclaw: OpenClawKey[];
}

/** Merges one object level; keys keep the current file's order, new desired keys come after. */
function mergeLevel(path: string[], current: JsonObject, applied: JsonObject | undefined, desired: JsonObject, walk: Walk): JsonObject {
  const out: JsonObject = {};
  const keys = [...Object.keys(current), ...Object.keys(desired).filter((k) => !Object.hasOwn(current, k))];
  for (const key of keys) {
    const here = [...path, key];
    const inCurrent = Object.hasOwn(current, key);
    const inApplied = applied !== undefined && Object.hasOwn(applied, key);
    const c = inCurrent ? current[key] : undefined;
    const a = inApplied ? applied![key] : undefined;
    if (Object.hasOwn(desired, key)) {
      const d = desired[key];
      if (isPlainObject(d) && isPlainObject(c) && !walk.atomic.has(here.join('.'))) {
        setOwn(out, key, mergeLevel(here, c, isPlainObject(a) ? a : undefined, d, walk));
        continue;
      }
      setOwn(out, key, cloneJson(d));
      if (inCurrent && jsonEqual(c, d)) continue;
      // OpenClaw's hand is on the value when it differs from what fleetd applied (or fleetd never applied it).
      const openclawTouched = inCurrent ? !inApplied || !jsonEqual(c, a) : inApplied;
      if (openclawTouched) walk.changes.push({ kind: 'override', path: here, openclaw: c, desired: d });
      else walk.changes.push({ kind: 'update', path: here, from: c, to: d });
      continue;
    }
    if (!inCurrent) continue; // applied before, gone from the file and from the manifest: nothing to do
    if (!inApplied) {
      walk.openclaw.push({ path: here, value: c });
      setOwn(out, key, cloneJson(c));
      continue;
    }
    if (jsonEqual(c, a)) {
      walk.changes.push({ kind: 'remove', path: here, value: c });
      continue;
    }
    if (isPlainObject(c) && isPlainObject(a)) {
      // Partly OpenClaw's: drop what fleetd applied and OpenClaw left alone, keep the rest.
      const rest = mergeLevel(here, c, a, {}, walk);
      if (Object.keys(rest).length > 0) setOwn(out, key, rest);
      continue;
    }
    walk.changes.push({ kind: 'keep', path: here, value: c, applied: a });
    setOwn(out, key, cloneJson(c));
  }
  return out;
}

/** Deep copy of a JSON value (own keys defined, never assigned: `__proto__` stays a key). */
function cloneJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneJson);
  if (isPlainObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, cloneJson(v));
    return out;
  }
  return value;
}

/** Defines `key` as an ordinary own property. */
function setOwn(target: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Dotted form of a change's path, for people (`agents.defaults.workspace`). */
export function formatConfigPath(path: readonly string[]): string {
  return path.map((p) => (/^[A-Za-z_$][\w$-]*$/.test(p) ? p : JSON.stringify(p))).join('.');
}
