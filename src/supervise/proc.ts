// Reading Linux /proc: who is alive, who descends from whom, which process group, when a
// pid started (to tell our process from a reused pid), and how much memory a tree uses.
// Synchronous on purpose: a few hundred small reads, and no await between reading the
// table and acting on it.
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { signalName } from '../util/signal-name.js';

/** One line of /proc/<pid>/stat, the fields fleetd uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, T (stopped), Z (zombie), ... */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** Field 22: start time in clock ticks since boot, kept as text (exact comparison). */
  startTime: string;
  /** Fields 14-17: user + system time of the process and of its reaped children, clock ticks. */
  cpuTicks: number;
  /** Field 24: resident set size in pages (see pageSizeBytes). */
  rssPages: number;
}

/** A pid with its start time: identifies one process even if the pid is later reused. */
export interface ProcRef {
  pid: number;
  startTime: string;
}

/** Parses the text of /proc/<pid>/stat; undefined when malformed. */
export function parseStat(text: string): ProcStat | undefined {
  // comm is in parentheses and may itself contain spaces and ')': split at the LAST ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field n is rest[n - 3].
  const state = rest[0];
  const ppid = Number(rest[1]);
  const pgid = Number(rest[2]);
  const sid = Number(rest[3]);
  const startTime = rest[19];
  const rssPages = Number(rest[21]);
  if (!state || !startTime || !Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isInteger(pgid)) return undefined;
  const cpuTicks = (Number(rest[11]) || 0) + (Number(rest[12]) || 0) + (Number(rest[13]) || 0) + (Number(rest[14]) || 0);
  return { pid, comm: text.slice(open + 1, close), state, ppid, pgid, sid, startTime, cpuTicks, rssPages: Number.isInteger(rssPages) ? rssPages : 0 };
}

// A stat line is at most ~1 KiB (comm is 16 bytes at most): one open, one read, one close
// into a shared buffer, instead of readFileSync's open, fstat, read, read, close and a new
// buffer per file. Called a few hundred times per /proc scan.
const statBuffer = Buffer.allocUnsafe(4096);

/** Reads a small /proc file into text (at most 4 KiB); throws like readFileSync when it is gone. */
function readSmall(path: string, encoding: 'utf8' | 'latin1' = 'utf8'): string {
  const fd = openSync(path, 'r');
  try {
    const n = readSync(fd, statBuffer, 0, statBuffer.length, null);
    return statBuffer.toString(encoding, 0, n);
  } finally {
    closeSync(fd);
  }
}

/** Reads /proc/<pid>/stat; undefined when there is no such process. */
export function readStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseStat(readSmall(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/** True when `pid` exists and is not a zombie (an exited process nobody reaped yet). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // Zombies answer kill(0) but are dead; PID 1 of a container may never reap them.
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/**
 * How the zombie `ref` ended, from field 52 of its stat (its wait status, Linux 3.5+): while
 * its parent does not reap it (a stopped shim) this is the only record of its exit. Null when
 * `ref` is not a zombie with that start time, or the field cannot be read.
 */
export function zombieExit(ref: ProcRef): { code: number | null; signal: string | null } | null {
  let text: string;
  try {
    text = readSmall(`/proc/${ref.pid}/stat`);
  } catch {
    return null;
  }
  const stat = parseStat(text);
  if (!stat || stat.state !== 'Z' || stat.startTime !== ref.startTime) return null;
  const status = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[49]);
  if (!Number.isInteger(status) || status < 0) return null;
  const signal = status & 0x7f;
  if (signal === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: signalName(signal) ?? `signal ${signal}` };
}

/** True when `ref` is alive and is still the same process (same start time). */
export function isSameProcess(ref: ProcRef): boolean {
  const stat = readStat(ref.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === ref.startTime;
}

/** Every process visible in /proc (zombies included: they still name their parent). */
export function listProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!isPidName(name)) continue;
    const stat = readStat(Number(name));
    if (stat) out.push(stat);
  }
  return out;
}

/** True for the numeric entries of /proc (processes). */
function isPidName(name: string): boolean {
  const c = name.charCodeAt(0);
  return c >= 48 && c <= 57;
}

// The kernel counts RSS in pages; the page size is not exposed to Node, so it is read off
// this process once: VmRSS (kB, /proc/self/status) over the rss field of /proc/self/stat,
// rounded to a power of two (4 KiB on x86-64, 4/16/64 KiB on arm64).
/** The kernel's page size in bytes, measured on this process. */
export function pageSizeBytes(): number {
  for (let attempt = 0; attempt < 3; attempt++) {
    const pages = readStat(process.pid)?.rssPages ?? 0;
    const bytes = rssBytes(process.pid);
    if (pages > 0 && bytes > 0) return 2 ** Math.round(Math.log2(bytes / pages));
  }
  return 4096;
}

/** One scan of /proc with its indices (built once, shared by every query on it). */
export interface ProcSnapshot {
  /** Monotonic ms at which the scan started (0 when unknown). */
  takenAt: number;
  /** Monotonic ms at which the scan ended: a process absent from it may have forked until then. */
  doneAt: number;
  list: readonly ProcStat[];
  byPid: ReadonlyMap<number, ProcStat>;
  /** Children (zombies included: they still name their parent) by parent pid. */
  children: ReadonlyMap<number, readonly ProcStat[]>;
  /** Living members by process group id. */
  groups: ReadonlyMap<number, readonly ProcStat[]>;
}

