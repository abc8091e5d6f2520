// The run dir of one agent's shim (`<stateDir>/agents/<fleet>/<agent>/`, fleetd's own
// folder, never inside the agent's home): a private folder of fleetd's user, holding at
// most one live shim. fleetd makes it; the shim checks it again before using it.
import { lstatSync, type Stats } from 'node:fs';
import { chmod, lstat, mkdir } from 'node:fs/promises';
import { FleetError } from '../errors.js';
import { isSameProcess } from '../supervise/proc.js';
import { clearStaleSocket } from '../util/unix-socket.js';
import { readShimRecord, removeRunFiles, runDirFiles } from './records.js';

// One lstat in the caller's turn (records.ts says why): awaited, it was a trip through
// libuv's thread pool behind whatever filled fleetd's event loop, at every launch.
/** Why `runDir` is not a private folder of this user (0700, no symlink), or null when it is one. */
export async function runDirProblem(runDir: string): Promise<string | null> {
  let info: Stats | NodeJS.ErrnoException;
  try {
    info = lstatSync(runDir);
  } catch (err) {
    info = err as NodeJS.ErrnoException;
  }
  if (info instanceof Error) return info.code === 'ENOENT' ? `${runDir} does not exist` : `${runDir}: cannot inspect it (${info.code ?? info.message})`;
  if (info.isSymbolicLink()) return `${runDir} is a symlink; the shim's folder must be a real folder`;
  if (!info.isDirectory()) return `${runDir} is not a folder`;
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) return `${runDir} belongs to uid ${info.uid}, not to fleetd's user (uid ${uid})`;
  if ((info.mode & 0o077) !== 0) return `${runDir} has mode ${(info.mode & 0o777).toString(8)}; it must be 700`;
  return null;
}

/** Creates `runDir` (parents too, 0700) or repairs its mode; FleetError PROVISION_FAILED when it cannot be a private folder. */
export async function ensureRunDir(runDir: string): Promise<void> {
  // nearly always in place already (fleetd's provisioning made it): one lstat says so
  if ((await runDirProblem(runDir)) === null) return;
  await mkdir(runDir, { recursive: true, mode: 0o700 });
  const info = await lstat(runDir);
  if (info.isDirectory() && !info.isSymbolicLink() && (info.mode & 0o077) !== 0) await chmod(runDir, 0o700);
  const problem = await runDirProblem(runDir);
  if (problem) throw new FleetError('PROVISION_FAILED', `${problem}; move it away and start the agent again`);
}

/** Pid of a live shim recorded in `runDir` (same pid AND start time), other than `self`; null when none. */
export async function liveShimIn(runDir: string, self?: number): Promise<number | null> {
  const record = await readShimRecord(runDir);
  if (record.state !== 'ok' || record.value.shimPid === self) return null;
  return isSameProcess({ pid: record.value.shimPid, startTime: record.value.shimStartTime }) ? record.value.shimPid : null;
}

/** Result of claimRunDir: ready, or held by a live shim (its pid, or null when only its socket answers). */
export type RunDirClaim = { ok: true } | { ok: false; holder: number | null };

// Two shims in one run dir would fight over the socket and the records: a live one wins.
/** Makes `runDir` ready for a new shim: refuses when a live one holds it, else removes the files of the last run. */
export async function claimRunDir(runDir: string, self: number): Promise<RunDirClaim> {
  const holder = await liveShimIn(runDir, self);
  if (holder !== null) return { ok: false, holder };
  if ((await clearStaleSocket(runDirFiles(runDir).socket)) === 'live') return { ok: false, holder: null };
  await removeRunFiles(runDir);
  return { ok: true };
}
