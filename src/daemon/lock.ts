// One fleetd per state dir, whatever the clock says (issue 9 item 2). The lock is the folder
// `<stateDir>/fleetd.lock/` (0700) holding `owner.json` (0600): pid, /proc start time, boot
// id and host name of the fleetd that holds it. It appears complete and atomically: made
// aside, then renamed into place (a rename onto an existing lock fails). Beside it,
// `fleetd.pid` names the holder for people and tools.
//
// A lock is only ever taken over from a holder that is PROVABLY dead: its pid is gone or a
// zombie, the pid now belongs to another process (other start time), or the machine was
// rebooted since (other boot id, same host). A holder that is alive is never robbed, however
// old any file is: stopped (SIGSTOP), swapped out, paused in a debugger, frozen in a cgroup.
// No mtime is consulted; nothing refreshes the lock. A holder on another host, or a lock
// without a readable owner, cannot be proven dead: refused, with the command to fix it.
//
// Takeover race: the dead holder's folder is renamed to a name derived from that holder
// (`.fleetd.lock.dead-<pid>-<start>`), so of two fleetds taking over the same dead holder only
// one rename succeeds; the winner checks that what it moved is indeed the dead holder's
// (and puts it back otherwise), and graves are removed only at a clean release.
//
// Nothing is removed that this fleetd does not own: release() removes the lock and the pid
// file only while they still name this very process.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { readStat } from '../supervise/proc.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** Held state-dir lock. */
export interface StateLock {
  /** Removes the lock and the pid file if (and only if) they still name this process. */
  release(): Promise<void>;
}

/** Who holds a lock: written to owner.json and fleetd.pid. */
export interface LockOwner {
  pid: number;
  /** /proc/<pid>/stat start time (clock ticks since boot); null when unknown. */
  startTime: string | null;
  /** /proc/sys/kernel/random/boot_id; null when unknown. */
  bootId: string | null;
  /** os.hostname(); tells a shared state dir's other machine from a reboot. */
  host: string | null;
}

/** What can be proven about a recorded holder. */
export type Liveness = { state: 'alive'; stopped: boolean } | { state: 'dead'; why: string } | { state: 'unknown'; why: string };

/** Dependencies of acquireStateLock (real defaults; tests inject a fake self or liveness). */
export interface LockDeps {
  /** This process as a lock owner. */
  self: () => LockOwner;
  /** Judges a recorded holder. */
  judge: (owner: LockOwner) => Liveness;
  /** How often the holder re-reads owner.json to notice a lock taken from it (ms; default 10 s; 0 = never). */
  checkEveryMs: number;
}

/** The lock folder inside the state dir. */
export const LOCK_DIR = 'fleetd.lock';
/** The holder record inside the lock folder. */
export const OWNER_FILE = 'owner.json';
/** The pid file beside the lock (for people and tools; also read to judge an older fleetd's lock). */
export const PID_FILE = 'fleetd.pid';

/** Prefix of the folder a dead holder's lock is moved to during a takeover. */
const GRAVE_PREFIX = '.fleetd.lock.dead-';

/** This machine's boot id (/proc/sys/kernel/random/boot_id); null where there is none. */
function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** This process as a lock owner. */
export function currentOwner(): LockOwner {
  return { pid: process.pid, startTime: readStat(process.pid)?.startTime ?? null, bootId: bootId(), host: hostname() };
}

/** Judges a recorded holder from /proc: alive (maybe stopped), provably dead, or unknown (another host). */
export function judgeOwner(owner: LockOwner, here: LockOwner = currentOwner()): Liveness {
  if (owner.host !== null && here.host !== null && owner.host !== here.host) {
    return { state: 'unknown', why: `it was taken on host ${JSON.stringify(owner.host)}, this is ${JSON.stringify(here.host)}` };
  }
  if (owner.bootId !== null && here.bootId !== null && owner.bootId !== here.bootId) {
    return { state: 'dead', why: 'the machine was rebooted since it was taken' };
  }
  const stat = readStat(owner.pid);
  if (stat === undefined) return { state: 'dead', why: `pid ${owner.pid} no longer exists` };
  if (stat.state === 'Z') return { state: 'dead', why: `pid ${owner.pid} has exited (zombie)` };
  if (owner.startTime !== null && stat.startTime !== owner.startTime) {
    return { state: 'dead', why: `pid ${owner.pid} now belongs to another process ("${stat.comm}")` };
  }
  return { state: 'alive', stopped: stat.state === 'T' || stat.state === 't' };
}

