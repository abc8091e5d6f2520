// One fleetd per state dir. proper-lockfile holds `<stateDir>/fleetd.lock`; beside it
// `fleetd.pid` names the holder (pid + /proc start time) so that a second fleetd can say
// who runs there, and so that a lock left by a SIGKILLed fleetd is taken over at once
// instead of waiting for proper-lockfile's staleness window.
import lockfile from 'proper-lockfile';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readStat } from '../supervise/proc.js';

/** Held state-dir lock. */
export interface StateLock {
  release(): Promise<void>;
}

/** Who holds the lock, as written to fleetd.pid. */
interface Holder {
  pid: number;
  startTime: string | null;
}

/** Reads fleetd.pid; undefined when missing or unreadable. */
async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<Holder>;
    if (typeof parsed.pid !== 'number') return undefined;
    return { pid: parsed.pid, startTime: typeof parsed.startTime === 'string' ? parsed.startTime : null };
  } catch {
    return undefined;
  }
}

/** True when the recorded holder still runs (same pid AND same start time). */
function holderAlive(holder: Holder): boolean {
  const stat = readStat(holder.pid);
  if (stat === undefined || stat.state === 'Z') return false;
  return holder.startTime === null || holder.startTime === stat.startTime;
}

/** Takes the state-dir lock or fails with ALREADY_RUNNING naming the pid. */
export async function acquireStateLock(stateDir: string, onCompromised: (err: Error) => void): Promise<StateLock> {
  const lockPath = join(stateDir, 'fleetd.lock');
  const pidPath = join(stateDir, 'fleetd.pid');
  const options = { lockfilePath: lockPath, realpath: false, stale: 15_000, update: 5_000, onCompromised };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(stateDir, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') {
      throw new FleetError('INTERNAL', `cannot lock state dir ${stateDir}: ${(err as Error).message}`, { cause: err });
    }
    const holder = await readHolder(pidPath);
    if (holder && holderAlive(holder)) {
      throw new FleetError('ALREADY_RUNNING', `fleetd (pid ${holder.pid}) already runs on state dir ${stateDir}; stop it first (kill -TERM ${holder.pid}, or systemctl stop fleetd), or use another stateDir`, { cause: err });
    }
    if (!holder) {
      // No readable pid file: nothing proves the holder dead, so only proper-lockfile's own
      // staleness (an mtime not refreshed for 15 s) may free this lock.
      throw new FleetError('ALREADY_RUNNING', `state dir ${stateDir} is locked by another fleetd (${pidPath} is missing or unreadable); if none runs, start again in 15 s, or remove ${lockPath}`, { cause: err });
    }
    // The holder is gone (killed with SIGKILL, crashed): its lock is stale whatever its mtime
    // says. Re-read the pid file right before removing, so a fleetd that took the lock in the
    // meantime is not robbed of it.
    const again = await readHolder(pidPath);
    if (again && (again.pid !== holder.pid || again.startTime !== holder.startTime) && holderAlive(again)) {
      throw new FleetError('ALREADY_RUNNING', `fleetd (pid ${again.pid}) just started on state dir ${stateDir}`, { cause: err });
    }
    await rm(lockPath, { recursive: true, force: true });
    try {
      release = await lockfile.lock(stateDir, options);
    } catch (again) {
      throw new FleetError('ALREADY_RUNNING', `another fleetd took state dir ${stateDir} at the same moment; only one may run there`, { cause: again });
    }
  }
  const startTime = readStat(process.pid)?.startTime ?? null;
  await writeFileAtomic(pidPath, JSON.stringify({ pid: process.pid, startTime }) + '\n');
  return {
    async release() {
      await rm(pidPath, { force: true });
      await release().catch(() => {});
    },
  };
}
