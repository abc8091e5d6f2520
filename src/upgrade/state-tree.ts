// Copying an agent's OpenClaw state folder (`<home>/.openclaw`) into a snapshot and back.
// The folder may belong to a tenant user who can swap any entry for a symlink, so the walk
// never follows one: entries are lstat'ed, symlinks are copied as symlinks, and only
// regular files and folders are read. SQLite databases are copied with SQLite's online
// backup (sqlite-copy.ts) into one consolidated file each, and their -wal/-shm/-journal
// sidecars are left behind; every other file is copied as it is (a reflink where the
// filesystem offers one). Modes are kept; owners too when fleetd runs as root.
import { constants } from 'node:fs';
import { copyFile, lchown, lstat, mkdir, open, readdir, readlink, chmod, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { SQLITE_HEADER } from './sqlite-copy.js';

/** What a copy did. */
export interface TreeCopyResult {
  files: number;
  bytes: number;
  /** Databases copied through the backup API, relative to the source. */
  databases: string[];
  symlinks: number;
}

/** Inputs of copyStateTree. */
export interface TreeCopyOptions {
  source: string;
  /** Created (0700 unless the source folder's mode says otherwise); must not exist. */
  target: string;
  /** Relative paths (with `/`) to leave out, e.g. `tmp` and `cache` at the top. */
  exclude?: (rel: string) => boolean;
  /** Copies one SQLite database consistently; without it databases are copied as files (with sidecars). */
  copyDatabase?: (source: string, target: string) => Promise<void>;
  /** lchown every entry to its source's owner (only meaningful as root). Default: when running as root. */
  preserveOwner?: boolean;
}

/** SQLite file names OpenClaw uses (`openclaw.sqlite`, `openclaw-agent.sqlite`) and common others. */
const DB_NAME = /\.(sqlite3?|db)$/;
/** Sidecars of a database in WAL or rollback mode. */
const SIDECAR = /^(.*)-(wal|shm|journal)$/;

/** True when the first 16 bytes of `path` are SQLite's header. */
export async function isSqliteFile(path: string): Promise<boolean> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!handle) return false;
  try {
    const buf = Buffer.alloc(16);
    const { bytesRead } = await handle.read(buf, 0, 16, 0);
    return bytesRead === 16 && buf.toString('latin1') === SQLITE_HEADER;
  } finally {
    await handle.close();
  }
}

/** Copies `source` to `target` without following symlinks; returns what was copied. */
export async function copyStateTree(o: TreeCopyOptions): Promise<TreeCopyResult> {
  const result: TreeCopyResult = { files: 0, bytes: 0, databases: [], symlinks: 0 };
  const preserveOwner = o.preserveOwner ?? process.getuid?.() === 0;
  const top = await lstat(o.source);
  if (!top.isDirectory()) throw new FleetError('REFUSED', `${o.source} is not a real folder (a symlink or a file); refusing to copy through it`);
  await mkdir(o.target, { mode: 0o700 });
  await finish(o.target, top.mode, top.uid, top.gid, preserveOwner, false);

  const walk = async (rel: string): Promise<void> => {
    const dir = rel === '' ? o.source : join(o.source, rel);
    const names = (await readdir(dir)).sort();
    // databases first, so their sidecars are known when the other names come
    const databases = new Set<string>();
    if (o.copyDatabase) {
      for (const name of names) {
        const path = join(dir, name);
        const st = await lstat(path);
        if (st.isFile() && DB_NAME.test(name) && (await isSqliteFile(path))) databases.add(name);
      }
    }
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (o.exclude?.(childRel)) continue;
      const from = join(dir, name);
      const to = join(o.target, childRel);
      const st = await lstat(from);
      if (st.isSymbolicLink()) {
        await symlink(await readlink(from), to);
        if (preserveOwner) await lchown(to, st.uid, st.gid);
        result.symlinks += 1;
      } else if (st.isDirectory()) {
        await mkdir(to, { mode: 0o700 });
        await walk(childRel);
        await finish(to, st.mode, st.uid, st.gid, preserveOwner, false);
      } else if (st.isFile()) {
        const sidecarOf = SIDECAR.exec(name)?.[1];
        if (sidecarOf !== undefined && databases.has(sidecarOf)) continue; // folded into the backup copy
        if (databases.has(name) && o.copyDatabase) {
          await o.copyDatabase(from, to);
          result.databases.push(childRel);
        } else {
          await copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
        }
        result.files += 1;
        result.bytes += (await lstat(to)).size;
        await finish(to, st.mode, st.uid, st.gid, preserveOwner, true);
      }
      // sockets, fifos and devices are not state: left out
    }
  };
  await walk('');
  return result;
}

/** Applies mode (and owner) to a copied entry. */
async function finish(path: string, mode: number, uid: number, gid: number, preserveOwner: boolean, isFile: boolean): Promise<void> {
  if (preserveOwner) await lchown(path, uid, gid);
  await chmod(path, mode & (isFile ? 0o777 : 0o7777));
}
