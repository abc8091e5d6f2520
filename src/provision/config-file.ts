// Reading the two JSON files of config ownership: openclaw.json as OpenClaw left it (JSON5,
// never through a symlink: a tenant could point it at a file only fleetd may read, and
// fleetd would copy that file's content into the config) and fleetd's last-applied record.
// A config that is not valid JSON5 is never overwritten: the error names the file, line and
// column, and how to recover.
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from 'node:fs';
import JSON5 from 'json5';
import { FleetError } from '../errors.js';
import { isPlainObject, type JsonObject } from '../plan/merge.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** Nesting deeper than this is refused (a hostile file must not exhaust the stack of any walk). */
export const MAX_CONFIG_DEPTH = 100;

/** Largest openclaw.json read (bytes). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** openclaw.json as read: its exact text, parsed content and identity (to notice a write meanwhile). */
export interface ConfigSnapshot {
  text: string;
  config: JsonObject;
  /** `ino:size:mtimeNs`: changes with every write, atomic (rename) or in place. */
  identity: string;
  /** Mode bits of the file (0o600 expected). */
  mode: number;
}

// Both files are read in the caller's turn with synchronous calls. Every launch reads them
// (restarts included), and each awaited call was a trip through libuv's thread pool and a
// turn of a busy event loop: at N = 200 with status polled every 2 ms (bench/overhead.mjs,
// kill -9 row) these ~10 hops made a restart's provisioning take 20-35 ms, for two files of
// a few KiB that are read in microseconds (the size is checked before the read).
/** Reads openclaw.json; undefined when it does not exist; PROVISION_FAILED when it cannot be merged. */
export async function readConfigFile(path: string): Promise<ConfigSnapshot | undefined> {
  let link;
  try {
    link = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!link.isFile()) {
    throw new FleetError('PROVISION_FAILED', `${path} is ${link.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; fleetd neither follows nor replaces it. Move it away (OpenClaw wants a regular file there) and start the agent again`);
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // removed between the two calls
    throw err;
  }
  let text: string;
  let identity: string;
  let mode: number;
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) throw new FleetError('PROVISION_FAILED', `${path} is not a regular file; move it away and start the agent again`);
    if (st.size > BigInt(MAX_CONFIG_BYTES)) throw new FleetError('PROVISION_FAILED', `${path} is ${st.size} bytes, over the ${MAX_CONFIG_BYTES} fleetd reads; it cannot be a sane openclaw.json`);
    text = readFileSync(fd, 'utf8');
    identity = `${st.ino}:${st.size}:${st.mtimeNs}`;
    mode = Number(st.mode & 0o777n);
  } finally {
    closeSync(fd);
  }
  return { text, config: parseConfigText(text, path), identity, mode };
}

// Plain JSON (what fleetd and OpenClaw write) goes through V8's parser; JSON5's parser (comments,
// trailing commas: a hand edit) only when that fails, and its error is the one reported. The two
// agree on every JSON text; JSON5's, in JavaScript, was ~0.15 ms of each launch's provisioning
// (30 ms of a start of all at N = 200, CPU profile, issue 14).
/** JSON5 text parsed; throws JSON5's SyntaxError (with lineNumber and columnNumber). */
function parseJson5Text(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return JSON5.parse(body);
  }
}

/** Parses openclaw.json text; PROVISION_FAILED with `file:line:col` when it is not a JSON5 object. */
export function parseConfigText(text: string, path: string): JsonObject {
  let value: unknown;
  try {
    value = parseJson5Text(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    const e = err as SyntaxError & { lineNumber?: number; columnNumber?: number };
    const where = e.lineNumber !== undefined ? `${path}:${e.lineNumber}:${e.columnNumber ?? 1}` : path;
    const why = String(e.message).replace(/^JSON5: /, '').replace(/ at \d+:\d+$/, '');
    throw new FleetError(
      'PROVISION_FAILED',
      `${where}: not valid JSON5 (${why}); fleetd does not overwrite a config it cannot read. Fix the file (OpenClaw keeps earlier versions next to it as openclaw.json.bak*), or run \`openclaw doctor --fix\` as the agent (fleetctl openclaw <fleet>/<agent> doctor --fix), then start the agent again`,
      { cause: err },
    );
  }
  if (!isPlainObject(value)) throw new FleetError('PROVISION_FAILED', `${path}: expected a JSON5 object at the top, found ${Array.isArray(value) ? 'an array' : typeof value}; fix or move the file, then start the agent again`);
  const depth = depthOf(value, MAX_CONFIG_DEPTH);
  if (depth > MAX_CONFIG_DEPTH) throw new FleetError('PROVISION_FAILED', `${path}: nested deeper than ${MAX_CONFIG_DEPTH} levels; fleetd does not merge it. Fix or move the file`);
  return value;
}

/** Nesting depth of a JSON value, counted without recursion; stops counting past `limit`. */
export function depthOf(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > max) max = depth + 1;
    if (max > limit) return max;
    for (const child of Object.values(node as object)) stack.push([child, depth + 1]);
  }
  return max;
}

/** The last config fleetd applied (read in the caller's turn, see readConfigFile); undefined when none is recorded or the record is unreadable. */
export async function readAppliedConfig(path: string): Promise<{ config: JsonObject | undefined; problem?: string }> {
  let text: string;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { config: undefined };
    return { config: undefined, problem: `${path}: ${code ?? (err as Error).message}` };
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (isPlainObject(value) && depthOf(value, MAX_CONFIG_DEPTH) <= MAX_CONFIG_DEPTH) return { config: value };
  } catch {
    // fall through
  }
  // Without a base every key of the file counts as OpenClaw's and desired keys still win: safe.
  return { config: undefined, problem: `${path} is damaged (not a JSON object); it is rewritten at the next apply` };
}

/** Records the config just applied (atomic, 0600). */
export async function writeAppliedConfig(path: string, config: JsonObject): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}
