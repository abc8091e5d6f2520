// One read of the whole /proc serves every agent. A scan is indexed once (proc.ts
// ProcSnapshot) and shared by every caller that can use it, so the work of a probe, an
// exit, a stop or a status call no longer grows with fleet size times process-table size
// (it was one /proc walk per probe of each agent and per 25 ms poll of each stop, and one
// read of every process's environment per stop and per exit).
//
// Freshness is the caller's to state: `snapshot(notBefore)` returns the cached scan when it
// STARTED at or after `notBefore` (monotonic ms), else scans again. A stop that just sent
// SIGSTOP asks for a scan taken after that moment; a probe that only keeps its list of
// descendants current accepts one a few seconds old; 200 stops polling together share one
// scan per poll. Scans are synchronous: no caller ever sees a half-built table. The one
// exception is snapshotSliced, for readers that can wait (status readings, off the request
// path): it reads /proc a slice of processes per turn of the event loop, so a walk of 1000
// processes (~25 ms at 200 agents) never holds fleetd's thread for more than a slice.
import { readdirSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CLOCK_TICKS_PER_SECOND, descendantsOf, indexProcesses, listProcesses, readEnvVar, readStat, uptimeSeconds, type ProcRef, type ProcSnapshot, type ProcStat } from './proc.js';

/** Processes read per turn of the event loop by snapshotSliced (~20 us each). */
export const SCAN_SLICE = 64;

// The last scan is kept for callers that accept one a little old (a probe's descendant
// tracking: half a health interval; status: 1 s). Kept for good, it outlived every use: at
// 200 agents on cgroups (nothing tracks descendants between status calls) fleetd held a
// scan of ~490 processes (its list, pid/children/group indexes: 160 KB of heap) through
// hours of idle. It is let go SCAN_KEEP_MS after it was taken; a caller after that scans
// again, as it would have for any scan older than it accepts.
/** How long the last scan is kept after it was taken (ms; well above any caller's accepted age at default health timings). */
export const SCAN_KEEP_MS = 30_000;

/** Shared, coalescing access to /proc for every runner of one fleetd. */
export interface ProcTable {
  /** A snapshot whose scan started at or after `notBefore` (monotonic ms of `now()`; default now: a new scan). */
  snapshot(notBefore?: number): ProcSnapshot;
  /**
   * Like snapshot, read SCAN_SLICE processes per turn of the event loop (never a whole walk
   * in one turn); concurrent calls share one scan. The snapshot it makes serves later
   * snapshot() calls like any other (it started when its first slice was read).
   */
  snapshotSliced(notBefore?: number): Promise<ProcSnapshot>;
  /** Processes whose environment holds exactly `name=value`, from a scan started at or after `notBefore` (environments read once per process, see environmentIndex). */
  marked(name: string, value: string, notBefore?: number): ProcRef[];
  /** The table's clock (monotonic ms): callers take their `notBefore` from it. */
  now(): number;
  /** Work done so far (process tables, environment indexes, /proc/<pid>/environ reads), for tests and benchmarks. */
  scans(): { tables: number; environments: number; environReads: number };
}

/** Dependencies of createProcTable (real defaults). */
export interface ProcTableDeps {
  now?: () => number;
  /** Reads every process of /proc. */
  list?: () => ProcStat[];
  /** The pids of /proc, for snapshotSliced (default: /proc's numeric entries; with `list` given and not this: list() in one turn). */
  pids?: () => number[];
  /** One process of /proc, for snapshotSliced (default readStat). */
  stat?: (pid: number) => ProcStat | undefined;
  /** The value of `name` in a process's initial environment (undefined: unset or unreadable). */
  readEnv?: (pid: number, name: string) => string | undefined;
  /** Seconds since boot, the clock of start times (100 ticks per second). */
  uptime?: () => number;
  /** How long the last scan is kept (ms, default SCAN_KEEP_MS). */
  keepMs?: number;
}

