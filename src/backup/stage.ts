// The copying half of a backup: walk the agent's home WITHOUT following any symlink, decide
// what goes in (layout.ts), then copy it into a private staging folder (0700, fleetd's own)
// with its size and sha256, databases through SQLite's backup API. The archive is then made
// from the staging folder, so what it holds is exactly what the manifest lists, however the
// gateway changes its files meanwhile.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { classifyHomePath, HOME_PREFIX, isIncluded, leftOutReason, sidecarOf, type IncludeOptions } from './layout.js';
import type { BackupManifest } from './manifest.js';
import { isSqliteFile, snapshotSqlite } from './sqlite.js';

/** Inputs of stageHome. */
export interface StageInput {
  home: string;
  /** Empty private folder the copy goes into (its `home/` is created). */
  staging: string;
  include: IncludeOptions;
  /** True while the gateway runs (a database without a consistent copier is then refused). */
  running: boolean;
  /** A Node with node:sqlite for consistent database copies, when there is one. */
  sqliteNode: string | undefined;
  /** The agent's address, for messages. */
  address: string;
}

/** What stageHome copied, in manifest form. */
export type StagedHome = Pick<BackupManifest, 'dirs' | 'files' | 'databases' | 'leftOut'>;

/** One planned copy. */
type Op = { kind: 'dir'; rel: string } | { kind: 'file'; rel: string; size: number; mode: number; sqlite: boolean };

/** Copies the home's archivable content into `staging/home`; returns the file list for the manifest. */
export async function stageHome(input: StageInput): Promise<StagedHome> {
  const { ops, leftOut, bytes } = await planHome(input.home, input.include);
  const databases = ops.filter((op): op is Extract<Op, { kind: 'file' }> => op.kind === 'file' && op.sqlite);
  if (databases.length > 0 && !input.sqliteNode && input.running) {
    throw new FleetError(
      'REFUSED',
      `${input.address} is running and has SQLite databases (${databases.map((d) => d.rel).slice(0, 3).join(', ')}), and no Node with node:sqlite is known to copy them consistently (the agent runs a fixed gateway.command, not a pinned OpenClaw runtime); stop it first: \`fleetctl stop agent ${input.address}\``,
    );
  }
  await requireSpace(input.staging, bytes, input.address);
  const out: StagedHome = { dirs: [HOME_PREFIX], files: [], databases: [], leftOut };
  const dbNames = new Set(databases.map((d) => d.rel));
  await mkdir(join(input.staging, HOME_PREFIX), { mode: 0o700 });
  for (const op of ops) {
    const archivePath = `${HOME_PREFIX}/${op.rel}`;
    const dst = join(input.staging, archivePath);
    if (op.kind === 'dir') {
      await mkdir(dst, { mode: 0o700 });
      out.dirs.push(archivePath);
      continue;
    }
    const base = sidecarOf(op.rel);
    // A consistent copy of a database replaces its side files; a plain copy (stopped agent) needs its -wal/-journal.
    if (base !== undefined && dbNames.has(base) && (input.sqliteNode || op.rel.endsWith('-shm'))) continue;
    if (op.sqlite && input.sqliteNode) {
      await snapshotSqlite(input.sqliteNode, join(input.home, op.rel), dst);
      out.databases.push({ path: archivePath, method: 'sqlite-backup' });
      out.files.push({ path: archivePath, ...(await hashFile(dst)), mode: op.mode });
      continue;
    }
    const copied = await copyFile(join(input.home, op.rel), dst);
    if (!copied) {
      out.leftOut.push({ path: archivePath, reason: 'replaced by something that is not a regular file during the backup' });
      continue;
    }
    if (op.sqlite) out.databases.push({ path: archivePath, method: 'file-copy' });
    out.files.push({ path: archivePath, ...copied, mode: op.mode });
  }
  return out;
}

/** Walks the home (no symlink followed): the copies to make, what is left out, and the bytes needed. */
async function planHome(home: string, include: IncludeOptions): Promise<{ ops: Op[]; leftOut: StagedHome['leftOut']; bytes: number }> {
  const ops: Op[] = [];
  const leftOut: StagedHome['leftOut'] = [];
  let bytes = 0;
  const stack: string[][] = [[]];
  while (stack.length > 0) {
    const dirSegs = stack.pop()!;
    const names = (await readdir(join(home, ...dirSegs)).catch(() => [] as string[])).sort();
    const children: string[][] = [];
    for (const name of names) {
      const segs = [...dirSegs, name];
      const rel = segs.join('/');
      const cls = classifyHomePath(segs);
      if (!isIncluded(cls, include)) {
        leftOut.push({ path: `${HOME_PREFIX}/${rel}`, reason: leftOutReason(cls) });
        continue;
      }
      const st = await lstat(join(home, rel)).catch(() => undefined);
      if (!st) continue; // gone meanwhile
      if (st.isSymbolicLink()) leftOut.push({ path: `${HOME_PREFIX}/${rel}`, reason: 'symbolic link (links are never followed nor archived)' });
      else if (st.isDirectory()) {
        ops.push({ kind: 'dir', rel });
        children.push(segs);
      } else if (st.isFile()) {
        const sqlite = st.size >= 512 && (await isSqliteFile(join(home, rel)));
        ops.push({ kind: 'file', rel, size: st.size, mode: (st.mode & 0o700) | 0o600, sqlite });
        bytes += st.size;
      } else leftOut.push({ path: `${HOME_PREFIX}/${rel}`, reason: 'not a regular file (socket, FIFO or device)' });
    }
    // depth first, in name order (pushed reversed, popped first to last): parents always precede their children
    for (const child of children.reverse()) stack.push(child);
  }
  return { ops, leftOut, bytes };
}

/** Refuses a backup the staging file system cannot hold (with 5 % to spare). */
async function requireSpace(dir: string, bytes: number, address: string): Promise<void> {
  const fs = await statfs(dir).catch(() => undefined);
  if (!fs) return;
  const free = fs.bavail * fs.bsize;
  if (bytes * 1.05 > free) {
    throw new FleetError('REFUSED', `a backup of ${address} needs about ${Math.ceil(bytes / 1024 ** 2)} MiB of staging space next to the state dir; only ${Math.floor(free / 1024 ** 2)} MiB are free`);
  }
}

/** Copies a regular file (opened without following links) to a new 0600 file; undefined when it is no longer a regular file. */
async function copyFile(src: string, dst: string): Promise<{ size: number; sha256: string } | undefined> {
  const from = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!from) return undefined;
  try {
    if (!(await from.stat()).isFile()) return undefined;
    return await pump(from, dst);
  } finally {
    await from.close();
  }
}

/** Hashes a staged file in place (the SQLite copier wrote it); sets it to 0600. */
async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await handle.chmod(0o600);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of handle.createReadStream({ autoClose: false })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}

/** Streams an open file into a new file `dst` (0600), hashing on the way. */
async function pump(from: Awaited<ReturnType<typeof open>>, dst: string): Promise<{ size: number; sha256: string }> {
  const to = await open(dst, 'wx', 0o600);
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of from.createReadStream({ autoClose: false, start: 0 })) {
      const buf = chunk as Buffer;
      hash.update(buf);
      size += buf.length;
      await to.write(buf);
    }
    await to.chmod(0o600);
    return { size, sha256: hash.digest('hex') };
  } finally {
    await to.close();
  }
}