/** Indexes a list of processes in one pass. */
export function indexProcesses(list: readonly ProcStat[], takenAt = 0, doneAt = takenAt): ProcSnapshot {
  const byPid = new Map<number, ProcStat>();
  const children = new Map<number, ProcStat[]>();
  const groups = new Map<number, ProcStat[]>();
  for (const p of list) {
    byPid.set(p.pid, p);
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p);
    else children.set(p.ppid, [p]);
    if (p.state === 'Z') continue;
    const members = groups.get(p.pgid);
    if (members) members.push(p);
    else groups.set(p.pgid, [p]);
  }
  return { takenAt, doneAt, list, byPid, children, groups };
}

/** A snapshot of `table`, or of /proc now. */
function snapshotOf(table: readonly ProcStat[] | ProcSnapshot | undefined): ProcSnapshot {
  if (table === undefined) return indexProcesses(listProcesses());
  return 'byPid' in table ? table : indexProcesses(table);
}

/** Living descendants of `pid` (children, grandchildren...), whatever group or session they are in; O(size of the tree) on a snapshot. */
export function descendantsOf(pid: number, table?: readonly ProcStat[] | ProcSnapshot): ProcStat[] {
  const snap = snapshotOf(table);
  const out: ProcStat[] = [];
  const seen = new Set<number>([pid]);
  const queue = [pid];
  for (let i = 0; i < queue.length; i++) {
    for (const child of snap.children.get(queue[i]!) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      queue.push(child.pid);
      if (child.state !== 'Z') out.push(child);
    }
  }
  return out;
}

/** Living members of process group `pgid`. */
export function groupMembers(pgid: number, table?: readonly ProcStat[] | ProcSnapshot): ProcStat[] {
  return [...(snapshotOf(table).groups.get(pgid) ?? [])];
}

/** Resident memory of one process in bytes (VmRSS), 0 when gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Clock ticks per second of /proc times (USER_HZ: 100 on every Linux architecture fleetd supports). */
export const CLOCK_TICKS_PER_SECOND = 100;

// A gateway's children may be re-parented to init when it dies, where a descendant walk no
// longer finds them: the runner remembers every (pid, start time) it saw under its gateway.
/** Adds the living descendants of `pid` to `known` and drops entries that died; O(size of the tree) on a snapshot. */
export function trackTree(pid: number, known: Map<number, string>, table?: readonly ProcStat[] | ProcSnapshot): void {
  const snap = snapshotOf(table);
  for (const [k, start] of known) {
    const p = snap.byPid.get(k);
    if (!p || p.state === 'Z' || p.startTime !== start) known.delete(k);
  }
  for (const p of descendantsOf(pid, snap)) known.set(p.pid, p.startTime);
}

/** Living processes left of a gateway tree whose root `pid` (leader of group `pid`) is gone. */
export function countLeftovers(pid: number, known: Map<number, string>, table?: readonly ProcStat[] | ProcSnapshot): number {
  const snap = snapshotOf(table);
  trackTree(pid, known, snap);
  const pids = new Set(known.keys());
  for (const p of snap.groups.get(pid) ?? []) pids.add(p.pid);
  pids.delete(pid);
  return pids.size;
}

/** The env variable that marks every process of an agent: its own OPENCLAW_CONFIG_PATH (unique per agent). */
export const AGENT_MARKER_ENV = 'OPENCLAW_CONFIG_PATH';

// A gateway's detached children can be re-parented to init before fleetd ever saw them (a
// crash before the first probe, a fleetd killed mid-boot). Every process of an agent still
// carries the agent's unique OPENCLAW_CONFIG_PATH in its environment: find them by that.
/** Live processes whose environment has exactly `name=value` (readable ones: same user or root). */
export function processesWithEnv(name: string, value: string): ProcRef[] {
  return processesWithEnvName(name)
    .filter((p) => p.value === value)
    .map(({ pid, startTime }) => ({ pid, startTime }));
}

/** Live processes whose environment sets `name`, with its value (one pass over /proc; readable ones: same user or root). */
export function processesWithEnvName(name: string): Array<ProcRef & { value: string }> {
  const out: Array<ProcRef & { value: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!isPidName(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const value = readEnvVar(pid, name);
    if (value === undefined) continue;
    const stat = readStat(pid);
    if (stat && stat.state !== 'Z') out.push({ pid, startTime: stat.startTime, value });
  }
  return out;
}

/** The value of `name` in the environment `pid` started with (read as UTF-8); undefined when unset, gone or not ours to read. */
export function readEnvVar(pid: number, name: string): string | undefined {
  try {
    return envValue(readFileSync(`/proc/${pid}/environ`, 'utf8'), `${name}=`);
  } catch {
    return undefined;
  }
}

/** Seconds since boot (/proc/uptime), the clock of ProcStat.startTime (in USER_HZ ticks, 100 per second). */
export function uptimeSeconds(): number {
  try {
    return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

/** The value of the first `prefix...` entry of a NUL-separated environment block. */
function envValue(block: string, prefix: string): string | undefined {
  let at = block.startsWith(prefix) ? 0 : block.indexOf(`\0${prefix}`);
  if (at < 0) return undefined;
  if (at > 0 || block[0] === '\0') at += 1;
  const start = at + prefix.length;
  const end = block.indexOf('\0', start);
  return block.slice(start, end < 0 ? block.length : end);
}
