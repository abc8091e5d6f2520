// Stops everything in an agent's cgroup: SIGTERM (+ SIGCONT, so a stopped process can act
// on it) to every member at once, a grace period, then kill-all. Membership replaces the
// /proc tree walk: a daemon that double-forked, called setsid and cleared its environment
// is still a member, and a pid reused by a stranger never is. Never SIGUSR1 (it opens
// OpenClaw's inspector).
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentCgroup } from './cgroup-agent.js';

/** Timing of stopCgroup. */
export interface CgroupStopOptions {
  /** Grace between SIGTERM and kill-all, ms (gateway.stopTimeoutMs). */
  timeoutMs: number;
  /** Poll interval of the emptiness check, ms (default 25). */
  pollMs?: number;
  /** How long to wait for the cgroup to empty after kill-all, ms (default 2000). */
  killWaitMs?: number;
}

/** What stopCgroup did (same shape as stop-tree's report where it overlaps). */
export interface CgroupStopReport {
  /** Pids sent SIGTERM. */
  terminated: number[];
  /** Pids present at kill-all. */
  killed: number[];
  /** Still in the cgroup at the end (only a task stuck in the kernel, D state). */
  survivors: number[];
  elapsedMs: number;
}

/** Waits until `cgroup` is empty or `ms` passed; true when empty. */
export async function waitCgroupEmpty(cgroup: AgentCgroup, ms: number, pollMs = 25): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (cgroup.isEmpty()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.max(1, Math.min(pollMs, deadline - Date.now())));
  }
}

/** SIGTERM to every member, wait up to timeoutMs, then kill-all; resolves once empty (or after killWaitMs). */
export async function stopCgroup(cgroup: AgentCgroup, options: CgroupStopOptions): Promise<CgroupStopReport> {
  const started = Date.now();
  const pollMs = options.pollMs ?? 25;
  const terminated = cgroup.isEmpty() ? [] : await cgroup.signal(['SIGTERM', 'SIGCONT']);
  let killed: number[] = [];
  if (!(await waitCgroupEmpty(cgroup, Math.max(0, options.timeoutMs - (Date.now() - started)), pollMs))) {
    killed = await cgroup.killAll();
    await waitCgroupEmpty(cgroup, options.killWaitMs ?? 2000, pollMs);
  }
  return { terminated, killed, survivors: cgroup.pids(), elapsedMs: Date.now() - started };
}
