// Small synchronous file operations on cgroup folders: interface files are a few bytes,
// live in memory, and a cgroup that vanished reads as "nothing" (ENOENT/ENODEV), so sync
// calls keep each read-then-act sequence free of event-loop interleaving.
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { parsePids } from './cgroup-parse.js';

/** Longest wait for a freeze to take (a task in uninterruptible sleep can delay it), ms. */
export const FREEZE_WAIT_MS = 1000;

/**
 * Path of the interface file or child `name` (one plain name) in the cgroup folder `dir` (an
 * absolute path without a trailing slash, as fleetd builds them with path.join once). Plain
 * concatenation: path.join normalizes the whole path on every call, and the ~15 files a
 * status reading or a launch touches per agent made it ~125 ms of fleetd's thread in a start
 * of 200 agents (CPU profile).
 */
export function cgroupPath(dir: string, name: string): string {
  return `${dir}/${name}`;
}

/** Text of `file`, or undefined when it (or its cgroup) does not exist. */
export function readCgroupFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTDIR' || code === 'ESRCH') return undefined;
    throw err;
  }
}

/** Words for the errno a cgroup write fails with. */
function explainWrite(code: string | undefined): string {
  switch (code) {
    case 'EBUSY':
      return 'the cgroup is busy (controllers cannot be enabled in a cgroup that holds processes: the no-internal-process rule)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied (not root, or the subtree is not delegated to fleetd)';
    case 'ENOENT':
      return 'no such file (the controller is not enabled for this cgroup)';
    case 'EINVAL':
      return 'invalid value for this file';
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
      return 'not supported by this kernel';
    case 'ESRCH':
      return 'no such process';
    default:
      return code ?? 'failed';
  }
}

/** Writes `value` to a cgroup interface file (one write(2)); PROVISION_FAILED naming file, value and cause. */
export function writeCgroupFile(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FleetError('PROVISION_FAILED', `cannot write ${JSON.stringify(value)} to ${file}: ${explainWrite(code)}`, { cause: err });
  }
}

/** Creates a cgroup folder (and missing parents); an existing one is fine. */
export function makeCgroupDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FleetError('PROVISION_FAILED', `cannot create cgroup ${dir}: ${explainWrite(code)}`, { cause: err });
  }
}

/** Child cgroup folders of `dir` (names), [] when it does not exist. */
export function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** `dir` and every cgroup below it, deepest first (the order rmdir needs). */
export function cgroupSubtree(dir: string): string[] {
  const out: string[] = [];
  for (const child of childCgroups(dir)) out.push(...cgroupSubtree(cgroupPath(dir, child)));
  out.push(dir);
  return out;
}

/** Pids of every process in `dir` and its descendants (a process may have moved itself deeper). */
export function subtreePids(dir: string): number[] {
  const all = new Set<number>();
  for (const d of cgroupSubtree(dir)) for (const pid of parsePids(readCgroupFile(cgroupPath(d, 'cgroup.procs')) ?? '')) all.add(pid);
  return [...all].sort((a, b) => a - b);
}

// The listener check wants the member that holds a socket, not every member: at 200 agents
// on cgroup v1, reading all five hierarchies' subtrees for each start verdict was ~50 ms of a
// start of all (CPU profile, issue 14), while the first hierarchy nearly always names the
// holder already.
/**
 * The pids in `dirs` (a cgroup's folders: one on v2, one per v1 hierarchy) and below, read
 * folder by folder as the caller iterates, each pid once (the first folder's sorted, then the
 * others' not seen yet); an unreadable folder is skipped. A caller that stops early reads fewer files.
 */
export function* memberPidsOf(dirs: readonly string[]): Generator<number> {
  const seen = new Set<number>();
  for (const dir of dirs) {
    let pids: number[];
    try {
      pids = subtreePids(dir);
    } catch {
      continue;
    }
    for (const pid of pids) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      yield pid;
    }
  }
}

/** Removes `dir` and its descendant cgroups (they must be empty); a missing one is fine. */
export function removeCgroupTree(dir: string): void {
  for (const d of cgroupSubtree(dir)) {
    try {
      rmdirSync(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      const why = code === 'EBUSY' ? `it still holds processes (${subtreePids(d).join(', ') || 'none listed'})` : explainWrite(code);
      throw new FleetError('CONFLICT', `cannot remove cgroup ${d}: ${why}`, { cause: err });
    }
  }
}

/** Sends `signal` to each pid; returns the pids it reached (gone ones are skipped). */
export function signalPids(pids: readonly number[], signal: NodeJS.Signals): number[] {
  const reached: number[] = [];
  for (const pid of pids) {
    if (pid <= 1 || pid === process.pid) continue;
    try {
      process.kill(pid, signal);
      reached.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return reached;
}

/** How to freeze one cgroup: v2 cgroup.freeze, v1 freezer.state. */
export interface Freezer {
  /** Asks the kernel to freeze. */
  freeze(): void;
  /** True once every task is frozen. */
  isFrozen(): boolean;
  thaw(): void;
}

// A frozen cgroup cannot fork: a member list read while frozen is complete, and a signal
// sent to each member reaches everyone (delivered when they thaw).
/** Runs `body` with the cgroup frozen (if it freezes within FREEZE_WAIT_MS), thawing after; `frozen` says whether it was. */
export async function whileFrozen<T>(freezer: Freezer | undefined, body: () => T): Promise<{ frozen: boolean; value: T }> {
  if (!freezer) return { frozen: false, value: body() };
  freezer.freeze();
  try {
    const deadline = Date.now() + FREEZE_WAIT_MS;
    let frozen = freezer.isFrozen();
    while (!frozen && Date.now() < deadline) {
      await sleep(5);
      frozen = freezer.isFrozen();
    }
    return { frozen, value: body() };
  } finally {
    freezer.thaw();
  }
}

/** Sends each signal to every member listed by `pids` while frozen; returns the pids reached. */
export async function signalMembers(freezer: Freezer | undefined, pids: () => number[], signals: readonly NodeJS.Signals[]): Promise<number[]> {
  const { value } = await whileFrozen(freezer, () => {
    const members = pids();
    const reached = new Set<number>();
    for (const signal of signals) for (const pid of signalPids(members, signal)) reached.add(pid);
    return [...reached];
  });
  return value;
}
