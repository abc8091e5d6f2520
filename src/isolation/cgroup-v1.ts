// An agent's cgroup on cgroup v1: one folder per hierarchy (memory, cpu, cpuacct, pids,
// freezer; co-mounted controllers share one). v1 has no cgroup.kill, so kill-all is the
// classic freezer dance: FROZEN (nobody can fork any more), SIGKILL every member, THAWED
// (the kills land as the tasks wake). Without a freezer hierarchy the kill is repeated
// until the cgroup is empty, bounded.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { FleetError } from '../errors.js';
import type { AgentCgroup, CgroupUsage, OomCounters } from './cgroup-types.js';
import type { V1Controller } from './cgroup-detect.js';
import { cgroupPath, makeCgroupDir, memberPidsOf, readCgroupFile, removeCgroupTree, signalMembers, signalPids, subtreePids, whileFrozen, writeCgroupFile, type Freezer } from './cgroup-files.js';
import { v1LimitWrites } from './cgroup-limits.js';
import { parseKeyedCounters, parseLimitValue } from './cgroup-parse.js';
import { CPU_PERIOD_US, type AgentLimits } from './limits.js';

/** One folder of the agent's v1 cgroup and the controllers of its hierarchy. */
export interface V1Dir {
  controllers: readonly V1Controller[];
  dir: string;
}

/** A peak this close to the limit means the limit was reached (the kernel reclaims just below it). */
const PEAK_SLACK_BYTES = 1024 * 1024;

/** How long killAll keeps SIGKILLing newcomers when there is no freezer. */
const UNFROZEN_KILL_MS = 2000;

/** cgroup v1 implementation of AgentCgroup. */
export class V1AgentCgroup implements AgentCgroup {
  readonly version = 1 as const;
  readonly dirs: readonly string[];
  readonly procsFiles: readonly string[];

  constructor(
    readonly name: string,
    private readonly parts: readonly V1Dir[],
  ) {
    this.dirs = parts.map((p) => p.dir);
    this.procsFiles = parts.map((p) => cgroupPath(p.dir, 'cgroup.procs'));
  }

  /** The folder of `controller`, if a hierarchy carries it. */
  private dirOf(controller: V1Controller): string | undefined {
    return this.parts.find((p) => p.controllers.includes(controller))?.dir;
  }

  create(): void {
    for (const dir of this.dirs) makeCgroupDir(dir);
  }

  applyLimits(limits: AgentLimits): void {
    const memDir = this.dirOf('memory');
    const current = memDir ? parseLimitValue(readCgroupFile(cgroupPath(memDir, 'memory.limit_in_bytes'))) : undefined;
    for (const write of v1LimitWrites(limits, current)) {
      const dir = this.dirOf(write.controller);
      const file = dir === undefined ? undefined : cgroupPath(dir, write.file);
      if (file === undefined || !existsSync(file)) {
        if (write.optional || write.limit === undefined) continue;
        throw new FleetError(
          'PROVISION_FAILED',
          `limits.${write.limit} cannot be applied: this host has no usable cgroup v1 ${write.controller} hierarchy (${this.dirs.join(', ')})`,
        );
      }
      writeCgroupFile(file, write.value);
    }
  }

