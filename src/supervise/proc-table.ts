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
// scan per poll. Scans are synchronous: no caller ever sees a half-built table.
import { indexProcesses, listProcesses, processesWithEnvName, treeRssBytes, type ProcRef, type ProcSnapshot, type ProcStat } from './proc.js';

/** Shared, coalescing access to /proc for every runner of one fleetd. */
export interface ProcTable {
  /** A snapshot whose scan started at or after `notBefore` (monotonic ms of `now()`; default now: a new scan). */
  snapshot(notBefore?: number): ProcSnapshot;
  /** Processes whose environment holds exactly `name=value`, from an environment scan started at or after `notBefore`. */
  marked(name: string, value: string, notBefore?: number): ProcRef[];
  /** The table's clock (monotonic ms): callers take their `notBefore` from it. */
  now(): number;
  /** Scans done so far (process tables, environment scans), for tests and benchmarks. */
  scans(): { tables: number; environments: number };
}

/** Dependencies of createProcTable (real defaults). */
export interface ProcTableDeps {
  now?: () => number;
  /** Reads every process of /proc. */
  list?: () => ProcStat[];
  /** Maps each value of environment variable `name` to the processes that carry it (one pass over /proc). */
  environments?: (name: string) => Map<string, ProcRef[]>;
}

/** Creates the shared table (one per fleetd; tests make their own). */
export function createProcTable(deps: ProcTableDeps = {}): ProcTable {
  const now = deps.now ?? (() => performance.now());
  const list = deps.list ?? listProcesses;
  const environments = deps.environments ?? environmentIndex;
  let cached: ProcSnapshot | null = null;
  const envCache = new Map<string, { takenAt: number; index: Map<string, ProcRef[]> }>();
  const counts = { tables: 0, environments: 0 };
  return {
    now,
    snapshot(notBefore = now()) {
      if (cached && cached.takenAt >= notBefore) return cached;
      const takenAt = now();
      counts.tables += 1;
      cached = indexProcesses(list(), takenAt);
      return cached;
    },
    marked(name, value, notBefore = now()) {
      let entry = envCache.get(name);
      if (!entry || entry.takenAt < notBefore) {
        const takenAt = now();
        counts.environments += 1;
        entry = { takenAt, index: environments(name) };
        envCache.set(name, entry);
      }
      return (entry.index.get(value) ?? []).map((ref) => ({ ...ref }));
    },
    scans: () => ({ ...counts }),
  };
}

/** One pass over /proc/<pid>/environ of every readable process: value of `name` -> its living processes. */
export function environmentIndex(name: string): Map<string, ProcRef[]> {
  const index = new Map<string, ProcRef[]>();
  for (const { value, pid, startTime } of processesWithEnvName(name)) {
    const list = index.get(value);
    if (list) list.push({ pid, startTime });
    else index.set(value, [{ pid, startTime }]);
  }
  return index;
}

// A process younger than the scan (spawned in the last second) has no RSS worth showing
// yet; rescanning for it made every status call during a start of many agents walk /proc.
/** RSS of each pid's whole tree (bytes), from one snapshot at most `maxAgeMs` old; pids not in it yet are left out. */
export function treeRssOf(procs: ProcTable, pids: readonly number[], pageSize: number, maxAgeMs: number): Map<number, number> {
  const snap = procs.snapshot(procs.now() - maxAgeMs);
  return new Map(pids.filter((pid) => snap.byPid.has(pid)).map((pid) => [pid, treeRssBytes(pid, snap, pageSize)]));
}
