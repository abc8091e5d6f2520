// Each agent's cgroup usage (memory, CPU, pids, OOM counters: a dozen small cgroup files)
// read at most once a second (issue 14): `fleetctl status`, `status --json` and a metrics
// scrape each want it for every agent, and a monitor polling status at N = 200 made those
// reads the bulk of a status call. A reading is answered again only while it is younger
// than maxAgeMs AND the agent is still in the state it was read in (the caller's `state`
// key: state, since, pid), so a start, exit or stop is never shown with stale figures.

import type { CgroupUsage } from './cgroup-types.js';

/** Options of createUsageCache. */
export interface UsageCacheOptions {
  /** Longest a reading is answered again (ms; default USAGE_MAX_AGE_MS). */
  maxAgeMs?: number;
  /** Monotonic clock, ms. */
  now?: () => number;
}

/** How long one reading of an agent's cgroup serves (ms). */
export const USAGE_MAX_AGE_MS = 1000;

/** The cache: `usage(agent, state, read)` answers a recent reading of `agent` taken in `state`, else `read()`s anew. */
export interface UsageCache {
  usage(agent: string, state: string, read: () => CgroupUsage): CgroupUsage;
}

/** Creates the cache (one per fleetd; see the file comment). */
export function createUsageCache(o: UsageCacheOptions = {}): UsageCache {
  const maxAgeMs = o.maxAgeMs ?? USAGE_MAX_AGE_MS;
  const now = o.now ?? (() => performance.now());
  const readings = new Map<string, { state: string; at: number; usage: CgroupUsage }>();
  let prunedAt = 0;
  return {
    usage(agent, state, read) {
      const t = now();
      const last = readings.get(agent);
      if (last && last.state === state && t - last.at < maxAgeMs && t >= last.at) return last.usage;
      // readings of agents no longer asked about (removed) do not pile up
      if (t - prunedAt >= maxAgeMs) {
        for (const [key, r] of readings) if (t - r.at >= maxAgeMs) readings.delete(key);
        prunedAt = t;
      }
      const usage = read();
      readings.set(agent, { state, at: t, usage });
      return usage;
    },
  };
}
