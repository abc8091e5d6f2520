import { close, fchmod, fsync, mkdir, open, rename, unlink, writeFile } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

// The callback functions of node:fs, promisified, not fs/promises: a FileHandle per open (a
// C++ object with a finalizer, and a promise per call on it) cost ~40 us of fleetd's main
// thread per file at N = 200, two per write (the temp file, the folder's fsync): ~40 ms of a
// first start, which writes openclaw.json and config.applied.json for each agent (CPU
// profile, issue 14: `openFileHandle` among the first self-time entries).
const openFd = promisify(open);
const writeFd = promisify(writeFile);
const chmodFd = promisify(fchmod);
const syncFd = promisify(fsync);
const closeFd = promisify(close);
const renameFile = promisify(rename);
const unlinkFile = promisify(unlink);
const makeDir = promisify(mkdir);

/** Options for writeFileAtomic. */
export interface AtomicWriteOptions {
  /** File mode of the result (default 0o600: everything fleetd writes is private). */
  mode?: number;
}

// Writes `data` to `path` so that a crash at any instant leaves either the old file or the
// new one: temp file in the same directory, fsync, rename, fsync of the directory.
/** Atomically replaces `path` with `data`. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o600;
  const dir = dirname(path);
  await makeDir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = await openFd(tmp, 'wx', mode);
  try {
    await writeFd(fd, data);
    await chmodFd(fd, mode); // umask may have narrowed or widened the create mode
    await syncFd(fd);
  } catch (err) {
    await closeFd(fd).catch(() => {});
    await unlinkFile(tmp).catch(() => {});
    throw err;
  }
  await closeFd(fd);
  try {
    await renameFile(tmp, path);
  } catch (err) {
    await unlinkFile(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dir);
}

/** fsyncs a directory so a rename inside it survives a power cut. */
async function syncDir(dir: string): Promise<void> {
  const fd = await openFd(dir, 'r').catch(() => undefined);
  if (fd === undefined) return;
  try {
    await syncFd(fd);
  } catch {
    // some filesystems refuse fsync on directories; the rename itself is still atomic
  } finally {
    await closeFd(fd);
  }
}
