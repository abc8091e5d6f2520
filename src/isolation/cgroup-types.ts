// The interface of one agent's cgroup (both hierarchies implement it), and what it reports.
// Apart from cgroup-agent.ts (the factory), so the v1 and v2 classes import no module that
// imports them.
import type { AgentLimits } from './limits.js';

/** Memory of a cgroup, bytes; null where the kernel does not say (no memory controller). */
export interface CgroupMemory {
  current: number | null;
  /** memory.max / memory.limit_in_bytes; null = no limit (or unknown). */
  limit: number | null;
  /** Highest usage seen (memory.peak / memory.max_usage_in_bytes). */
  peak: number | null;
}

/** Counters that tell an OOM kill apart: compare a reading before the spawn with one after the exit. */
export interface OomCounters {
  /** Processes of this cgroup the kernel's OOM killer killed (v2 memory.events oom_kill, v1 memory.oom_control oom_kill). */
  oomKills: number;
  /** Times the cgroup hit its own memory limit (v2 memory.events oom; v1 memory.failcnt + memory.memsw.failcnt). */
  limitHits: number;
  /**
   * v1: the usage peak since the last oomBaseline() is at the limit (within 1 MiB). v1's
   * failcnt does not count every limit hit (this host's 6.18 kernel leaves memsw.failcnt at
   * 0 when memsw is the counter that fails), so the peak gauge is the second witness.
   */
  peakAtLimit?: boolean;
}

/** Everything status shows about a cgroup. */
export interface CgroupUsage {
  memory: CgroupMemory;
  /** CPU time used in the cgroup by its current (or, stopped, its last) run, microseconds: since oomBaseline() at the run's start or adoption (null: not available). */
  cpuUsageUsec: number | null;
  /** CPU quota in cores, null = none. */
  cpuLimit: number | null;
  pids: { current: number | null; limit: number | null };
  oom: OomCounters;
}

/** What stopCgroup and the runner need of one agent's cgroup. */
export interface AgentCgroup {
  readonly version: 1 | 2;
  /** `<fleet>@<agent>`. */
  readonly name: string;
  /** Its folder(s): one on v2, one per v1 hierarchy. */
  readonly dirs: readonly string[];
  /** cgroup.procs files the launch chain writes its pid to (cgroupJoinPrefix). */
  readonly procsFiles: readonly string[];
  /** Creates the cgroup (idempotent). */
  create(): void;
  /** Writes every limit (unset ones as "no limit"); PROVISION_FAILED when a set limit has no controller. */
  applyLimits(limits: AgentLimits): void;
  /** Pids in the cgroup and below it, sorted. */
  pids(): number[];
  /** The same pids, read folder by folder as the caller iterates, an unreadable folder skipped (cgroup-files.ts memberPidsOf): for a caller that may stop early. */
  memberPids(): Iterable<number>;
  /** True when no process is left (v2: cgroup.events populated 0). */
  isEmpty(): boolean;
  /** Sends each signal to every member, atomically when the cgroup can freeze (no fork slips between); returns the pids reached. */
  signal(signals: readonly NodeJS.Signals[]): Promise<number[]>;
  /** SIGKILLs every member (v2 cgroup.kill; else freeze, SIGKILL each, thaw); returns the pids it saw. */
  killAll(): Promise<number[]>;
  /** Removes the (empty) cgroup; CONFLICT while processes remain. */
  remove(): void;
  /** Memory, CPU, pids and OOM counters. */
  usage(): CgroupUsage;
  /** OOM counters at a run's start (its spawn or adoption); also starts the run's CPU figure of usage() and (v1) restarts the peak gauge. Compare with oomCounters() at exit. */
  oomBaseline(): OomCounters;
  /** OOM counters now (at the gateway's exit). */
  oomCounters(): OomCounters;
}
