// Stops one gateway's whole process tree and nothing else: SIGTERM (then SIGCONT, so a
// SIGSTOPped process can act on it) to its process group and to every descendant, also
// those in other groups or sessions (OpenClaw's spawn broker runs in its own session);
// waits up to the timeout; SIGKILLs whatever is left. Every pid is checked against the
// start time it had when first seen, so a pid reused by another process is never signalled.
// Never SIGUSR1 (it opens the Node inspector in OpenClaw).
//
// Race: a process that forks a detached child and dies at once (say SIGTERM arrives before
// its handler is installed) hands the child to init before a descendant walk can see it.
// So the tree is frozen first: SIGSTOP to everything, wait until all of it is stopped
// (a fork in progress completes before the stop takes effect), walk again, and only then
// SIGTERM + SIGCONT. A pending SIGTERM is delivered on resume, before any more user code.
//
// Race 2 (issue 9 item 4): a process that forks IN REACTION to the SIGTERM (a detached
// child in a new session that ignores SIGTERM) and exits at once: the freeze cannot help,
// the child is born after it and re-parented to init within microseconds. But it carries
// the agent's environment marker (its unique OPENCLAW_CONFIG_PATH, inherited through fork
// and exec): whenever the known tree is gone, /proc is searched for that marker, and what
// is found is stopped the same way (SIGTERM, grace, SIGKILL), until nothing carries it.
// Only a process that ALSO clears its environment escapes this; per-agent cgroups are the
// complete answer, this is the fallback where there is none.
//
// Cost: every read of /proc goes through a ProcTable (proc-table.ts). fleetd passes its one
// shared table, so stops that poll together (stop --all, a shutdown) share one scan per
// poll and one search of the environments, instead of one each.
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { AGENT_MARKER_ENV, descendantsOf, readEnvVar, readStat, type ProcRef, type ProcSnapshot } from './proc.js';
import { createProcTable, type ProcTable } from './proc-table.js';

/** What to stop. */
export interface StopTarget {
  /** Root of the tree (the gateway's main process); may already be dead. */
  pid: number;
  /** Its process group (a detached gateway leads its own group: pgid = pid). */
  pgid?: number;
  /** When given, the root is only touched if its start time still matches. */
  startTime?: string;
  /** Processes seen in this tree earlier, still ours if their start time matches (they may have been re-parented to init). */
  extra?: ProcRef[];
  /**
   * The caller vouches for `pgid` even when the root cannot be verified (the runner just
   * reaped its own child: the kernel does not reuse a pid while it names a live group).
   */
  trustGroup?: boolean;
  /**
   * Environment entry every process of this tree carries (see Race 2): processes with it
   * are part of the tree wherever they were re-parented. Default: the AGENT_MARKER_ENV value
   * read from the root (or a remembered process) when it is verified; null: none.
   */
  marker?: EnvMarker | null;
}

/** An environment entry `name=value` that marks the processes of one tree. */
export interface EnvMarker {
  name: string;
  value: string;
}

/** How long to wait. */
export interface StopOptions {
  /** Grace between SIGTERM and SIGKILL. */
  timeoutMs: number;
  /** Poll interval of /proc (default 25 ms). */
  pollMs?: number;
  /** How long to keep SIGKILLing new arrivals before giving up (default 2000 ms). */
  killWaitMs?: number;
  /**
   * The /proc table shared with other stops (fleetd's one table: 200 stops polling together
   * share one scan per poll). Default: a table of this stop's own.
   */
  procs?: ProcTable;
}

/** What stopTree did. */
export interface StopReport {
  /** Processes sent SIGTERM. */
  terminated: number[];
  /** Processes that were still there after the timeout and got SIGKILL. */
  killed: number[];
  /** Process groups signalled. */
  groups: number[];
  /** Still alive at the end (empty unless something is unkillable, e.g. in D state). */
  survivors: number[];
  elapsedMs: number;
}

/** Signals sent by stopTree, in order of use. */
type StopSignal = 'SIGSTOP' | 'SIGTERM' | 'SIGCONT' | 'SIGKILL';

/** Longest wait for the tree to freeze before signalling it anyway. */
const FREEZE_MAX_MS = 500;

