// Reading Linux /proc: who is alive, who descends from whom, which process group, when a
// pid started (to tell our process from a reused pid), and how much memory a tree uses.
// Synchronous on purpose: a few hundred small reads, and no await between reading the
// table and acting on it.
import { readdirSync, readFileSync } from 'node:fs';

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
  if (!state || !startTime || !Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isInteger(pgid)) return undefined;
  const cpuTicks = [11, 12, 13, 14].reduce((sum, i) => sum + (Number(rest[i]) || 0), 0);
  return { pid, comm: text.slice(open + 1, close), state, ppid, pgid, sid, startTime, cpuTicks };
}

/** Reads /proc/<pid>/stat; undefined when there is no such process. */
export function readStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
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
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) out.push(stat);
  }
  return out;
}

/** Living descendants of `pid` (children, grandchildren...), whatever group or session they are in. */
export function descendantsOf(pid: number, table: ProcStat[] = listProcesses()): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const p of table) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const out: ProcStat[] = [];
  const seen = new Set<number>([pid]);
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const child of children.get(parent) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      queue.push(child.pid);
      if (child.state !== 'Z') out.push(child);
    }
  }
  return out;
}

/** Living members of process group `pgid`. */
export function groupMembers(pgid: number, table: ProcStat[] = listProcesses()): ProcStat[] {
  return table.filter((p) => p.pgid === pgid && p.state !== 'Z');
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

/** Resident memory of `pid` and all its descendants, bytes (what one gateway costs). */
export function treeRssBytes(pid: number, table: ProcStat[] = listProcesses()): number {
  let total = rssBytes(pid);
  for (const p of descendantsOf(pid, table)) total += rssBytes(p.pid);
  return total;
}

/** Clock ticks per second of /proc times (USER_HZ: 100 on every Linux architecture fleetd supports). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system, reaped children included) of `pid` and all its living descendants. */
export function treeCpuSeconds(pid: number, table: ProcStat[] = listProcesses()): number {
  const root = table.find((p) => p.pid === pid);
  if (!root) return 0;
  return [root, ...descendantsOf(pid, table)].reduce((sum, p) => sum + p.cpuTicks, 0) / CLOCK_TICKS_PER_SECOND;
}

// A gateway's children may be re-parented to init when it dies, where a descendant walk no
// longer finds them: the runner remembers every (pid, start time) it saw under its gateway.
/** Adds the living descendants of `pid` to `known` and drops entries that died. */
export function trackTree(pid: number, known: Map<number, string>, table: ProcStat[] = listProcesses()): void {
  const byPid = new Map(table.map((p) => [p.pid, p]));
  for (const [k, start] of known) {
    const p = byPid.get(k);
    if (!p || p.state === 'Z' || p.startTime !== start) known.delete(k);
  }
  for (const p of descendantsOf(pid, table)) known.set(p.pid, p.startTime);
}

/** Living processes left of a gateway tree whose root `pid` (leader of group `pid`) is gone. */
export function countLeftovers(pid: number, known: Map<number, string>, table: ProcStat[] = listProcesses()): number {
  trackTree(pid, known, table);
  const pids = new Set(known.keys());
  for (const p of groupMembers(pid, table)) pids.add(p.pid);
  pids.delete(pid);
  return pids.size;
}

/** The env variable that marks every process of an agent: its own OPENCLAW_CONFIG_PATH (unique per agent). */
export const AGENT_MARKER_ENV = 'OPENCLAW_CONFIG_PATH';

/** The value of `name` in the environment `pid` started with; undefined when unset or unreadable. */
export function readEnvVar(pid: number, name: string): string | undefined {
  try {
    const prefix = `${name}=`;
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((e) => e.startsWith(prefix))?.slice(prefix.length);
  } catch {
    return undefined; // gone, or not ours to read
  }
}

// A gateway's detached children can be re-parented to init before fleetd ever saw them (a
// crash before the first probe, a fleetd killed mid-boot). Every process of an agent still
// carries the agent's unique OPENCLAW_CONFIG_PATH in its environment: find them by that.
/** Live processes whose environment has exactly `name=value` (readable ones: same user or root). */
export function processesWithEnv(name: string, value: string): ProcRef[] {
  const needle = `${name}=${value}`;
  const out: ProcRef[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(needle)) continue;
    } catch {
      continue; // gone, or not ours to read
    }
    const stat = readStat(pid);
    if (stat && stat.state !== 'Z') out.push({ pid, startTime: stat.startTime });
  }
  return out;
}