/** Parses owner.json / fleetd.pid text; undefined when it is not an owner record. */
export function parseOwner(text: string): LockOwner | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.pid !== 'number' || !Number.isInteger(r.pid) || r.pid <= 0) return undefined;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  return { pid: r.pid, startTime: str(r.startTime), bootId: str(r.bootId), host: str(r.host) };
}

/** True when two records name the same process. */
function sameOwner(a: LockOwner, b: LockOwner): boolean {
  return a.pid === b.pid && a.startTime === b.startTime && a.bootId === b.bootId && a.host === b.host;
}

/** Reads a lock folder's owner: the record, 'gone' (no folder), or 'unreadable'. */
async function readOwner(lockDir: string): Promise<LockOwner | 'gone' | 'unreadable'> {
  try {
    return parseOwner(await readFile(join(lockDir, OWNER_FILE), 'utf8')) ?? 'unreadable';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return (await lstat(lockDir).then(() => true, () => false)) ? 'unreadable' : 'gone';
    return 'unreadable';
  }
}

/** Creates a complete lock folder aside (0700, owner.json 0600, synced); returns its path. */
async function prepareLock(stateDir: string, self: LockOwner): Promise<string> {
  const tmp = join(stateDir, `.fleetd.lock.new-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp, { mode: 0o700 });
  await chmod(tmp, 0o700); // whatever the umask (issue 9 item 7c)
  const handle = await open(join(tmp, OWNER_FILE), 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(self)}\n`);
    await handle.chmod(0o600);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tmp;
}

/** True for the errors rename(2) gives when the target folder exists. */
function targetExists(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTDIR';
}

/** The ALREADY_RUNNING error for a live (or unprovable) holder. */
function heldError(stateDir: string, owner: LockOwner, live: Liveness): FleetError {
  if (live.state === 'unknown') {
    return new FleetError(
      'ALREADY_RUNNING',
      `state dir ${stateDir} is locked by fleetd pid ${owner.pid}, and ${live.why}: fleetd cannot tell whether it still runs. Stop it there; if no fleetd runs on that state dir anywhere, remove ${join(stateDir, LOCK_DIR)} and start again`,
    );
  }
  const frozen = live.state === 'alive' && live.stopped ? ' (it is stopped, e.g. by SIGSTOP, and still holds the state dir: kill -CONT it or stop it)' : '';
  return new FleetError('ALREADY_RUNNING', `fleetd (pid ${owner.pid}) already runs on state dir ${stateDir}${frozen}; stop it first (kill -TERM ${owner.pid}, or systemctl stop fleetd), or use another stateDir`);
}

