// The status readings: shown only in the state they were taken in and while recent,
// refreshed off the request path only while status is asked for, fresh on demand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CgroupUsage } from '../isolation/cgroup-types.js';
import type { AgentCgroup } from '../isolation/cgroup-agent.js';
import { waitFor } from '../util/wait-for.js';
import { createStatusReadings, type ReadingSubject } from './status-readings.js';

/** A cgroup whose usage reads `n()` as memory.current (only usage() is read). */
const cgroupOf = (n: () => number): AgentCgroup => ({ usage: (): CgroupUsage => ({ memory: { current: n(), limit: null, peak: null }, cpuUsageUsec: null, cpuLimit: null, pids: { current: 1, limit: null }, oom: { oomKills: 0, limitHits: 0, peakAtLimit: false } }) }) as unknown as AgentCgroup;

function subjects() {
  const agents = new Map<string, { key: string; pid: number | null; cgroupReads: number }>([
    ['f/a', { key: 'running 1 10', pid: 10, cgroupReads: 0 }],
    ['f/b', { key: 'running 1 20', pid: 20, cgroupReads: 0 }],
  ]);
  const list = (): ReadingSubject[] =>
    [...agents].map(([address, a]) => ({ address, current: () => ({ key: a.key, pid: a.pid, cgroup: cgroupOf(() => ++a.cgroupReads) }) }));
  return { agents, list };
}

test('a reading is shown only in the state it was taken in and while younger than showMs; a removed agent loses its reading', async () => {
  let t = 0;
  const { agents, list } = subjects();
  const readings = createStatusReadings({ subjects: list, treeReader: async () => (pid) => ({ rssBytes: pid, cpuSeconds: 0 }), now: () => t, timings: { refreshMs: 1000, activeMs: 5000, showMs: 3000 } });
  assert.equal(readings.shown('f/a', 'running 1 10'), undefined, 'nothing before the first refresh');
  await readings.fresh();
  assert.equal(readings.shown('f/a', 'running 1 10')?.tree?.rssBytes, 10);
  assert.equal(readings.shown('f/a', 'running 1 10')?.cgroup?.memory.current, 1);
  assert.equal(readings.shown('f/a', 'backoff 5 null'), undefined, 'a state change is never answered from before it');
  assert.equal(readings.shown('f/a', 'running 5 11'), undefined, 'nor a new pid');
  t = 2999;
  assert.ok(readings.shown('f/b', 'running 1 20'));
  t = 3000;
  assert.equal(readings.shown('f/b', 'running 1 20'), undefined, 'too old');
  agents.delete('f/b');
  agents.get('f/a')!.key = 'stopped 3000 null';
  agents.get('f/a')!.pid = null;
  await readings.fresh();
  assert.equal(readings.shown('f/b', 'running 1 20'), undefined);
  const a = readings.shown('f/a', 'stopped 3000 null');
  assert.equal(a?.tree, null, 'no process: no tree reading');
  assert.equal(a?.cgroup?.memory.current, 2, 'its cgroup read again');
  readings.close();
});

test('refreshes run only while status is asked for, then stop (no timer left); fresh() waits only after a quiet spell', async () => {
  const { agents, list } = subjects();
  let skew = 0; // a quiet spell without waiting for it
  const readings = createStatusReadings({ subjects: list, treeReader: async () => () => null, now: () => performance.now() + skew, timings: { refreshMs: 5, activeMs: 100, showMs: 1000, slice: 1 } });
  assert.equal(readings.refreshes(), 0, 'nothing read before anyone asks');
  readings.asked();
  await waitFor(() => readings.refreshes() >= 3 || undefined, { timeoutMs: 5000, what: 'refreshes while asked' });
  await waitFor(() => readings.idle() || undefined, { timeoutMs: 5000, what: 'refreshes to stop once nobody asks' });
  const after = readings.refreshes();
  const reads = agents.get('f/a')!.cgroupReads;
  assert.ok(reads >= 3);
  // quiet: a fresh() reads once before it resolves
  skew += 1000;
  await readings.fresh();
  assert.equal(readings.refreshes(), after + 1);
  assert.equal(agents.get('f/a')!.cgroupReads, reads + 1);
  readings.close();
  assert.ok(readings.idle());
});

