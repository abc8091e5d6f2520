// One lock per OpenClaw version, shared by every fleetd and fleetctl on the machine:
// installs, removals and prunes of a version never overlap. proper-lockfile's lock is a
// directory whose mtime the holder refreshes; a holder that died leaves a lock that goes
// stale after LOCK_STALE_MS and is then taken over.
import { setTimeout as delay } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { FleetError, isTransientErrno } from '../errors.js';
import { privateLockFs } from '../util/private-lock-fs.js';
import { lockPath, runtimeDir } from './layout.js';

/** A lock not refreshed for this long belongs to a dead process. */
export const LOCK_STALE_MS = 20_000;

/** Default wait for another process's install of the same version (a slow install takes minutes). */
export const DEFAULT_LOCK_TIMEOUT_MS = 15 * 60_000;

/** What the locked function can ask: did we lose the lock meanwhile (clock jump, someone deleted it)? */
export interface HeldLock {
  /** Throws RUNTIME_FAILED when the lock was compromised; call it before publishing anything. */
  assertHeld(): void;
}

/** Runs `fn` holding the lock of `version`, waiting up to `timeoutMs` for it; TIMEOUT when it stays taken. */
export async function withRuntimeLock<T>(
  runtimesDir: string,
  version: string,
  options: { timeoutMs?: number },
  fn: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  const path = lockPath(runtimesDir, version);
  let compromised: Error | undefined;
  const release = await acquire(runtimesDir, version, options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, (err) => {
    compromised = err;
  });
  const held: HeldLock = {
    assertHeld() {
      if (compromised) {
        throw new FleetError('RUNTIME_FAILED', `lost the install lock ${path} (${compromised.message}); another process may be installing openclaw@${version}: retry`, { cause: compromised, transient: true });
      }
    },
  };
  try {
    return await fn(held);
  } finally {
    if (!compromised) await release().catch(() => {});
  }
}

/** Polls for the lock with a growing pause (50 ms .. 1 s) until `timeoutMs`. */
async function acquire(runtimesDir: string, version: string, timeoutMs: number, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  const path = lockPath(runtimesDir, version);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      // `file` keys proper-lockfile's in-process table: one per version, never the shared dir
      return await lockfile.lock(runtimeDir(runtimesDir, version), {
        lockfilePath: path,
        realpath: false,
        fs: privateLockFs, // the lock folder is 0700 whatever the umask
        stale: LOCK_STALE_MS,
        retries: 0,
        onCompromised,
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') {
        throw new FleetError('RUNTIME_FAILED', `cannot take the install lock ${path}: ${(err as Error).message}`, { cause: err, transient: isTransientErrno(err) });
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new FleetError('TIMEOUT', `openclaw@${version} is locked by another install or removal (${path}) for more than ${Math.round(timeoutMs / 1000)} s; retry later, or delete ${path} if no fleetd or fleetctl is running`, { cause: err, transient: true });
      }
      await delay(Math.min(1000, 50 * 2 ** Math.min(attempt, 5), left));
    }
  }
}
