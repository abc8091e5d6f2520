// Writes fleetd's few files inside an agent's home without ever following a link the
// agent (possibly another user) planted there. Node has no openat(), so each step opens
// the next folder through `/proc/self/fd/<fd>/<name>` with O_NOFOLLOW: the kernel resolves
// the name inside the folder already opened, never through a symlink, so swapping a
// folder for a symlink between two steps gets ELOOP, not a write elsewhere. Files are
// written as a temp file (O_EXCL|O_NOFOLLOW) renamed over the old one, and skipped when
// unchanged. Linux only (like the rest of fleetd).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, mkdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { FleetError } from '../errors.js';
import type { Ids } from './mailbox.js';

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** One file to write in the target folder. */
export interface HomeFile {
  name: string;
  data: string;
}

/** Where to write: `segments` below `home`; those listed in `owned` are created by fleetd (0700, given to `owner`). */
export interface HomeTarget {
  home: string;
  /** Folder names below home, e.g. ['workspace', '.fleetd', 'federation']. */
  segments: string[];
  /** How many of the LAST segments fleetd owns (creates, chmods 0700, chowns to `owner`). */
  owned: number;
  /** The agent's user when it runs as its own user; files and owned folders are given to it. */
  owner?: Ids | undefined;
}

function at(handle: FileHandle, name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new FleetError('INTERNAL', `unsafe file name ${JSON.stringify(name)}`);
  return `/proc/self/fd/${handle.fd}/${name}`;
}

/** Opens a folder by name inside an open folder, refusing a symlink. */
async function openDirAt(parent: FileHandle | string, name: string | undefined, shown: string): Promise<FileHandle> {
  const path = typeof parent === 'string' ? parent : at(parent, name!);
  try {
    return await open(path, DIR_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new FleetError('PROVISION_FAILED', `${shown} is a symlink or not a folder; fleetd writes only into real folders. Move it away and reload`, { cause: err });
    throw new FleetError('PROVISION_FAILED', `cannot open ${shown}: ${(err as Error).message}`, { cause: err });
  }
}

/** Opens (creating the owned ones) the folder chain of `target`; the caller closes the handle. */
async function openTarget(target: HomeTarget): Promise<FileHandle> {
  let current = await openDirAt(target.home, undefined, target.home);
  let shown = target.home;
  try {
    target.segments.forEach((s) => at(current, s)); // validates every name first
    for (const [i, segment] of target.segments.entries()) {
      const owned = i >= target.segments.length - target.owned;
      shown = `${shown}/${segment}`;
      if (owned) await mkdir(at(current, segment), { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      const next = await openDirAt(current, segment, shown);
      await current.close();
      current = next;
      if (owned) {
        if (target.owner) await current.chown(target.owner.uid, target.owner.gid);
        await current.chmod(0o700);
      }
    }
    return current;
  } catch (err) {
    await current.close().catch(() => {});
    throw err;
  }
}

/** Reads a file inside an open folder without following a link; undefined when absent or not a regular file. */
async function readAt(dir: FileHandle, name: string): Promise<{ text: string; mode: number; uid: number } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(at(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return undefined;
    return { text: await handle.readFile('utf8'), mode: stat.mode & 0o7777, uid: stat.uid };
  } finally {
    await handle.close();
  }
}

/** Writes `files` (0600) into the target folder; unchanged files are left alone. Returns the names written. */
export async function writeHomeFiles(target: HomeTarget, files: readonly HomeFile[]): Promise<string[]> {
  const dir = await openTarget(target);
  const written: string[] = [];
  try {
    for (const file of files) {
      const current = await readAt(dir, file.name);
      const uid = target.owner?.uid ?? process.getuid?.() ?? 0;
      if (current && current.text === file.data && current.mode === 0o600 && current.uid === uid) continue;
      const tmpName = `.${file.name}.${randomBytes(6).toString('hex')}.tmp`;
      const handle = await open(at(dir, tmpName), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        await handle.writeFile(file.data);
        if (target.owner) await handle.chown(target.owner.uid, target.owner.gid);
        await handle.chmod(0o600);
        await handle.sync();
      } catch (err) {
        await handle.close().catch(() => {});
        await unlink(at(dir, tmpName)).catch(() => {});
        throw err;
      }
      await handle.close();
      await rename(at(dir, tmpName), at(dir, file.name));
      written.push(file.name);
    }
    if (written.length > 0) await dir.sync().catch(() => {});
  } finally {
    await dir.close();
  }
  return written;
}

/** Removes `names` from the target folder if it exists (never through a link); returns the names removed. */
export async function removeHomeFiles(target: HomeTarget, names: readonly string[]): Promise<string[]> {
  let dir: FileHandle;
  try {
    dir = await openTarget({ ...target, owned: 0 });
  } catch (err) {
    const cause = (err as FleetError).cause as NodeJS.ErrnoException | undefined;
    if (cause?.code === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  try {
    for (const name of names) {
      try {
        await unlink(at(dir, name));
        removed.push(name);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  } finally {
    await dir.close();
  }
  return removed;
}
