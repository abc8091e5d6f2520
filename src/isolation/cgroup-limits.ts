// What to write into an agent's cgroup for its limits (pure), per hierarchy version. Every
// limit is written every time, unset ones as "no limit", so a limit removed from the
// manifest is lifted on a running agent too. Memory limits cover swap as well (swap.max 0
// / memsw = the limit): "1.5G" then means 1.5G, not 1.5G plus whatever swap there is.
import { cpuQuotaUs, CPU_PERIOD_US, type AgentLimits } from './limits.js';

/** One write into a cgroup interface file. */
export interface LimitWrite {
  /** The controller the file belongs to (v1: which hierarchy's folder). */
  controller: 'memory' | 'cpu' | 'pids';
  /** Interface file name, e.g. memory.max. */
  file: string;
  value: string;
  /** Which manifest limit this enforces; undefined when the write only lifts or complements one. */
  limit?: 'memory' | 'cpu' | 'pids';
  /** A file the kernel may not offer (swap accounting off): skipped when absent. */
  optional?: boolean;
}

/** Writes for cgroup v2 (memory.max, memory.swap.max, memory.oom.group, cpu.max, pids.max). */
export function v2LimitWrites(limits: AgentLimits): LimitWrite[] {
  const mem = limits.memoryBytes;
  return [
    { controller: 'memory', file: 'memory.max', value: mem === undefined ? 'max' : String(mem), ...(mem !== undefined ? { limit: 'memory' as const } : {}) },
    { controller: 'memory', file: 'memory.swap.max', value: mem === undefined ? 'max' : '0', optional: true },
    // An OOM kill takes the whole gateway tree at once instead of leaving a half-dead one.
    { controller: 'memory', file: 'memory.oom.group', value: '1', optional: true },
    {
      controller: 'cpu',
      file: 'cpu.max',
      value: limits.cpu === undefined ? `max ${CPU_PERIOD_US}` : `${cpuQuotaUs(limits.cpu)} ${CPU_PERIOD_US}`,
      ...(limits.cpu !== undefined ? { limit: 'cpu' as const } : {}),
    },
    { controller: 'pids', file: 'pids.max', value: limits.pids === undefined ? 'max' : String(limits.pids), ...(limits.pids !== undefined ? { limit: 'pids' as const } : {}) },
  ];
}

/**
 * Writes for cgroup v1. `currentMemoryLimit` (bytes, null = unlimited) orders the memory
 * pair: memsw must never be below the memory limit, so a raise writes memsw first and a
 * cut writes memory.limit_in_bytes first.
 */
export function v1LimitWrites(limits: AgentLimits, currentMemoryLimit: number | null | undefined): LimitWrite[] {
  const mem = limits.memoryBytes;
  const value = mem === undefined ? '-1' : String(mem);
  const memLimit: LimitWrite = { controller: 'memory', file: 'memory.limit_in_bytes', value, ...(mem !== undefined ? { limit: 'memory' as const } : {}) };
  const memsw: LimitWrite = { controller: 'memory', file: 'memory.memsw.limit_in_bytes', value, optional: true };
  // To "no limit", or above a known finite limit: a raise. From unlimited (or unknown) to a value: a cut.
  const raising = mem === undefined || (typeof currentMemoryLimit === 'number' && mem > currentMemoryLimit);
  return [
    ...(raising ? [memsw, memLimit] : [memLimit, memsw]),
    { controller: 'cpu', file: 'cpu.cfs_period_us', value: String(CPU_PERIOD_US), ...(limits.cpu !== undefined ? { limit: 'cpu' as const } : {}) },
    { controller: 'cpu', file: 'cpu.cfs_quota_us', value: limits.cpu === undefined ? '-1' : String(cpuQuotaUs(limits.cpu)), ...(limits.cpu !== undefined ? { limit: 'cpu' as const } : {}) },
    { controller: 'pids', file: 'pids.max', value: limits.pids === undefined ? 'max' : String(limits.pids), ...(limits.pids !== undefined ? { limit: 'pids' as const } : {}) },
  ];
}
