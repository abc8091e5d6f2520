// Listing and deleting installed runtimes (`fleetctl runtime list|remove|prune`). Deletion
// takes the same per-version lock as installs, and only ever deletes a real folder that is
// exactly `<runtimesDir>/openclaw-<version>` (see removeOwnedDir).
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { cleanLeftovers } from './install.js';
import { assertRuntimeKey, removeOwnedDir, runtimeDir, versionOfEntry } from './layout.js';
import { withRuntimeLock } from './lock.js';
import { readMarker } from './marker.js';
import { parseRuntimeKey } from './runtime-key.js';
import { compareVersions, parseVersion } from './semver.js';
import type { RuntimeInfo } from './types.js';

/** Complete runtimes under `runtimesDir`, oldest version first; half-finished folders are left out. */
export async function listRuntimes(runtimesDir: string): Promise<RuntimeInfo[]> {
  const out: RuntimeInfo[] = [];
  for (const name of await readdirOrEmpty(runtimesDir)) {
    const entry = versionOfEntry(name);
    if (entry?.kind !== 'final') continue;
    const dir = runtimeDir(runtimesDir, entry.version);
    const st = await lstat(dir).catch(() => undefined);
    if (!st || st.isSymbolicLink() || !st.isDirectory()) continue;
    const marker = await readMarker(dir);
    const id = parseRuntimeKey(entry.version);
    if (!id || !marker || 'damaged' in marker || marker.version !== id.openclaw) continue;
    if (id.node !== undefined && marker.nodeVersion !== id.node) continue;
    out.push({ version: entry.version, openclaw: id.openclaw, dir, nodeVersion: marker.nodeVersion, nodeReason: marker.nodeReason, sizeBytes: marker.sizeBytes, installedAt: marker.installedAt });
  }
  return out.sort((a, b) => compareKeys(a.version, b.version));
}

/** Deletes one installed runtime (`version`: its key) and its leftovers; NOT_FOUND when it is not installed. */
export async function removeRuntime(runtimesDir: string, version: string, options: { lockTimeoutMs?: number } = {}): Promise<void> {
  assertRuntimeKey(version);
  const notFound = (): FleetError => new FleetError('NOT_FOUND', `openclaw@${version} is not installed in ${runtimesDir}; see \`fleetctl runtime list\``);
  if ((await readdirOrEmpty(runtimesDir)).length === 0) throw notFound();
  await withRuntimeLock(runtimesDir, version, { timeoutMs: options.lockTimeoutMs }, async () => {
    const removed = await removeOwnedDir(runtimesDir, `openclaw-${version}`);
    await cleanLeftovers(runtimesDir, version);
    if (!removed) throw notFound();
  });
}

// A version whose lock is taken is being installed or removed right now: prune skips it
// (lockTimeoutMs 0 by default) rather than delete something about to be used.
/** Deletes every version not in `inUse` and dead leftovers; returns the versions removed. REFUSED (after the rest) for symlinks. */
export async function pruneRuntimes(runtimesDir: string, inUse: Set<string>, options: { lockTimeoutMs?: number } = {}): Promise<string[]> {
  const versions = new Set<string>();
  for (const name of await readdirOrEmpty(runtimesDir)) {
    const entry = versionOfEntry(name);
    if (entry) versions.add(entry.version);
  }
  const removed: string[] = [];
  const refused: Array<{ version: string; reason: string }> = [];
  for (const version of versions) {
    try {
      await withRuntimeLock(runtimesDir, version, { timeoutMs: options.lockTimeoutMs ?? 0 }, async () => {
        if (!inUse.has(version) && (await readMarker(join(runtimesDir, `openclaw-${version}`))) !== undefined) {
          if (await removeOwnedDir(runtimesDir, `openclaw-${version}`)) removed.push(version);
        }
        await cleanLeftovers(runtimesDir, version);
      });
    } catch (err) {
      if (err instanceof FleetError && err.code === 'TIMEOUT') continue; // busy: next prune gets it
      if (err instanceof FleetError && err.code === 'REFUSED') {
        refused.push({ version, reason: err.message });
        continue;
      }
      throw err;
    }
  }
  if (refused.length > 0) {
    throw new FleetError('REFUSED', `removed ${removed.length ? removed.join(', ') : 'nothing'}; refused: ${refused.map((r) => r.reason).join('; ')}`, {
      details: { removed, refused },
    });
  }
  return removed.sort(compareKeys);
}

/** Orders runtime keys: by OpenClaw version, then unpinned before pinned, then by Node version. */
export function compareKeys(a: string, b: string): number {
  const x = parseRuntimeKey(a);
  const y = parseRuntimeKey(b);
  if (!x || !y) return a < b ? -1 : a > b ? 1 : 0;
  const byOpenclaw = compareVersions(parseVersion(x.openclaw)!, parseVersion(y.openclaw)!);
  if (byOpenclaw !== 0) return byOpenclaw;
  if (x.node === undefined || y.node === undefined) return x.node === y.node ? 0 : x.node === undefined ? -1 : 1;
  return compareVersions(x.node, y.node);
}

/** readdir that treats a missing folder as empty. */
async function readdirOrEmpty(dir: string): Promise<string[]> {
  return readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
}