  memberPids(): Iterable<number> {
    return memberPidsOf(this.dirs);
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const dir of this.dirs) for (const pid of subtreePids(dir)) all.add(pid);
    return [...all].sort((a, b) => a - b);
  }

  isEmpty(): boolean {
    return this.pids().length === 0;
  }

  /** freezer.state of this cgroup, when a freezer hierarchy is mounted. */
  private freezer(): Freezer | undefined {
    const dir = this.dirOf('freezer');
    const file = dir === undefined ? undefined : cgroupPath(dir, 'freezer.state');
    if (file === undefined || !existsSync(file)) return undefined;
    return {
      freeze: () => writeCgroupFile(file, 'FROZEN'),
      isFrozen: () => readCgroupFile(file)?.trim() === 'FROZEN',
      thaw: () => writeCgroupFile(file, 'THAWED'),
    };
  }

  signal(signals: readonly NodeJS.Signals[]): Promise<number[]> {
    return signalMembers(this.freezer(), () => this.pids(), signals);
  }

  async killAll(): Promise<number[]> {
    const seen = new Set(this.pids());
    const { frozen } = await whileFrozen(this.freezer(), () => signalPids(this.pids(), 'SIGKILL'));
    if (frozen) return [...seen];
    // No freezer (or it would not settle): kill until empty; a fork bomb is bounded by pids.max.
    const deadline = Date.now() + UNFROZEN_KILL_MS;
    for (;;) {
      const pids = this.pids();
      for (const pid of pids) seen.add(pid);
      if (pids.length === 0 || Date.now() >= deadline) break;
      signalPids(pids, 'SIGKILL');
      await sleep(5);
    }
    return [...seen];
  }

  remove(): void {
    for (const dir of this.dirs) removeCgroupTree(dir);
  }

  usage(): CgroupUsage {
    const read = (controller: V1Controller, file: string) => {
      const dir = this.dirOf(controller);
      return dir === undefined ? undefined : readCgroupFile(cgroupPath(dir, file));
    };
    const usageNs = parseLimitValue(read('cpuacct', 'cpuacct.usage'));
    const quota = read('cpu', 'cpu.cfs_quota_us');
    const period = Number(read('cpu', 'cpu.cfs_period_us') ?? CPU_PERIOD_US);
    const quotaUs = quota === undefined ? undefined : Number(quota.trim());
    const memory = {
      current: parseLimitValue(read('memory', 'memory.usage_in_bytes')) ?? null,
      limit: parseLimitValue(read('memory', 'memory.limit_in_bytes')) ?? null,
      peak: parseLimitValue(read('memory', 'memory.max_usage_in_bytes')) ?? null,
    };
    return {
      memory,
      cpuUsageUsec: typeof usageNs === 'number' ? Math.floor(usageNs / 1000) : null,
      cpuLimit: quotaUs !== undefined && quotaUs > 0 && period > 0 ? quotaUs / period : null,
      pids: { current: parseLimitValue(read('pids', 'pids.current')) ?? null, limit: parseLimitValue(read('pids', 'pids.max')) ?? null },
      oom: this.oomCountersWith(memory), // the peak and limit just read, not read twice
    };
  }

  oomBaseline(): OomCounters {
    // The run's own CPU: cpuacct.usage counts from the cgroup's creation, across every run
    // of the agent (a new run showed 1.4 s against its tree's 0.05 s). Writing 0 restarts
    // it, as the peak below; the kernel keeps it, so a fleetd that adopts the run later
    // (live restore) reads the same meaning: since the run began or was adopted.
    const cpuDir = this.dirOf('cpuacct');
    if (cpuDir !== undefined && existsSync(cgroupPath(cpuDir, 'cpuacct.usage'))) {
      try {
        writeCgroupFile(cgroupPath(cpuDir, 'cpuacct.usage'), '0');
      } catch {
        // not resettable here: the OOM baseline below still matters more
      }
    }
    const dir = this.dirOf('memory');
    if (dir !== undefined) {
      for (const file of ['memory.max_usage_in_bytes', 'memory.memsw.max_usage_in_bytes']) {
        if (existsSync(cgroupPath(dir, file))) writeCgroupFile(cgroupPath(dir, file), '0');
      }
      // The peaks were just reset: no need to read them and the limits back (4 reads of the
      // 11 file operations this made before every spawn); oomExitReason reads peakAtLimit
      // from the counters after the exit only.
      return countersOf(dir, false);
    }
    return this.oomCounters();
  }

  oomCounters(): OomCounters {
    return this.oomCountersWith();
  }

  /** oomCounters, with the memory peak and limit when the caller has just read them. */
  private oomCountersWith(memory?: { peak: number | null; limit: number | null }): OomCounters {
    const dir = this.dirOf('memory');
    if (dir === undefined) return { oomKills: 0, limitHits: 0, peakAtLimit: false };
    const num = (file: string) => parseLimitValue(readCgroupFile(cgroupPath(dir, file)));
    const near = (peak: number | null | undefined, limit: number | null | undefined) =>
      typeof peak === 'number' && typeof limit === 'number' && peak >= limit - PEAK_SLACK_BYTES;
    const peakAtLimit =
      near(memory ? memory.peak : num('memory.max_usage_in_bytes'), memory ? memory.limit : num('memory.limit_in_bytes')) ||
      near(num('memory.memsw.max_usage_in_bytes'), num('memory.memsw.limit_in_bytes'));
    return countersOf(dir, peakAtLimit);
  }
}

// One literal, not `{ ...kills, peakAtLimit }`: a run keeps its baseline and each reading its
// counters, and a spread-then-added object gets a hidden class of its own (util/merge.ts).
/** The OOM kills (memory.oom_control) and limit hits (memory.failcnt + memory.memsw.failcnt) of the memory cgroup `dir`, with `peakAtLimit` as given. */
function countersOf(dir: string, peakAtLimit: boolean): OomCounters {
  const num = (file: string) => parseLimitValue(readCgroupFile(cgroupPath(dir, file)));
  const control = parseKeyedCounters(readCgroupFile(cgroupPath(dir, 'memory.oom_control')) ?? '');
  return { oomKills: control.oom_kill ?? 0, limitHits: (num('memory.failcnt') ?? 0) + (num('memory.memsw.failcnt') ?? 0), peakAtLimit };
}