/** Creates the shared table (one per fleetd; tests make their own). */
export function createProcTable(deps: ProcTableDeps = {}): ProcTable {
  const now = deps.now ?? (() => performance.now());
  const list = deps.list ?? listProcesses;
  const readEnv = deps.readEnv ?? readEnvVar;
  const uptime = deps.uptime ?? uptimeSeconds;
  let cached: ProcSnapshot | null = null;
  const keepMs = deps.keepMs ?? SCAN_KEEP_MS;
  let dropTimer: NodeJS.Timeout | null = null;
  /** Makes `snap` the cached scan, let go keepMs from now (one unref'd timer, restarted per scan). */
  const keep = (snap: ProcSnapshot): void => {
    cached = snap;
    if (dropTimer) dropTimer.refresh();
    else {
      dropTimer = setTimeout(() => {
        dropTimer = null;
        cached = null;
      }, keepMs);
      dropTimer.unref();
    }
  };
  const envIndexes = new Map<string, { takenAt: number; index: Map<string, ProcRef[]> }>();
  const envSeen = new Map<string, Map<number, SeenEnv>>();
  const counts = { tables: 0, environments: 0, environReads: 0 };
  const snapshot = (notBefore = now()): ProcSnapshot => {
    if (cached && cached.takenAt >= notBefore) return cached;
    const takenAt = now();
    counts.tables += 1;
    const procs = list();
    const snap = indexProcesses(procs, takenAt, now());
    keep(snap);
    return snap;
  };
  // A sliced walk: deps.list (tests) is read whole; else /proc's pids, SCAN_SLICE per turn.
  const sliced = deps.list && !deps.pids ? null : { pids: deps.pids ?? procPids, stat: deps.stat ?? readStat };
  let slicing: { takenAt: number; done: Promise<ProcSnapshot> } | null = null;
  const scanSliced = async (takenAt: number): Promise<ProcSnapshot> => {
    counts.tables += 1;
    let procs: ProcStat[];
    if (!sliced) procs = list();
    else {
      procs = [];
      const pids = sliced.pids();
      for (let i = 0; i < pids.length; i += SCAN_SLICE) {
        if (i > 0) await nextTurn();
        for (const pid of pids.slice(i, i + SCAN_SLICE)) {
          const stat = sliced.stat(pid);
          if (stat) procs.push(stat);
        }
      }
    }
    const snap = indexProcesses(procs, takenAt, now());
    if (!cached || cached.takenAt < takenAt) keep(snap);
    return snap;
  };
  return {
    now,
    snapshot,
    snapshotSliced(notBefore = now()) {
      if (cached && cached.takenAt >= notBefore) return Promise.resolve(cached);
      if (slicing && slicing.takenAt >= notBefore) return slicing.done;
      const takenAt = now();
      const mine = { takenAt, done: scanSliced(takenAt) };
      slicing = mine;
      const clear = () => {
        if (slicing === mine) slicing = null;
      };
      mine.done.then(clear, clear);
      return mine.done;
    },
    marked(name, value, notBefore = now()) {
      let entry = envIndexes.get(name);
      if (!entry || entry.takenAt < notBefore) {
        const snap = snapshot(notBefore);
        let seen = envSeen.get(name);
        if (!seen) envSeen.set(name, (seen = new Map()));
        counts.environments += 1;
        const read = (pid: number) => {
          counts.environReads += 1;
          return readEnv(pid, name);
        };
        entry = { takenAt: snap.takenAt, index: environmentIndex(snap, seen, read, uptime()) };
        envIndexes.set(name, entry);
      }
      return (entry.index.get(value) ?? []).map((ref) => ({ ...ref }));
    },
    scans: () => ({ ...counts }),
  };
}

/** What one process's environment said about one variable, and whether that can be kept. */
interface SeenEnv {
  startTime: string;
  value: string | undefined;
}

