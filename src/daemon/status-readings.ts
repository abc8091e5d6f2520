// What each agent uses (its process tree's RSS and CPU from /proc, its cgroup's memory, CPU,
// pids and OOM counters), read OFF the request path (issue 14). At N = 200 reading them for
// every status call cost fleetd's one thread 10-17 ms per call warm and 50-140 ms once the
// 1 s readings expired (a /proc walk, 200 /proc/<pid>/stat and ~2400 cgroup v1 files, all
// synchronous), and a monitor polling status every 2-20 ms (the benchmark, a dashboard)
// kept fleetd busy with that instead of its exits, spawns and probes.
//
// Now a status call only looks readings up. They are taken by a refresh that runs while
// status is being asked for: at most one per REFRESH_MS, for ACTIVE_MS after the last
// request, a slice of agents per turn of the event loop (its /proc walk sliced too), so no
// request waits behind more than one slice. Nobody asking: no timer, no reads.
//
// The promise of the former usage cache holds: a reading is shown only for the state it
// was taken in (the agent's state, since and pid: `stateKey`) and while it is younger than
// SHOW_MS, so a start, exit or stop is never shown with the previous run's figures; an
// agent whose state changed since its last reading has none to show. The status request
// reads such agents itself (`fill`), at most one slice of them (8: ~0.2 ms each), so an
// agent that just started, exited or stopped shows its cgroup's figures at once while a
// start of the whole fleet costs a request no more than one slice; the others show null
// (RSS, CPU, cgroup memory "unknown") until the next refresh (within REFRESH_MS while
// status is asked). Its tree comes from the last refresh's /proc scan: a scan from before
// the run knows neither its gateway nor the gateway's children, and the tree reader then
// says null (proc-table.ts treeUsageIn) rather than the gateway alone, until a refresh
// whose scan saw it. A caller that wants figures, not nulls (the status request after a quiet spell,
// a metrics scrape) awaits `fresh()`: one refresh when the last one is older than SHOW_MS.
//
// Once nobody asks (refreshes stopped, ACTIVE_MS after the last request) and the last
// readings are too old to be shown (SHOW_MS), they are forgotten with the last refresh's tree
// reader (its /proc scan), and `onIdle` lets the fleet drop what it built from them (its
// views and their kept texts): fleetd held every agent's figures, view and status text
// through hours of nobody asking (~2 KB per agent, ~400 KB at 200 agents after idle). Nothing
// shown changes: the next request after the quiet spell waits for one refresh, as before.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { AgentCgroup } from '../isolation/cgroup-agent.js';
import type { CgroupUsage } from '../isolation/cgroup-types.js';
import type { TreeUsage } from '../supervise/proc-table.js';
import type { RunnerStatus } from '../supervise/types.js';

/** One agent's figures, taken together in one turn. */
export interface StatusReading {
  /** stateKey of the agent when it was read. */
  readonly key: string;
  /** Monotonic ms of the reading. */
  readonly at: number;
  /** Its gateway's process tree (null: no process, or gone when read). */
  readonly tree: TreeUsage | null;
  /** Its cgroup's usage (null: no cgroup, or unreadable). */
  readonly cgroup: CgroupUsage | null;
}

/** What the readings know of one agent at the moment it is read. */
export interface ReadingSubject {
  readonly address: string;
  /** Now: its state key, gateway pid and cgroup. */
  current(): { key: string; pid: number | null; cgroup: AgentCgroup | undefined };
}

/** Timings of the readings (ms; defaults below). */
export interface ReadingTimings {
  /** Least time between two refreshes. */
  refreshMs: number;
  /** Refreshes go on this long after the last `asked()`. */
  activeMs: number;
  /** A reading older than this is not shown. */
  showMs: number;
  /** Agents read per turn of the event loop. */
  slice: number;
}

/** Default timings: readings at most ~1 s old while status is polled (what status and /metrics showed before). */
export const READING_TIMINGS: ReadingTimings = { refreshMs: 1000, activeMs: 5000, showMs: 3000, slice: 8 };

/** Dependencies of createStatusReadings. */
export interface StatusReadingsDeps {
  /** The agents now. */
  subjects: () => Iterable<ReadingSubject>;
  /** Starts one refresh's read of /proc: resolves to a reader of one pid's tree (null when gone). */
  treeReader: () => Promise<(pid: number) => TreeUsage | null>;
  /** Monotonic clock, ms. */
  now?: () => number;
  timings?: Partial<ReadingTimings>;
  /** Called when the readings were forgotten: nobody asked for activeMs, and the last ones are older than showMs. */
  onIdle?: () => void;
}

/** Readings of every agent, refreshed while status is asked for. */
export interface StatusReadings {
  /** The reading of `address` taken in state `key`, if younger than showMs; else undefined (show null). */
  shown(address: string, key: string): StatusReading | undefined;
  /** Status was asked for: keep (or start) refreshing for activeMs. */
  asked(): void;
  /** asked(), and resolves once there are readings to show: at once while the last refresh is younger than showMs, else after one refresh. */
  fresh(): Promise<void>;
  /** Reads now those of `subjects` without a reading in their current state, at most `slice` of them; descendants from the last refresh's /proc scan. */
  fill(subjects: Iterable<ReadingSubject>): Promise<void>;
  /** Refreshes done so far (tests). */
  refreshes(): number;
  /** True when no refresh runs or is scheduled (nobody asked for activeMs). */
  idle(): boolean;
  /** Stops refreshing (fleetd exits); a later asked() starts again. */
  close(): void;
}