test('once nobody asks and the readings are too old to show, they are forgotten and onIdle is told (never while still shown); the next fresh() reads again', async () => {
  const { list } = subjects();
  const make = (showMs: number, onIdle: () => void) =>
    createStatusReadings({ subjects: list, treeReader: async () => (pid) => ({ rssBytes: pid, cpuSeconds: 0 }), timings: { refreshMs: 5, activeMs: 20, showMs }, onIdle });
  // still shown (showMs 10 min): kept after the refreshes stop
  let kept = 0;
  const shown = make(600_000, () => void kept++);
  await shown.fresh();
  await waitFor(() => shown.idle() || undefined, { timeoutMs: 5000, what: 'refreshes to stop once nobody asks' });
  assert.equal(kept, 0);
  assert.equal(shown.shown('f/a', 'running 1 10')?.tree?.rssBytes, 10, 'a reading still shown is kept');
  shown.close();
  // not shown any more (showMs 0): forgotten once the refreshes stop
  let idles = 0;
  const readings = make(0, () => void idles++);
  await readings.fresh();
  await waitFor(() => (readings.idle() && idles === 1) || undefined, { timeoutMs: 5000, what: 'the readings to be forgotten' });
  const before = readings.refreshes();
  await readings.fresh();
  assert.equal(readings.refreshes(), before + 1, 'the first request after the quiet spell waits for a refresh');
  readings.close();
});

test('fill() reads now the agents without a reading in their current state, one slice at most; the others wait for a refresh', async () => {
  const { agents, list } = subjects();
  agents.set('f/c', { key: 'running 1 30', pid: 30, cgroupReads: 0 });
  const readings = createStatusReadings({ subjects: list, treeReader: async () => (pid) => ({ rssBytes: pid, cpuSeconds: 0 }), timings: { refreshMs: 60_000, activeMs: 1, showMs: 60_000, slice: 2 } });
  await readings.fresh();
  assert.equal(readings.shown('f/a', 'running 1 10')?.tree?.rssBytes, 10);
  await readings.fill(list());
  assert.deepEqual([...agents.values()].map((a) => a.cgroupReads), [1, 1, 1], 'nothing missing: nothing read');
  for (const [address, a] of agents) Object.assign(a, { key: `starting 2 ${a.pid! + 1}`, pid: a.pid! + 1 }), void address;
  await readings.fill(list());
  assert.deepEqual([...agents.values()].map((a) => a.cgroupReads), [2, 2, 1], 'one slice (2) read now');
  assert.equal(readings.shown('f/a', 'starting 2 11')?.tree?.rssBytes, 11, 'in its new state');
  assert.equal(readings.shown('f/c', 'starting 2 31'), undefined, 'beyond the slice: none until the next refresh or fill');
  readings.close();
});

test('fresh() does not wait for a refresh under way while the last one is still shown (a request never waits out a slow refresh)', async () => {
  let t = 0;
  const { list } = subjects();
  let release: (() => void) | undefined;
  let calls = 0;
  const readings = createStatusReadings({
    subjects: list,
    // the first scan answers at once, the second one only when released
    treeReader: () => (++calls === 1 ? Promise.resolve(() => null) : new Promise((resolve) => (release = () => resolve(() => null)))),
    now: () => t,
    timings: { refreshMs: 1000, activeMs: 5000, showMs: 3000 },
  });
  await readings.fresh();
  t = 1500; // past refreshMs: the next refresh (its timer) begins and hangs on its scan
  await waitFor(() => calls === 2 || undefined, { timeoutMs: 5000, what: 'the next refresh to begin' });
  await readings.fresh();
  assert.equal(readings.refreshes(), 1, 'and fresh() did not wait for it');
  assert.ok(readings.shown('f/a', 'running 1 10'), 'the last reading is still shown');
  release!();
  await waitFor(() => readings.refreshes() === 2 || undefined, { timeoutMs: 5000, what: 'the second refresh' });
  readings.close();
});
