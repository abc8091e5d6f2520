// Resource limits of one agent (pure): sizes as people write them ("1.5G", "512M"), CPU in
// cores, a process/thread count, and which manifest level wins. Used by the manifest rules
// (located errors) and by the cgroup code (bytes, quota). Units are binary, like systemd's
// MemoryMax= and Docker's --memory: 1K = 1024 bytes, 1G = 1024^3 bytes.

/** Smallest memory limit accepted: below this a Node process cannot even start. */
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;

/** Smallest CPU limit in cores: the kernel's minimum CFS quota is 1 ms per 100 ms period. */
export const MIN_CPU_CORES = 0.01;

/** Largest CPU limit in cores accepted (a limit above the host's cores is simply never reached). */
export const MAX_CPU_CORES = 4096;

/** Largest pids limit the kernel accepts (PID_MAX_LIMIT on 64-bit). */
export const MAX_PIDS = 4_194_304;

/** `limits` as written at one manifest level ("max" lifts a limit a lower-precedence level set). */
export interface LimitsInput {
  memory?: string | number | undefined;
  cpu?: number | 'max' | undefined;
  pids?: number | 'max' | undefined;
}

/** Effective limits of one agent; an absent key means no limit. */
export interface AgentLimits {
  /** memory.max / memory.limit_in_bytes, bytes. */
  memoryBytes?: number;
  /** The memory limit as people read it ("1.5G"), for reasons and status. */
  memoryText?: string;
  /** CPU quota in cores (1.5 = 150 ms of CPU per 100 ms). */
  cpu?: number;
  /** pids.max: processes AND threads of the agent's cgroup. */
  pids?: number;
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(iB|i|B)?$/i;

/** Text of a size error, shared by the manifest rules and parseSize. */
export const SIZE_RULE = 'a size such as "1.5G", "512M", "64Mi", "64MiB" (binary units K, M, G, T) or a number of bytes';

/** Parses "1.5G" / "512M" / "64MiB" / "1048576" / 1048576 into bytes; undefined when it is not a size. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = SIZE_PATTERN.exec(value.trim());
  if (!m) return undefined;
  const unit = m[2]!.toUpperCase();
  const suffix = m[3];
  // "512B" is bytes; "512MB" reads as decimal megabytes to many people: refuse rather than guess.
  if (suffix !== undefined && suffix.toUpperCase() === 'B' && unit !== '') return undefined;
  if (suffix !== undefined && suffix.toLowerCase().startsWith('i') && unit === '') return undefined;
  const bytes = Math.floor(Number(m[1]) * UNITS[unit]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Formats bytes the way parseSize reads them, shortest first: 1610612736 -> "1.5G", 1000 -> "1000". */
export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const scaled = bytes / UNITS[unit]!;
    if (scaled < 1) continue;
    // at most two decimals, and only when that text reads back to exactly these bytes
    const text = String(Number(scaled.toFixed(2)));
    if (Math.floor(Number(text) * UNITS[unit]!) === bytes) return `${text}${unit}`;
  }
  return String(bytes);
}

/** Why one `limits` value is invalid, or undefined when it is fine (manifest rules locate it). */
export function limitProblem(key: 'memory' | 'cpu' | 'pids', value: unknown): string | undefined {
  if (value === undefined || value === 'max') return undefined;
  if (key === 'memory') {
    const bytes = typeof value === 'string' || typeof value === 'number' ? parseSize(value) : undefined;
    if (bytes === undefined) return `expected ${SIZE_RULE}, or "max" for no limit`;
    if (bytes < MIN_MEMORY_BYTES) return `must be at least ${formatSize(MIN_MEMORY_BYTES)} (a Node gateway cannot start below that)`;
    return undefined;
  }
  if (key === 'cpu') {
    if (typeof value !== 'number' || !Number.isFinite(value)) return 'expected a number of CPU cores such as 1.5, or "max" for no limit';
    if (value < MIN_CPU_CORES || value > MAX_CPU_CORES) return `must be between ${MIN_CPU_CORES} and ${MAX_CPU_CORES} cores`;
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'expected a whole number of processes and threads such as 512, or "max" for no limit';
  if (value < 1 || value > MAX_PIDS) return `must be between 1 and ${MAX_PIDS}`;
  return undefined;
}

/**
 * Effective limits from the levels in precedence order (defaults, fleet defaults, agent):
 * later levels win key by key, "max" lifts a limit. Throws on a value the manifest rules
 * would have refused (callers pass validated manifests).
 */
export function resolveLimits(levels: ReadonlyArray<LimitsInput | undefined>): AgentLimits {
  const merged: LimitsInput = {};
  for (const level of levels) {
    if (!level) continue;
    for (const key of ['memory', 'cpu', 'pids'] as const) {
      if (level[key] !== undefined) (merged as Record<string, unknown>)[key] = level[key];
    }
  }
  const out: AgentLimits = {};
  for (const key of ['memory', 'cpu', 'pids'] as const) {
    const problem = limitProblem(key, merged[key]);
    if (problem) throw new Error(`limits.${key}: ${problem}, found ${JSON.stringify(merged[key])}`);
  }
  if (merged.memory !== undefined && merged.memory !== 'max') {
    const bytes = parseSize(merged.memory) as number;
    out.memoryBytes = bytes;
    out.memoryText = typeof merged.memory === 'string' ? normalizeSizeText(merged.memory) : formatSize(bytes);
  }
  if (typeof merged.cpu === 'number') out.cpu = merged.cpu;
  if (typeof merged.pids === 'number') out.pids = merged.pids;
  return out;
}

/** "1.5 g" -> "1.5G", "64MiB" -> "64MiB": the operator's own notation, tidied. */
function normalizeSizeText(text: string): string {
  const m = SIZE_PATTERN.exec(text.trim());
  if (!m) return text.trim();
  const suffix = m[3] === undefined ? '' : m[3].length === 2 ? 'iB' : m[3].toLowerCase() === 'i' ? 'i' : 'B';
  return `${m[1]}${m[2]!.toUpperCase()}${suffix}`;
}

/** True when no limit is set. */
export function hasLimits(limits: AgentLimits): boolean {
  return limits.memoryBytes !== undefined || limits.cpu !== undefined || limits.pids !== undefined;
}

/** CFS period fleetd uses (the kernel default), microseconds. */
export const CPU_PERIOD_US = 100_000;

/** CPU quota in microseconds per CPU_PERIOD_US for `cores` (at least the kernel's 1000 us). */
export function cpuQuotaUs(cores: number): number {
  return Math.max(1000, Math.round(cores * CPU_PERIOD_US));
}

/** "1.5G memory, 1.5 CPUs, 512 pids" / "no limits": for logs and status. */
export function describeLimits(limits: AgentLimits): string {
  const parts: string[] = [];
  if (limits.memoryText !== undefined) parts.push(`memory ${limits.memoryText}`);
  if (limits.cpu !== undefined) parts.push(`${limits.cpu} CPU${limits.cpu === 1 ? '' : 's'}`);
  if (limits.pids !== undefined) parts.push(`${limits.pids} pids`);
  return parts.length === 0 ? 'no limits' : parts.join(', ');
}
