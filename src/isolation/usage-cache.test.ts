// The per-agent cgroup usage cache: a reading serves again only while it is younger than
// its window and the agent is still in the state it was read in. Injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CgroupUsage } from './cgroup-types.js';
import { createUsageCache } from './usage-cache.js';

/** A usage whose memory.current is `n` (tells the readings apart). */
const usageOf = (n: number): CgroupUsage => ({ memory: { current: n, limit: null, peak: null }, cpuUsageUsec: null, cpuLimit: null, pids: { current: 1, limit: null }, oom: { oomKills: 0, limitHits: 0 } });

test('usage cache: reused within the window in the same state, read again after it or on any state change, per agent', () => {
  let t = 0;
  let reads = 0;
  const read = () => usageOf(++reads);
  const cache = createUsageCache({ maxAgeMs: 1000, now: () => t });
  assert.equal(cache.usage('f/a', 'running 1 42', read).memory.current, 1);
  t = 999;
  assert.equal(cache.usage('f/a', 'running 1 42', read).memory.current, 1, 'same state, within the window');
  assert.equal(cache.usage('f/b', 'running 1 43', read).memory.current, 2, 'another agent has its own reading');
  assert.equal(cache.usage('f/a', 'backoff 999 null', read).memory.current, 3, 'a state change is never answered from before it');
  t = 1999;
  assert.equal(cache.usage('f/a', 'backoff 999 null', read).memory.current, 4, 'the window is over');
  assert.equal(reads, 4);
});