/** A lock made by an older fleetd (proper-lockfile: an empty folder) is judged by fleetd.pid beside it. */
async function legacyOwner(stateDir: string, lockDir: string): Promise<LockOwner | undefined> {
  const entries = await readdir(lockDir).catch(() => undefined);
  if (!entries || entries.length > 0) return undefined;
  const text = await readFile(join(stateDir, PID_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseOwner(text);
}

/** Takes the state-dir lock or fails with ALREADY_RUNNING naming the holder. */
export async function acquireStateLock(stateDir: string, onCompromised: (err: Error) => void, deps: Partial<LockDeps> = {}): Promise<StateLock> {
  const self = (deps.self ?? currentOwner)();
  const judge = deps.judge ?? ((owner: LockOwner) => judgeOwner(owner, self));
  const lockDir = join(stateDir, LOCK_DIR);
  const info = await lstat(lockDir).catch(() => undefined);
  if (info && !info.isDirectory()) {
    throw new FleetError('CONFLICT', `${lockDir} exists and is not a folder (found ${info.isSymbolicLink() ? 'a symbolic link' : 'a file'}); move it away and start again`);
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    // Judge an existing lock first: rename(2) would replace an EMPTY folder (an older fleetd's lock).
    const found = await readOwner(lockDir);
    if (found !== 'gone') {
      const owner = found === 'unreadable' ? await legacyOwner(stateDir, lockDir) : found;
      if (!owner) {
        throw new FleetError(
          'ALREADY_RUNNING',
          `state dir ${stateDir} is locked (${join(lockDir, OWNER_FILE)} is missing or unreadable), so fleetd cannot prove its holder dead; if no fleetd runs on this state dir, remove ${lockDir} and start again`,
        );
      }
      const live = judge(owner);
      if (live.state !== 'dead') throw heldError(stateDir, owner, live);
      await buryDeadLock(stateDir, lockDir, owner);
      continue;
    }
    const tmp = await prepareLock(stateDir, self);
    try {
      await rename(tmp, lockDir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if (targetExists(err)) continue; // another fleetd made it first: judge it on the next round
      throw new FleetError('INTERNAL', `cannot lock state dir ${stateDir}: ${(err as Error).message}`, { cause: err });
    }
    const check = await readOwner(lockDir);
    if (check !== 'gone' && check !== 'unreadable' && sameOwner(check, self)) {
      await writeFileAtomic(join(stateDir, PID_FILE), `${JSON.stringify(self)}\n`);
      return holdLock(stateDir, self, onCompromised, deps.checkEveryMs ?? 10_000);
    }
  }
  throw new FleetError('ALREADY_RUNNING', `state dir ${stateDir}: the lock kept changing hands while this fleetd tried to take it; another fleetd is starting there`);
}

/** Moves a dead holder's lock out of the way (see the takeover race in the file comment). */
async function buryDeadLock(stateDir: string, lockDir: string, dead: LockOwner): Promise<void> {
  const grave = join(stateDir, `${GRAVE_PREFIX}${dead.pid}-${dead.startTime ?? 'x'}-${(dead.bootId ?? 'x').slice(0, 8)}`);
  try {
    await rename(lockDir, grave);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || targetExists(err)) return; // someone else moved it first
    throw new FleetError('INTERNAL', `cannot take over the lock of dead fleetd pid ${dead.pid} (${lockDir}): ${(err as Error).message}`, { cause: err });
  }
  const moved = await readOwner(grave);
  const legacy = moved === 'unreadable' ? await legacyOwner(stateDir, grave) : undefined;
  const what = moved === 'gone' || moved === 'unreadable' ? legacy : moved;
  if (what && sameOwner(what, dead)) return;
  // What we moved was not the dead holder's lock (a live fleetd took it over in between): put it back.
  await rename(grave, lockDir).catch(() => undefined);
}

/** The held lock: periodic ownership check, and release of what is still ours. */
function holdLock(stateDir: string, self: LockOwner, onCompromised: (err: Error) => void, checkEveryMs: number): StateLock {
  const lockDir = join(stateDir, LOCK_DIR);
  const pidPath = join(stateDir, PID_FILE);
  let reported = false;
  const timer =
    checkEveryMs > 0
      ? setInterval(() => {
          void readOwner(lockDir).then((owner) => {
            if (reported || (owner !== 'gone' && owner !== 'unreadable' && sameOwner(owner, self))) return;
            reported = true;
            onCompromised(new Error(`${lockDir} no longer names this fleetd (pid ${self.pid}): removed or taken by hand; another fleetd may now start on ${stateDir}`));
          });
        }, checkEveryMs)
      : undefined;
  timer?.unref();
  return {
    async release() {
      if (timer) clearInterval(timer);
      const owner = await readOwner(lockDir);
      if (owner !== 'gone' && owner !== 'unreadable' && sameOwner(owner, self)) {
        // Out of the way atomically first, so no one ever sees a half-removed lock.
        const gone = join(stateDir, `.fleetd.lock.released-${process.pid}-${randomBytes(4).toString('hex')}`);
        await rename(lockDir, gone).then(() => rm(gone, { recursive: true, force: true }), () => undefined);
      }
      const pidOwner = parseOwner((await readFile(pidPath, 'utf8').catch(() => '')) || '');
      if (pidOwner && sameOwner(pidOwner, self)) await rm(pidPath, { force: true });
      // Graves of dead holders, and half-made locks of fleetds that died making them.
      for (const name of await readdir(stateDir).catch(() => [] as string[])) {
        const maker = /^\.fleetd\.lock\.new-(\d+)-/.exec(name);
        const stale = name.startsWith(GRAVE_PREFIX) || (maker !== null && Number(maker[1]) !== process.pid && readStat(Number(maker[1])) === undefined);
        if (stale) await rm(join(stateDir, name), { recursive: true, force: true }).catch(() => undefined);
      }
    },
  };
}