/** Keys of frozen statuses made before (a runner returns the same frozen status while nothing changed: runner.ts status()). */
const keys = new WeakMap<object, string>();

/** The state a reading belongs to: state, since and pid (see the file comment); made once per frozen status. */
export function stateKey(status: Pick<RunnerStatus, 'state' | 'since' | 'pid'>): string {
  const kept = keys.get(status);
  if (kept !== undefined) return kept;
  const key = `${status.state} ${status.since} ${status.pid}`;
  if (Object.isFrozen(status)) keys.set(status, key);
  return key;
}

/** Creates the readings (one per fleetd). */
export function createStatusReadings(deps: StatusReadingsDeps): StatusReadings {
  const now = deps.now ?? (() => performance.now());
  const t = { ...READING_TIMINGS, ...deps.timings };
  const readings = new Map<string, StatusReading>();
  let askedAt = -Infinity;
  /** Start of the last refresh that completed, and of the last one begun (monotonic ms). */
  let doneFrom = -Infinity;
  let startedAt = -Infinity;
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  /** Set while nobody asks and the last readings are still shown: forgets them after (forgetLater). */
  let forgetTimer: NodeJS.Timeout | null = null;
  let count = 0;
  let closed = false;

  /** The tree reader of the last refresh (its /proc scan), for fill(). */
  let lastReader: ((pid: number) => TreeUsage | null) | null = null;

  /** Reads one agent: the key, pid and cgroup of this moment, and its files, in one turn. */
  function readOne(subject: ReadingSubject, readTree: (pid: number) => TreeUsage | null): void {
    const { key, pid, cgroup } = subject.current();
    const tree = pid === null ? null : readTree(pid);
    let usage: CgroupUsage | null = null;
    if (cgroup) {
      try {
        usage = cgroup.usage();
      } catch {
        usage = null; // an unreadable cgroup shows "unknown", as before
      }
    }
    readings.set(subject.address, { key, at: now(), tree, cgroup: usage });
  }

  async function readAll(): Promise<void> {
    const from = now();
    const readTree = await deps.treeReader();
    lastReader = readTree;
    const subjects = [...deps.subjects()];
    const seen = new Set<string>();
    for (let i = 0; i < subjects.length; i += t.slice) {
      if (i > 0) await nextTurn();
      for (const subject of subjects.slice(i, i + t.slice)) {
        seen.add(subject.address);
        readOne(subject, readTree);
      }
    }
    for (const address of readings.keys()) if (!seen.has(address)) readings.delete(address); // removed agents
    doneFrom = from;
    count += 1;
  }

  /** Drops every reading and the last scan once they are too old to be shown, unless status is asked for again meanwhile (see the file comment). */
  function forgetLater(): void {
    if (forgetTimer) clearTimeout(forgetTimer);
    forgetTimer = setTimeout(() => {
      forgetTimer = null;
      if (closed || timer || running) return;
      readings.clear();
      lastReader = null;
      deps.onIdle?.();
    }, Math.max(0, doneFrom + t.showMs - now()));
    forgetTimer.unref();
  }

  /** One refresh; concurrent callers share it. */
  function refresh(): Promise<void> {
    if (!running) {
      startedAt = now();
      running = readAll().finally(() => {
        running = null;
        schedule();
      });
    }
    return running;
  }

  /** The next refresh, refreshMs after the last one started, while status is asked for. */
  function schedule(): void {
    if (closed || timer || running) return;
    const at = now();
    if (at - askedAt >= t.activeMs) return forgetLater(); // nobody asks: no more reads, no refresh timer
    timer = setTimeout(() => {
      timer = null;
      if (!closed) void refresh().catch(() => undefined);
    }, Math.max(0, startedAt + t.refreshMs - at));
    timer.unref();
  }

  return {
    shown(address, key) {
      const r = readings.get(address);
      return r && r.key === key && now() - r.at < t.showMs ? r : undefined;
    },
    asked() {
      closed = false;
      askedAt = now();
      if (forgetTimer) clearTimeout(forgetTimer);
      forgetTimer = null;
      if (!running && !timer) {
        if (now() - startedAt >= t.refreshMs) void refresh().catch(() => undefined);
        else schedule();
      }
    },
    async fresh() {
      this.asked();
      // Readings still shown (younger than showMs): no wait. While refreshes run they are at
      // most ~refreshMs plus one refresh old; waiting whenever they passed refreshMs made a
      // request wait out the refresh under way (~30 ms at N = 200).
      if (now() - doneFrom < t.showMs) return;
      await (running ?? refresh()).catch(() => undefined); // a failed refresh shows nulls, as an unreadable file did
    },
    async fill(subjects) {
      const missing: ReadingSubject[] = [];
      for (const subject of subjects) {
        if (this.shown(subject.address, subject.current().key) === undefined) missing.push(subject);
        if (missing.length >= t.slice) break;
      }
      if (missing.length === 0) return;
      const readTree = lastReader ?? (lastReader = await deps.treeReader());
      // read in this turn: each agent's key again, in case it changed while the scan was read
      for (const subject of missing) readOne(subject, readTree);
    },
    refreshes: () => count,
    idle: () => running === null && timer === null,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (forgetTimer) clearTimeout(forgetTimer);
      forgetTimer = null;
    },
  };
}
