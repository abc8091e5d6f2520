// Was a gateway's exit the kernel's OOM killer at work (pure)? The runner reads the
// cgroup's OomCounters when it spawns the gateway and again when the gateway exits; a
// rise in oom_kill means the kernel killed a process of this cgroup in between. A rise in
// the limit counter too (v2 memory.events "oom", v1 memory.failcnt) means the cgroup's own
// limit was reached (v1: or its usage peak since the spawn sits at the limit); without it
// the host as a whole ran out of memory.
import type { OomCounters } from './cgroup-agent.js';

/** How the gateway ended, as the runner saw it. */
export interface ExitSeen {
  code: number | null;
  signal: string | null;
}

/** The reason text for an exit caused by the OOM killer, or undefined when it was not one. */
export function oomExitReason(before: OomCounters, after: OomCounters, exit: ExitSeen, memoryText: string | undefined): string | undefined {
  const kills = after.oomKills - before.oomKills;
  if (kills <= 0) return undefined;
  const atLimit = after.limitHits > before.limitHits || after.peakAtLimit === true;
  const what = memoryText !== undefined && atLimit ? `memory limit ${memoryText} reached` : 'the host ran out of memory (kernel OOM killer)';
  if (exit.signal === 'SIGKILL') return `killed: ${what}`;
  const how = exit.signal !== null ? `was stopped by ${exit.signal}` : `exited with code ${exit.code ?? 'unknown'}`;
  return `${how} after the kernel OOM killer killed ${kills} of its processes: ${what}`;
}
