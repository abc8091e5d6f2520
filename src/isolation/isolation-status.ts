// Status data of the isolation layer: the host's mode in words and, per agent, its cgroup,
// user, limits, memory against its limit, CPU, pids and OOM kills (for `fleetctl status
// --json`, the status table and the start-up log).
import type { AgentIsolationView, IsolationHostView } from '../protocol/isolation.js';
import type { AgentCgroup } from './cgroup-agent.js';
import type { CgroupUsage } from './cgroup-types.js';
import { describeCgroupHost, type CgroupHost } from './cgroup-detect.js';
import type { AgentIsolationSpec } from './agent-spec.js';
import type { KsmSupport } from './ksm.js';
import { formatSize } from './limits.js';

/** The host view; `ksm` only when some agent asked for merging. */
export function isolationHostView(host: CgroupHost, ksm?: KsmSupport): IsolationHostView {
  return { mode: host.kind === 'none' ? 'none' : host.kind === 'v2' ? 'cgroup-v2' : 'cgroup-v1', description: describeCgroupHost(host), ksm: ksm ? `KSM ${ksm.words}` : null };
}

/** Short memory text: "412M / 1.5G (27 %)", "412M, no limit", "unknown", "not running". */
export function memoryText(current: number | null, limit: number | null, running = true): string {
  if (!running) return 'not running';
  if (current === null) return 'unknown';
  const cur = shortSize(current);
  if (limit === null) return `${cur}, no limit`;
  return `${cur} / ${shortSize(limit)} (${Math.round((current / limit) * 100)} %)`;
}

// One decimal is plenty for a status column (formatSize is exact and may print bytes).
function shortSize(bytes: number): string {
  for (const [unit, size] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))}${unit}`;
  }
  return `${bytes}B`;
}

/** What agentIsolationView reads. */
export interface AgentIsolationInput {
  spec: AgentIsolationSpec;
  /** Its cgroup when the host has cgroups. */
  cgroup?: AgentCgroup | undefined;
  /** KSM support (for agents with merge on). */
  ksm?: KsmSupport | undefined;
  /** RSS of the gateway's process tree (the fallback's figure), bytes. */
  treeRssBytes?: number | null | undefined;
  /** The cgroup's usage as read before (fleetd: its status reading, daemon/status-readings.ts; null: not read yet, shown as unknown); undefined: cgroup.usage() now. */
  usage?: CgroupUsage | null | undefined;
  /**
   * A gateway process runs (the agent has a pid). Without one the cgroup still charges what
   * its last run left (page cache, kernel memory: a few KiB to MiB), which is no agent's
   * memory: current memory is then null ("not running"), while peak, CPU and OOM kills,
   * which are history, stay.
   */
  running: boolean;
}

/** One agent's view (reads the cgroup's files: cheap, no /proc walk). */
export function agentIsolationView(input: AgentIsolationInput): AgentIsolationView {
  const { spec, cgroup } = input;
  const usage = !cgroup ? undefined : input.usage === undefined ? cgroup.usage() : (input.usage ?? undefined);
  const limitBytes = usage?.memory.limit ?? spec.limits.memoryBytes ?? null;
  const current = !input.running ? null : usage ? usage.memory.current : (input.treeRssBytes ?? null);
  const source = !input.running ? 'none' : usage && usage.memory.current !== null ? 'cgroup' : input.treeRssBytes != null ? 'tree-rss' : 'none';
  const merge = !spec.merge ? 'off' : input.ksm ? (input.ksm.usable ? `KSM ${input.ksm.words}` : `requested, but KSM is ${input.ksm.words}`) : 'requested';
  return {
    cgroup: cgroup?.dirs[0] ?? null,
    user: spec.user?.name ?? null,
    limits: { memory: spec.limits.memoryText ?? null, cpu: spec.limits.cpu ?? null, pids: spec.limits.pids ?? null },
    memory: {
      currentBytes: current,
      limitBytes,
      peakBytes: usage?.memory.peak ?? null,
      source,
      text: memoryText(current, limitBytes, input.running),
    },
    cpuSeconds: usage?.cpuUsageUsec != null ? Math.round(usage.cpuUsageUsec / 1000) / 1000 : null,
    pids: { current: usage?.pids.current ?? null, limit: usage?.pids.limit ?? spec.limits.pids ?? null },
    oomKills: usage ? usage.oom.oomKills : null,
    merge,
  };
}

/** The limits line of the start-up log for one agent ("memory 1.5G (heap 768M), 1.5 CPUs as acme-gw"). */
export function describeAgentIsolation(spec: AgentIsolationSpec, heapMiB?: number): string {
  const parts: string[] = [];
  if (spec.limits.memoryText) parts.push(`memory ${spec.limits.memoryText}${heapMiB ? ` (heap ${formatSize(heapMiB * 1024 * 1024)})` : ''}`);
  if (spec.limits.cpu !== undefined) parts.push(`${spec.limits.cpu} CPUs`);
  if (spec.limits.pids !== undefined) parts.push(`${spec.limits.pids} pids`);
  if (spec.merge) parts.push('KSM');
  const limits = parts.length > 0 ? parts.join(', ') : 'no limits';
  return spec.user ? `${limits}, as user ${spec.user.name}` : limits;
}
