// One agent's cgroup, whatever the hierarchy: the interface the runner uses, the factory
// that picks the v1 or v2 implementation for the host, and the leftover scan (every agent
// cgroup under fleetd's root, with the pids still in it) that a starting fleetd runs first.
import { join } from 'node:path';
import type { CgroupHost } from './cgroup-detect.js';
import { childCgroups, subtreePids } from './cgroup-files.js';
import { AGENTS_DIR, agentCgroupName, parseAgentCgroupName } from './cgroup-parse.js';
import type { AgentLimits } from './limits.js';
import { V1AgentCgroup } from './cgroup-v1.js';
import { V2AgentCgroup } from './cgroup-v2.js';

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
  /** CPU time used by the cgroup since it was created, microseconds (null: not available). */
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
  /** OOM counters right before a spawn (v1: also restarts the peak gauge); compare with oomCounters() at exit. */
  oomBaseline(): OomCounters;
  /** OOM counters now (at the gateway's exit). */
  oomCounters(): OomCounters;
}

/** The cgroup of `fleet/agent` under `host` (nothing is created until create()); undefined without cgroups. */
export function agentCgroup(host: CgroupHost, fleet: string, agent: string): AgentCgroup | undefined {
  const name = agentCgroupName(fleet, agent);
  if (host.kind === 'v2') return new V2AgentCgroup(name, join(host.rootDir, AGENTS_DIR, name), host.controllers);
  if (host.kind === 'v1') {
    return new V1AgentCgroup(
      name,
      host.hierarchies.map((h) => ({ controllers: h.controllers, dir: join(h.rootDir, AGENTS_DIR, name) })),
    );
  }
  return undefined;
}

/** An agent cgroup found under the root. */
export interface FoundAgentCgroup {
  fleet: string;
  agent: string;
  cgroup: AgentCgroup;
  /** Processes in it right now (a previous fleetd's gateways, or nothing). */
  pids: number[];
}

// Membership is the ground truth after a crash: whatever a gateway forked, re-parented or
// daemonized (setsid, double fork, env -i) is still in its cgroup. Folders whose name is
// not `<fleet>@<agent>` are not fleetd's and are left alone.
/** Every agent cgroup under fleetd's root, with its pids (leftovers of a previous fleetd, or empty ones). */
export function listAgentCgroups(host: CgroupHost): FoundAgentCgroup[] {
  const dirs = host.kind === 'v2' ? [join(host.rootDir, AGENTS_DIR)] : host.kind === 'v1' ? host.hierarchies.map((h) => join(h.rootDir, AGENTS_DIR)) : [];
  const names = new Set<string>();
  for (const dir of dirs) for (const name of childCgroups(dir)) names.add(name);
  const out: FoundAgentCgroup[] = [];
  for (const name of [...names].sort()) {
    const ids = parseAgentCgroupName(name);
    if (!ids) continue;
    const cgroup = agentCgroup(host, ids.fleet, ids.agent);
    if (!cgroup) continue;
    const pids = new Set<number>();
    for (const dir of cgroup.dirs) for (const pid of subtreePids(dir)) pids.add(pid);
    out.push({ ...ids, cgroup, pids: [...pids].sort((a, b) => a - b) });
  }
  return out;
}
