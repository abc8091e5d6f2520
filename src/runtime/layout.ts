// Where things live inside a runtimes directory, and the one careful way to delete there.
// <key> is a runtime key (runtime-key.ts): `2026.9.6`, or `2026.9.6+node-24.21.0` when the
// Node is pinned.
//   <runtimesDir>/openclaw-<key>/            a complete runtime (has fleetd-runtime.json)
//   <runtimesDir>/.openclaw-<key>.lock       proper-lockfile's lock for that runtime
//   <runtimesDir>/.tmp-openclaw-<key>-XXXXXX an install in progress (or a dead one)
//   <runtimesDir>/.trash-openclaw-<key>-XXXXXX a removal in progress (or a dead one)
import { lstat, realpath, rename, rm, mkdtemp } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FleetError } from '../errors.js';
import { parseRuntimeKey, requireRuntimeKey } from './runtime-key.js';

/** Name of the marker written last into a runtime: its presence means "complete". */
export const MARKER_FILE = 'fleetd-runtime.json';

/** Throws USAGE unless `key` is a runtime key (exact versions: a path component we can trust). */
export function assertRuntimeKey(key: string): void {
  requireRuntimeKey(key);
}

/** `<runtimesDir>/openclaw-<key>`. */
export function runtimeDir(runtimesDir: string, key: string): string {
  return join(resolve(runtimesDir), `openclaw-${key}`);
}

/** The per-runtime lock path (a directory proper-lockfile creates). */
export function lockPath(runtimesDir: string, key: string): string {
  return join(resolve(runtimesDir), `.openclaw-${key}.lock`);
}

/** Prefix of the temp folders of installs of `key` (mkdtemp appends 6 characters). */
export function tempPrefix(key: string): string {
  return `.tmp-openclaw-${key}-`;
}

/** Prefix of folders being deleted. */
export function trashPrefix(key: string): string {
  return `.trash-openclaw-${key}-`;
}

/** The runtime key a runtimes-dir entry belongs to (final, temp or trash folder), or undefined. */
export function versionOfEntry(name: string): { version: string; kind: 'final' | 'temp' | 'trash' } | undefined {
  const m = /^(?:(\.tmp-)|(\.trash-))?openclaw-(.+?)(?:-([A-Za-z0-9]{6}))?$/.exec(name);
  if (!m) return undefined;
  const kind = m[1] ? 'temp' : m[2] ? 'trash' : 'final';
  // a final folder has no random suffix; "openclaw-1.2.3-beta" must keep its "-beta"
  const version = kind === 'final' ? name.slice('openclaw-'.length) : m[3];
  if (version === undefined || !parseRuntimeKey(version) || (kind !== 'final' && !m[4])) return undefined;
  return { version, kind };
}

// Deleting ~840 MB trees on behalf of a daemon: refuse anything that is not exactly the
// folder we name (no symlink, no path that resolves elsewhere). The folder is first renamed
// to a trash name, so a crash halfway leaves a trash folder, never a half-deleted runtime.
/** Removes `<runtimesDir>/<name>` after containment checks; false when it did not exist. */
export async function removeOwnedDir(runtimesDir: string, name: string): Promise<boolean> {
  const entry = versionOfEntry(name);
  if (!entry) throw new FleetError('REFUSED', `${JSON.stringify(name)} is not a runtime folder name; not removing it`);
  const root = await realpath(runtimesDir);
  const target = join(resolve(runtimesDir), name);
  const st = await lstat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) return false;
  if (st.isSymbolicLink()) {
    throw new FleetError('REFUSED', `${target} is a symlink, not a runtime fleetd installed; remove it by hand if you meant to`);
  }
  if (!st.isDirectory()) {
    throw new FleetError('REFUSED', `${target} is not a directory; remove it by hand if you meant to`);
  }
  if ((await realpath(target)) !== join(root, name)) {
    throw new FleetError('REFUSED', `${target} resolves to ${await realpath(target)}, outside ${root}; not removing it`);
  }
  let doomed = target;
  if (entry.kind !== 'trash') {
    // mkdtemp reserves a unique name; rename replaces that empty folder atomically
    doomed = await mkdtemp(join(root, trashPrefix(entry.version)));
    await rename(target, doomed);
  }
  await rm(doomed, { recursive: true, force: true });
  return true;
}
