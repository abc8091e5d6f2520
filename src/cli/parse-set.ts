// Turns repeated `--set a.b.c=<JSON5>` flags into the nested openclaw.json fragment that
// `add agent` sends, and `--env KEY=VALUE` flags into an environment map. Pure.
import { isAbsolute, resolve } from 'node:path';
import JSON5 from 'json5';
import { FleetError } from '../errors.js';
import { ENV_NAME_PATTERN } from '../manifest/ids.js';
import { CREDENTIAL_NAME_PATTERN, type EnvValue } from '../secrets/refs.js';
import { formatPath } from '../manifest/render-issues.js';
import { findTooDeep, MAX_JSON_DEPTH } from '../util/json-depth.js';

const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/** Splits `KEY=VALUE` at the first `=`; throws USAGE naming the flag when there is none. */
function splitPair(flag: string, text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new FleetError('USAGE', `${flag} ${JSON.stringify(text)}: expected KEY=VALUE`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** Parses a dotted key into its segments; empty or prototype-touching segments are usage errors. */
function parseKey(key: string): string[] {
  const segments = key.split('.');
  const bad = segments.find((s) => s === '' || FORBIDDEN_KEYS.has(s));
  if (bad !== undefined) {
    throw new FleetError('USAGE', `--set ${JSON.stringify(key)}: invalid key (dotted openclaw.json path such as browser.enabled, no empty or reserved parts)`);
  }
  return segments;
}

/** Parses one JSON5 value; the error names the key, the value and how to quote a string. */
function parseValue(key: string, value: string): unknown {
  try {
    return JSON5.parse(value);
  } catch (err) {
    throw new FleetError(
      'USAGE',
      `--set ${key}=${value}: ${JSON.stringify(value)} is not a JSON5 value (${(err as Error).message}); quote strings, e.g. --set ${key}='"text"'`,
      { cause: err },
    );
  }
}

/** Builds the nested object of all `--set` flags; a key set twice, or inside another set key, is a usage error. */
export function parseSets(pairs: readonly string[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  const seen: string[] = [];
  for (const pair of pairs) {
    const [key, raw] = splitPair('--set', pair);
    const path = parseKey(key);
    const clash = seen.find((other) => other === key || key.startsWith(`${other}.`) || other.startsWith(`${key}.`));
    if (clash !== undefined) {
      throw new FleetError('USAGE', `--set ${key} conflicts with --set ${clash}: set each key once, and not both a key and a key inside it`);
    }
    seen.push(key);
    const value = parseValue(key, raw);
    let node = root;
    for (const segment of path.slice(0, -1)) {
      node[segment] ??= {};
      node = node[segment] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
  }
  // Bounded here, before anything walks or serializes it (fleetd refuses it too).
  const deep = findTooDeep(root, MAX_JSON_DEPTH);
  if (deep) throw new FleetError('USAGE', `--set ${formatPath(deep.slice(0, 3))}...: the value nests deeper than ${MAX_JSON_DEPTH} levels (at ${formatPath(deep)}); flatten it`);
  return root;
}

/** Builds the environment map of all `--env KEY=VALUE` flags (values taken verbatim). */
export function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const [name, value] = splitPair('--env', pair);
    checkEnvName('--env', name, env);
    env[name] = value;
  }
  return env;
}

/** Refuses a bad or repeated variable name of `flag`. */
function checkEnvName(flag: string, name: string, seen: Readonly<Record<string, unknown>>): void {
  if (!ENV_NAME_PATTERN.test(name)) throw new FleetError('USAGE', `${flag} ${JSON.stringify(name)}: not a valid environment variable name (letters, digits and _, not starting with a digit)`);
  if (Object.hasOwn(seen, name)) throw new FleetError('USAGE', `${flag} ${name} is given twice (--env, --env-file and --env-credential share one set of names)`);
}

/** Adds `--env-file NAME=PATH` (PATH made absolute from `cwd`: fleetd reads it at each start) and `--env-credential NAME=ID` references to `env`. */
export function parseEnvRefs(env: Readonly<Record<string, EnvValue>>, files: readonly string[], credentials: readonly string[], cwd: string): Record<string, EnvValue> {
  const out: Record<string, EnvValue> = { ...env };
  for (const pair of files) {
    const [name, path] = splitPair('--env-file', pair);
    checkEnvName('--env-file', name, out);
    if (path.includes('\0')) throw new FleetError('USAGE', `--env-file ${name}: the path contains a NUL byte`);
    out[name] = { file: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  for (const pair of credentials) {
    const [name, id] = splitPair('--env-credential', pair);
    checkEnvName('--env-credential', name, out);
    if (!CREDENTIAL_NAME_PATTERN.test(id)) throw new FleetError('USAGE', `--env-credential ${name}=${id}: not a systemd credential name (letters, digits, "_.@:+-", no "/")`);
    out[name] = { credential: id };
  }
  return out;
}