// Membership is re-read on every poll: a process may fork while we wait, and children of
// a dying parent are re-parented (to init) where a descendant walk no longer finds them,
// so everything seen once is remembered by (pid, start time).
/** Stops the tree of `target`; resolves when it is gone or after SIGKILL. */
export async function stopTree(target: StopTarget, options: StopOptions): Promise<StopReport> {
  const started = Date.now();
  const pollMs = options.pollMs ?? 25;
  const procs = options.procs ?? createProcTable();
  const calledAt = procs.now();
  const known = new Map<number, string>();
  const groups = new Set<number>();
  const terminated = new Set<number>();
  const killed = new Set<number>();

  const rootStat = readStat(target.pid);
  const rootOk = rootStat !== undefined && rootStat.state !== 'Z' && (target.startTime === undefined || rootStat.startTime === target.startTime);
  if (rootOk) known.set(target.pid, rootStat.startTime);
  const pgid = target.pgid ?? (rootOk ? rootStat.pgid : undefined);
  if (pgid !== undefined && pgid > 1 && (rootOk || target.trustGroup)) groups.add(pgid);
  for (const ref of target.extra ?? []) {
    const stat = readStat(ref.pid);
    if (stat && stat.state !== 'Z' && stat.startTime === ref.startTime) known.set(ref.pid, ref.startTime);
  }
  const marker = target.marker === null ? undefined : (target.marker ?? markerOf([...known.keys()]));
  /** Adds living processes that carry the marker (from a search begun at or after `since`) to the tree; true when any was new. */
  const scanMarked = (since: number): boolean => {
    if (!marker) return false;
    let grew = false;
    for (const p of procs.marked(marker.name, marker.value, since)) {
      if (known.get(p.pid) === p.startTime) continue;
      known.set(p.pid, p.startTime);
      grew = true;
    }
    return grew;
  };

  // `since`: the scan must have started after this moment (our last signals, or the call).
  const collect = (since: number): ProcSnapshot => {
    const table = procs.snapshot(since);
    const byPid = table.byPid;
    let grew = true;
    while (grew) {
      grew = false;
      for (const pid of [...known.keys()]) {
        for (const child of descendantsOf(pid, table)) {
          if (!known.has(child.pid)) {
            known.set(child.pid, child.startTime);
            grew = true;
          }
        }
        // A descendant leading its own group (a detached helper) owns that group.
        const stat = byPid.get(pid);
        if (stat && stat.pgid === pid && stat.startTime === known.get(pid)) groups.add(pid);
      }
      for (const g of groups) {
        for (const member of table.groups.get(g) ?? []) {
          if (!known.has(member.pid)) {
            known.set(member.pid, member.startTime);
            grew = true;
          }
        }
      }
    }
    return table;
  };

  const alive = (table: ProcSnapshot): number[] => {
    return [...known].filter(([pid, start]) => {
      const p = table.byPid.get(pid);
      return p !== undefined && p.state !== 'Z' && p.startTime === start;
    }).map(([pid]) => pid);
  };

  // Each group and each process gets SIGTERM once (a second SIGTERM can mean "force quit"
  // to some programs); members reached by a group signal are not signalled again one by one.
  const groupsSent = { SIGSTOP: new Set<number>(), SIGTERM: new Set<number>(), SIGCONT: new Set<number>(), SIGKILL: new Set<number>() };
  // With `only` (newcomers, born after the group signals) each pid is signalled directly.
  const signalAll = (table: ProcSnapshot, signal: StopSignal, only?: Set<number>): void => {
    const repeatable = signal === 'SIGKILL' || signal === 'SIGSTOP';
    const sentNow = new Set<number>();
    for (const g of only ? [] : groups) {
      if (!repeatable && groupsSent[signal].has(g)) continue;
      if (sendGroup(g, signal)) {
        groupsSent[signal].add(g);
        sentNow.add(g);
      }
    }
    for (const pid of alive(table)) {
      if (only && !only.has(pid)) continue;
      // SIGKILL and SIGSTOP go to each pid as well (a member may have left the group), but a
      // pid the group signal just reached counts even if it is a zombie by the time we look.
      const viaGroup = sentNow.has(table.byPid.get(pid)?.pgid ?? -1);
      const direct = viaGroup && !repeatable ? false : sendPid(pid, known.get(pid) as string, signal);
      if (viaGroup || direct) {
        if (signal === 'SIGTERM') terminated.add(pid);
        if (signal === 'SIGKILL') killed.add(pid);
      }
    }
  };

  // Phase 0: freeze the tree (see the race above), re-walking until nothing new appears.
  // Stops started in the same turn (a fleet stopping all its agents) share the first scan.
  await nextTurn();
  scanMarked(calledAt);
  let table = collect(calledAt);
  const freezeUntil = Date.now() + FREEZE_MAX_MS;
  while (alive(table).length > 0) {
    signalAll(table, 'SIGSTOP');
    const before = known.size;
    const sent = procs.now();
    await sleep(2);
    table = collect(sent);
    const frozen = alive(table).every((pid) => isStopped(table.byPid.get(pid)?.state));
    if ((frozen && known.size === before) || Date.now() >= freezeUntil) break;
  }

  // Phase 1: SIGTERM, then SIGCONT (a stopped process acts on SIGTERM only once continued).
  if (alive(table).length > 0 || groups.size > 0) {
    signalAll(table, 'SIGTERM');
    signalAll(table, 'SIGCONT');
  }
  /** SIGTERM + SIGCONT to living processes of the tree that have not had them yet. */
  const terminateNewcomers = () => {
    const fresh = new Set(alive(table).filter((pid) => !terminated.has(pid)));
    if (fresh.size > 0) {
      signalAll(table, 'SIGTERM', fresh);
      signalAll(table, 'SIGCONT', fresh);
    }
  };
  // An escapee may fork while the scan that saw the tree gone is running: the marker search
  // must begin after that scan ENDED (stops that saw their trees gone on one scan share it).
  const termDeadline = started + Math.max(0, options.timeoutMs);
  for (;;) {
    if (alive(table).length === 0) {
      // The known tree is gone: did anything escape it (Race 2)? (Past the grace, phase 2 looks.)
      const after = table.doneAt;
      if (Date.now() >= termDeadline || !scanMarked(after)) break;
      table = collect(after);
      terminateNewcomers();
      continue;
    }
    if (Date.now() >= termDeadline) break;
    const polled = procs.now();
    await sleep(Math.min(pollMs, Math.max(1, termDeadline - Date.now())));
    table = collect(polled);
    terminateNewcomers();
  }

  // Phase 2: SIGKILL what is left, until nothing is left (marked escapees included) or killWaitMs passes.
  const killDeadline = Date.now() + (options.killWaitMs ?? 2000);
  for (;;) {
    if (alive(table).length === 0) {
      const after = table.doneAt;
      if (!scanMarked(after)) break;
      table = collect(after);
    }
    signalAll(table, 'SIGKILL');
    if (Date.now() >= killDeadline) break;
    const polled = procs.now();
    await sleep(pollMs);
    table = collect(polled);
  }

  return {
    terminated: [...terminated],
    killed: [...killed],
    groups: [...groups],
    survivors: alive(collect(procs.now())),
    elapsedMs: Date.now() - started,
  };
}

/** The AGENT_MARKER_ENV entry of the first of `pids` that has one. */
function markerOf(pids: number[]): EnvMarker | undefined {
  for (const pid of pids) {
    const value = readEnvVar(pid, AGENT_MARKER_ENV);
    if (value) return { name: AGENT_MARKER_ENV, value };
  }
  return undefined;
}

/** True for the /proc states of a stopped process (T: signal stop, t: tracing stop). */
function isStopped(state: string | undefined): boolean {
  return state === 'T' || state === 't';
}

/** Sends `signal` to one pid if it is still the process first seen; true when sent. */
function sendPid(pid: number, startTime: string, signal: StopSignal): boolean {
  const stat = readStat(pid);
  if (!stat || stat.state === 'Z' || stat.startTime !== startTime) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to a whole process group; false when the group has no members left. */
function sendGroup(pgid: number, signal: StopSignal): boolean {
  if (pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}
