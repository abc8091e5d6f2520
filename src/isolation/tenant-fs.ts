// File operations inside folders a tenant user owns, done by a privileged fleetd without
// ever following a link the tenant planted. A folder is opened once (O_DIRECTORY |
// O_NOFOLLOW) and everything below it is reached through /proc/self/fd/<fd>/<name>: the
// kernel resolves that from the held inode, exactly like openat(2), so renaming a folder
// away and putting a symlink in its place after the check changes nothing (no
// check-then-use window). The last component is never followed either: files are created
// O_EXCL|O_NOFOLLOW and swapped in with rename(2), ownership is set with lchown/fchown.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FleetError } from '../errors.js';

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** An owner to give: uid and gid. */
export interface Owner {
  uid: number;
  gid: number;
}

/** A folder held open by fd; `path` is only for messages. */
export class HeldDir {
  private constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  /** Opens `path`, following symlinks (for the state dir, which the operator may have linked). */
  static open(path: string): HeldDir {
    try {
      return new HeldDir(openSync(path, constants.O_RDONLY | constants.O_DIRECTORY), path);
    } catch (err) {
      throw new FleetError('PROVISION_FAILED', `cannot open folder ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** `/proc/self/fd/<fd>/<name>`: `name` looked up in this very folder. */
  at(name: string): string {
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new Error(`internal: not a single path component: ${JSON.stringify(name)}`);
    return `/proc/self/fd/${this.fd}/${name}`;
  }

  /** Opens child folder `name`; a symlink (or anything but a folder) there is refused. */
  openChild(name: string): HeldDir {
    const shown = join(this.path, name);
    try {
      return new HeldDir(openSync(this.at(name), DIR_FLAGS), shown);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      let what = (err as Error).message;
      if (code === 'ELOOP' || code === 'ENOTDIR') {
        const isLink = (() => {
          try {
            return lstatSync(this.at(name)).isSymbolicLink();
          } catch {
            return false;
          }
        })();
        what = isLink ? 'it is a symlink, and fleetd never writes through one' : 'it is not a folder';
      }
      throw new FleetError('PROVISION_FAILED', `refusing ${shown}: ${what}; move it away and retry`, { cause: err });
    }
  }

  /** Creates child folder `name` if missing (never through a symlink), opens it, sets `mode` and `owner`. */
  ensureChild(name: string, mode: number, owner?: Owner): HeldDir {
    try {
      mkdirSync(this.at(name), { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new FleetError('PROVISION_FAILED', `cannot create ${join(this.path, name)}: ${(err as Error).message}`, { cause: err });
      }
    }
    const child = this.openChild(name);
    try {
      child.set(mode, owner);
    } catch (err) {
      child.close();
      throw err;
    }
    return child;
  }

  /** fchmod/fchown of this folder (only when different). */
  set(mode: number, owner?: Owner): void {
    const st = this.stat();
    if (owner && (st.uid !== owner.uid || st.gid !== owner.gid)) fchownSync(this.fd, owner.uid, owner.gid);
    if ((st.mode & 0o7777) !== mode) fchmodSync(this.fd, mode);
  }

  stat(): Stats {
    return fstatSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Opens `base` (following) and then each of `parts` without following; the caller closes the result. */
export function openDirChain(base: string, parts: readonly string[]): HeldDir {
  let dir = HeldDir.open(base);
  for (const part of parts) {
    try {
      const next = dir.openChild(part);
      dir.close();
      dir = next;
    } catch (err) {
      dir.close();
      throw err;
    }
  }
  return dir;
}

/** Content of file `name` in `dir` (not following a symlink); undefined when absent or not a regular file. */
export function readFileIn(dir: HeldDir, name: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(dir.at(name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Atomically replaces file `name` in `dir` (temp O_EXCL|O_NOFOLLOW, fsync, rename, fsync of the folder). */
export function writeFileIn(dir: HeldDir, name: string, data: string, options: { mode: number; owner?: Owner }): void {
  const tmp = `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(dir.at(tmp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, options.mode);
  try {
    const bytes = Buffer.from(data);
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    if (options.owner) fchownSync(fd, options.owner.uid, options.owner.gid);
    fchmodSync(fd, options.mode);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(dir.at(tmp));
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(dir.at(tmp), dir.at(name));
  } catch (err) {
    unlinkSync(dir.at(tmp));
    throw err;
  }
  try {
    fsyncSync(dir.fd);
  } catch {
    // some filesystems refuse fsync on folders; the rename is still atomic
  }
}

/** What chownTree did. */
export interface ChownResult {
  /** Entries whose owner changed. */
  changed: number;
  /** Entries left alone on purpose (hard-linked files, device nodes), as paths for the log. */
  skipped: string[];
}

// A hard link with a second name elsewhere (say /etc/shadow, linked into the home by a
// gateway that once ran as root) would hand that file to the tenant: files with more than
// one link, and device nodes, keep their owner and are reported instead.
/** Gives everything below `dir` (and `dir`) to `owner`, never following a link. */
export function chownTree(dir: HeldDir, owner: Owner): ChownResult {
  const result: ChownResult = { changed: 0, skipped: [] };
  const st = dir.stat();
  if (st.uid !== owner.uid || st.gid !== owner.gid) {
    fchownSync(dir.fd, owner.uid, owner.gid);
    result.changed++;
  }
  for (const entry of readdirSync(`/proc/self/fd/${dir.fd}`, { withFileTypes: true })) {
    const shown = join(dir.path, entry.name);
    if (entry.isDirectory()) {
      let child: HeldDir;
      try {
        child = dir.openChild(entry.name);
      } catch {
        // swapped for something else since readdir: give the entry itself, never a target
        lchownSync(dir.at(entry.name), owner.uid, owner.gid);
        result.changed++;
        continue;
      }
      try {
        const sub = chownTree(child, owner);
        result.changed += sub.changed;
        result.skipped.push(...sub.skipped);
      } finally {
        child.close();
      }
      continue;
    }
    const est = lstatSync(dir.at(entry.name));
    if ((est.isFile() && est.nlink > 1) || est.isBlockDevice() || est.isCharacterDevice()) {
      result.skipped.push(shown);
      continue;
    }
    if (est.uid !== owner.uid || est.gid !== owner.gid) {
      lchownSync(dir.at(entry.name), owner.uid, owner.gid);
      result.changed++;
    }
  }
  return result;
}
