// An agent's cgroup on the unified hierarchy (cgroup v2): one folder. Kill-all is the
// kernel's own cgroup.kill (5.14+: it walks the subtree and kills every task, forks in
// flight included); signalling everyone is made atomic with cgroup.freeze. Limits need the
// memory/cpu/pids controllers enabled by the parent (cgroup-prepare.ts); without them
// applyLimits refuses a set limit and says which controller is missing.
import { existsSync } from 'node:fs';
import { FleetError } from '../errors.js';
import type { AgentCgroup, CgroupUsage, OomCounters } from './cgroup-types.js';
import { cgroupPath, makeCgroupDir, memberPidsOf, readCgroupFile, removeCgroupTree, signalMembers, subtreePids, writeCgroupFile, type Freezer } from './cgroup-files.js';
import { v2LimitWrites } from './cgroup-limits.js';
import { parseCpuMax, parseKeyedCounters, parseLimitValue } from './cgroup-parse.js';
import type { AgentLimits } from './limits.js';

// cpu.stat usage_usec counts from the cgroup's creation, across every run of the agent, and
// v2 cannot reset it: the figure at the run's start (oomBaseline) is kept per cgroup folder
// (whatever object reads it) and subtracted, so usage() reports the run's own CPU, as v1
// (which resets its counter). fleetd keeps it in memory: a fleetd that adopts a run (live
// restore) takes it at the adoption, the meaning v1 has too.
const cpuBaselineUsec = new Map<string, number>();

/** cgroup v2 implementation of AgentCgroup. */
export class V2AgentCgroup implements AgentCgroup {
  readonly version = 2 as const;
  readonly dirs: readonly string[];
  readonly procsFiles: readonly string[];

  /** `controllers`: what the parent enables (for error messages; the files decide). */
  constructor(
    readonly name: string,
    readonly dir: string,
    private readonly controllers: readonly string[],
  ) {
    this.dirs = [dir];
    this.procsFiles = [cgroupPath(dir, 'cgroup.procs')];
  }

  create(): void {
    makeCgroupDir(this.dir);
  }

  applyLimits(limits: AgentLimits): void {
    for (const write of v2LimitWrites(limits)) {
      const file = cgroupPath(this.dir, write.file);
      if (!existsSync(file)) {
        if (write.optional || write.limit === undefined) continue;
        throw new FleetError(
          'PROVISION_FAILED',
          `limits.${write.limit} cannot be applied: the ${write.controller} controller is not enabled for ${this.dir} ` +
            `(enabled: ${this.controllers.join(', ') || 'none'}); on cgroup v2 the parent must delegate it (systemd Delegate=yes, or "+${write.controller}" in the parent's cgroup.subtree_control)`,
        );
      }
      writeCgroupFile(file, write.value);
    }
  }

  memberPids(): Iterable<number> {
    return memberPidsOf([this.dir]);
  }

  pids(): number[] {
    return subtreePids(this.dir);
  }

  isEmpty(): boolean {
    const events = readCgroupFile(cgroupPath(this.dir, 'cgroup.events'));
    if (events === undefined) return this.pids().length === 0;
    return parseKeyedCounters(events).populated === 0;
  }

  /** cgroup.freeze of this cgroup (the whole subtree), when the kernel has it. */
  private freezer(): Freezer | undefined {
    const file = cgroupPath(this.dir, 'cgroup.freeze');
    if (!existsSync(file)) return undefined;
    return {
      freeze: () => writeCgroupFile(file, '1'),
      isFrozen: () => parseKeyedCounters(readCgroupFile(cgroupPath(this.dir, 'cgroup.events')) ?? '').frozen === 1,
      thaw: () => writeCgroupFile(file, '0'),
    };
  }

  signal(signals: readonly NodeJS.Signals[]): Promise<number[]> {
    return signalMembers(this.freezer(), () => this.pids(), signals);
  }

  async killAll(): Promise<number[]> {
    const seen = this.pids();
    const kill = cgroupPath(this.dir, 'cgroup.kill');
    if (existsSync(kill)) {
      writeCgroupFile(kill, '1');
      return seen;
    }
    // Before 5.14: frozen, one pass of SIGKILL reaches everyone.
    await signalMembers(this.freezer(), () => this.pids(), ['SIGKILL']);
    return seen;
  }

  remove(): void {
    removeCgroupTree(this.dir);
    cpuBaselineUsec.delete(this.dir);
  }

  usage(): CgroupUsage {
    const read = (file: string) => readCgroupFile(cgroupPath(this.dir, file));
    const cpu = parseKeyedCounters(read('cpu.stat') ?? '');
    const total = cpu.usage_usec;
    return {
      memory: {
        current: parseLimitValue(read('memory.current')) ?? null,
        limit: parseLimitValue(read('memory.max')) ?? null,
        peak: parseLimitValue(read('memory.peak')) ?? null,
      },
      cpuUsageUsec: total === undefined ? null : Math.max(0, total - (cpuBaselineUsec.get(this.dir) ?? 0)),
      cpuLimit: parseCpuMax(read('cpu.max')) ?? null,
      pids: { current: parseLimitValue(read('pids.current')) ?? null, limit: parseLimitValue(read('pids.max')) ?? null },
      oom: this.oomCounters(),
    };
  }

  oomBaseline(): OomCounters {
    const total = parseKeyedCounters(readCgroupFile(cgroupPath(this.dir, 'cpu.stat')) ?? '').usage_usec;
    if (total === undefined) cpuBaselineUsec.delete(this.dir);
    else cpuBaselineUsec.set(this.dir, total);
    return this.oomCounters();
  }

  oomCounters(): OomCounters {
    // memory.events is hierarchical (counts descendants too): right for a gateway tree.
    const events = parseKeyedCounters(readCgroupFile(cgroupPath(this.dir, 'memory.events')) ?? '');
    return { oomKills: events.oom_kill ?? 0, limitHits: events.oom ?? 0 };
  }
}