// /proc/<pid>/environ is the heaviest read of /proc (the kernel copies it out of the
// process's memory); it was read for every process of the host on every stop and exit.
// A process's initial environment does not change, so each one is read once per process
// (pid + start time) and remembered while it lives. One exception: between fork and exec a
// child of fleetd is a copy of fleetd itself, without the agent's marker, and exec keeps
// its pid and start time; so "no marker" is only remembered for a process at least a
// second old (a fork-exec takes milliseconds). A marker once seen is kept.
/** Value of the variable -> living processes carrying it, from `snap`; environments read only for processes not seen before. */
export function environmentIndex(snap: ProcSnapshot, seen: Map<number, SeenEnv>, read: (pid: number) => string | undefined, uptimeSec: number): Map<string, ProcRef[]> {
  const index = new Map<string, ProcRef[]>();
  for (const p of snap.list) {
    if (p.state === 'Z' || p.pid === process.pid) continue;
    let known = seen.get(p.pid);
    if (!known || known.startTime !== p.startTime || (known.value === undefined && !(uptimeSec - Number(p.startTime) / 100 >= 1))) {
      known = { startTime: p.startTime, value: read(p.pid) };
      seen.set(p.pid, known);
    }
    if (known.value === undefined) continue;
    const refs = index.get(known.value);
    if (refs) refs.push({ pid: p.pid, startTime: p.startTime });
    else index.set(known.value, [{ pid: p.pid, startTime: p.startTime }]);
  }
  for (const pid of seen.keys()) if (!snap.byPid.has(pid)) seen.delete(pid);
  return index;
}

// Rescanning /proc for a process younger than the scan made every status call during a
// start of many agents walk /proc: only the gateway itself is read afresh. But a scan that
// does not know the gateway (taken before its run began) does not know its children
// either: its tree would be the gateway alone (45-48 MiB right after a restart against
// 121-126 MiB a second later). Such a pid has no tree figure (null) until a scan that saw it.
/** What a gateway's process tree uses: resident memory (bytes) and CPU time (seconds, user + system, reaped children included). */
export interface TreeUsage {
  rssBytes: number;
  cpuSeconds: number;
}

/**
 * Usage of each pid's whole tree: the pid itself read now (one /proc/<pid>/stat: the shared
 * scan may have caught it before its exec, as the launch chain's /bin/sh), its descendants
 * from one snapshot at most `maxAgeMs` old. Gone pids are left out, and so are pids the
 * snapshot does not know (same pid and start time): it predates them, their tree is unknown.
 * RSS and CPU come from the same read, so status and /metrics never disagree on which
 * process they describe.
 */
export function treeUsageOf(procs: ProcTable, pids: readonly number[], pageSize: number, maxAgeMs: number, ownStat: (pid: number) => ProcStat | undefined = readStat): Map<number, TreeUsage> {
  const snap = procs.snapshot(procs.now() - maxAgeMs);
  const out = new Map<number, TreeUsage>();
  for (const pid of pids) {
    const usage = treeUsageIn(snap, pid, pageSize, ownStat);
    if (usage) out.set(pid, usage);
  }
  return out;
}

/** Usage of one pid's tree (see treeUsageOf): the pid read now, its descendants from `snap`; null when it is gone, a zombie, or younger than the scan (not in `snap` with its start time). */
export function treeUsageIn(snap: ProcSnapshot, pid: number, pageSize: number, ownStat: (pid: number) => ProcStat | undefined = readStat): TreeUsage | null {
  const own = ownStat(pid);
  if (!own || own.state === 'Z') return null;
  if (snap.byPid.get(pid)?.startTime !== own.startTime) return null; // the scan predates this process: its descendants are unknown
  let pages = own.rssPages;
  let ticks = own.cpuTicks;
  for (const p of descendantsOf(pid, snap)) {
    pages += p.rssPages;
    ticks += p.cpuTicks;
  }
  return { rssBytes: pages * pageSize, cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND };
}

/** The pids of /proc's numeric entries ([] when /proc cannot be read). */
function procPids(): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}
