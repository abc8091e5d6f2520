// Snapshots of an agent's OpenClaw state (`<home>/.openclaw`: openclaw.json, the shared
// state database, per-agent databases, credentials ...) taken before a runtime change, and
// restored when that change fails. They live OUTSIDE the home, in fleetd's own per-agent
// folder (layout decision 1), which a tenant cannot reach:
//   <stateDir>/agents/<fleet>/<agent>/snapshots/<id>/state/...      the copied tree
//   <stateDir>/agents/<fleet>/<agent>/snapshots/<id>/snapshot.json  written last: "complete"
//   <stateDir>/agents/<fleet>/<agent>/snapshots/<id>/replaced/      the state a restore replaced
// Left out: `.openclaw/tmp` (lock files of the running process) and `.openclaw/cache`
// (rebuilt by OpenClaw). Take a snapshot with the gateway STOPPED: it is the state the old
// version left, and nothing written afterwards is lost by a restore.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FleetError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { copySqlite } from './sqlite-copy.js';
import { copyStateTree } from './state-tree.js';

/** State entries (top level of `.openclaw`) a snapshot leaves out. */
export const SNAPSHOT_EXCLUDES = ['tmp', 'cache'] as const;

/** Snapshots kept per agent after a new one is taken (the newest ones). */
export const SNAPSHOTS_KEPT = 3;

/** snapshot.json: what a complete snapshot holds. */
export const snapshotInfoSchema = z.object({
  schema: z.literal(1),
  id: z.string(),
  address: z.string(),
  /** ISO time. */
  createdAt: z.string(),
  /** Runtime key the state belongs to (the version that wrote it). */
  runtime: z.string().nullable(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  databases: z.array(z.string()),
  /** False when the agent had no `.openclaw` yet: a restore then removes what exists. */
  hadState: z.boolean(),
});
/** What a complete snapshot holds. */
export type SnapshotInfo = z.infer<typeof snapshotInfoSchema>;

/** Inputs of takeSnapshot. */
export interface TakeSnapshotOptions {
  address: string;
  /** `<home>/.openclaw` (OPENCLAW_STATE_DIR). */
  openclawDir: string;
  /** `<supervisorDir>/snapshots`. */
  snapshotsDir: string;
  /** Node with node:sqlite backup (the runtime's). */
  node: string;
  /** Runtime key of the version that wrote this state. */
  runtime: string | null;
  now?: () => number;
  /** Copies one database (default: copySqlite with `node`). */
  copyDatabase?: (source: string, target: string) => Promise<void>;
}

/** Copies the agent's state into a new snapshot; returns its info (REFUSED when `.openclaw` is a symlink). */
export async function takeSnapshot(o: TakeSnapshotOptions): Promise<SnapshotInfo> {
  const now = o.now ?? Date.now;
  await ensurePrivateDir(o.snapshotsDir);
  const id = `${new Date(now()).toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
  const dir = join(o.snapshotsDir, id);
  await mkdir(dir, { mode: 0o700 });
  try {
    const present = await lstat(o.openclawDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    let copied = { files: 0, bytes: 0, databases: [] as string[] };
    if (present) {
      copied = await copyStateTree({
        source: o.openclawDir,
        target: join(dir, 'state'),
        exclude: (rel) => (SNAPSHOT_EXCLUDES as readonly string[]).includes(rel),
        copyDatabase: o.copyDatabase ?? (async (source, target) => void (await copySqlite({ node: o.node, source, target }))),
      });
    }
    const info: SnapshotInfo = { schema: 1, id, address: o.address, createdAt: new Date(now()).toISOString(), runtime: o.runtime, files: copied.files, bytes: copied.bytes, databases: copied.databases, hadState: present !== undefined };
    await writeFileAtomic(join(dir, 'snapshot.json'), `${JSON.stringify(info, null, 2)}\n`);
    return info;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Reads a complete snapshot's info; NOT_FOUND when it is missing or was never completed. */
export async function readSnapshot(snapshotsDir: string, id: string): Promise<SnapshotInfo> {
  if (!/^[0-9A-Za-z-]+$/.test(id)) throw new FleetError('BAD_REQUEST', `${JSON.stringify(id)} is not a snapshot id`);
  try {
    const parsed = snapshotInfoSchema.safeParse(JSON.parse(await readFile(join(snapshotsDir, id, 'snapshot.json'), 'utf8')));
    if (parsed.success && parsed.data.id === id) return parsed.data;
  } catch {
    // fall through
  }
  throw new FleetError('NOT_FOUND', `snapshot ${id} is missing or incomplete in ${snapshotsDir}`);
}

/** Inputs of restoreSnapshot. */
export interface RestoreOptions {
  /** `<home>/.openclaw`, replaced as a whole. */
  openclawDir: string;
  snapshotsDir: string;
  id: string;
}

// The restored tree is built next to the snapshot (outside the home), then swapped in with
// two renames: `.openclaw` -> `<snapshot>/replaced`, built tree -> `.openclaw`. Nothing is
// ever written through a path inside the home, and a crash between the renames leaves the
// state in `<snapshot>/replaced` (nothing is lost; restore again).
/** Replaces the agent's `.openclaw` with the snapshot's copy; the replaced state is kept in `<snapshot>/replaced`. The gateway must be stopped. */
export async function restoreSnapshot(o: RestoreOptions): Promise<SnapshotInfo> {
  const info = await readSnapshot(o.snapshotsDir, o.id);
  const snapDir = join(o.snapshotsDir, o.id);
  const staging = await mkdtemp(join(snapDir, 'restore-'));
  const built = join(staging, 'state');
  try {
    if (info.hadState) await copyStateTree({ source: join(snapDir, 'state'), target: built });
    const replaced = join(snapDir, 'replaced');
    await rm(replaced, { recursive: true, force: true });
    const current = await lstat(o.openclawDir).catch(() => undefined);
    if (current) await renameInto(o.openclawDir, replaced);
    if (info.hadState) {
      try {
        await renameInto(built, o.openclawDir);
      } catch (err) {
        if (current) await rename(replaced, o.openclawDir).catch(() => {});
        throw err;
      }
    }
    return info;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Snapshot ids in `snapshotsDir`, oldest first (ids start with their ISO time). */
export async function listSnapshots(snapshotsDir: string): Promise<string[]> {
  const names = await readdir(snapshotsDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return names.filter((n) => /^\d{4}-\d\d-\d\dT[0-9A-Za-z-]+$/.test(n)).sort();
}

/** Deletes all but the newest `keep` snapshots (and never `protect`); returns the deleted ids. */
export async function pruneSnapshots(snapshotsDir: string, keep = SNAPSHOTS_KEPT, protect: readonly string[] = []): Promise<string[]> {
  const ids = await listSnapshots(snapshotsDir);
  const doomed = ids.slice(0, Math.max(0, ids.length - keep)).filter((id) => !protect.includes(id));
  for (const id of doomed) await rm(join(snapshotsDir, id), { recursive: true, force: true });
  return doomed;
}

/** rename(2), with a clear error when the two folders are on different filesystems. */
async function renameInto(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EXDEV') {
      throw new FleetError('REFUSED', `cannot move ${from} to ${to}: they are on different filesystems; keep <stateDir>/agents and <stateDir>/fleets on one filesystem`, { cause: err });
    }
    throw err;
  }
}

/** mkdir -p + chmod 0700 of fleetd's own folder; refuses a symlink. */
async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new FleetError('PROVISION_FAILED', `${dir} is not a folder (a symlink or a file); move it away`);
  if ((st.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}
