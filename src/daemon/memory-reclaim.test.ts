// Memory given back once the fleet settles (issue 14): the addon as the build makes it, in this
// very process (V8 really collects, glibc really trims); what a missing or foreign addon gives;
// and when the reclaimer runs, on a manual clock (nothing sleeps).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { manualTime } from '../../test/support/manual-time.js';
import { withTempDir } from '../util/temp-dir.js';
import { waitFor } from '../util/wait-for.js';
import { createMemoryReclaimer, loadMemoryAddon, MEMORY_ADDON_PATH, watchV8Collections, type MemoryAddon, type ReclaimResult } from './memory-reclaim.js';

/** An addon that counts its calls. */
function countingAddon() {
  const calls = { lowMemory: 0, mallocTrim: 0 };
  const addon: MemoryAddon = {
    lowMemory: () => (calls.lowMemory++, true),
    lowMemoryAvailable: () => true,
    mallocTrim: () => (calls.mallocTrim++, true),
  };
  return { addon, calls };
}

describe('the memory addon as built', () => {
  test('loads from where the build puts it, and a reclaim collects garbage V8 still holds, on this thread', () => {
    const loaded = loadMemoryAddon();
    assert.ok('addon' in loaded, `the test build has the addon at ${MEMORY_ADDON_PATH}: ${'unavailable' in loaded ? loaded.unavailable : ''}`);
    assert.equal(loaded.addon.lowMemoryAvailable(), true, 'this node exports v8::Isolate::TryGetCurrent and LowMemoryNotification');
    // ~24 MB of small objects, then dropped: unreachable, but not collected until a full collection
    let garbage: Array<{ i: number; s: string }> | null = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `item ${i}` }));
    assert.equal(garbage.length, 300_000);
    garbage = null;
    const before = getHeapStatistics().used_heap_size;
    const reclaimer = createMemoryReclaimer({ addon: loaded.addon });
    const result = reclaimer.reclaim('settled');
    reclaimer.close();
    const after = getHeapStatistics().used_heap_size;
    assert.ok(before - after > 10 * 1048576, `the heap's used size fell by ${((before - after) / 1048576).toFixed(1)} MiB (from ${(before / 1048576).toFixed(1)})`);
    assert.equal(result.v8, true);
    assert.equal(typeof result.trimmed, 'boolean');
    assert.equal(result.cause, 'settled');
    assert.ok(result.rssBefore > 0 && result.rssAfter > 0 && result.ms >= 0);
  });

  test('a missing, foreign or unloadable addon is `unavailable`, naming the file and why; nothing throws', async () => {
    await withTempDir(async (dir) => {
      const missing = join(dir, 'none.node');
      assert.deepEqual(loadMemoryAddon(missing), { unavailable: `${missing} is missing: not built (no C compiler at build time?)` });
      const folder = join(dir, 'folder.node');
      mkdirSync(folder);
      assert.deepEqual(loadMemoryAddon(folder), { unavailable: `${folder} is not a file but a directory` });
      const notElf = join(dir, 'text.node');
      writeFileSync(notElf, 'not a shared object\n');
      const bad = loadMemoryAddon(notElf);
      assert.ok('unavailable' in bad && bad.unavailable.startsWith(`${notElf} does not load: `), JSON.stringify(bad));
      assert.equal(bad.unavailable.split(notElf).length, 2, `the path once: ${bad.unavailable}`);
      // a real shared object that is no Node addon (this node's own libm): node names it in quotes too
      const libm = readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/)[5] ?? '').find((f) => /\/libm[.-]/.test(f));
      assert.ok(libm, 'node maps libm');
      const notAddon = join(dir, 'libm.node');
      copyFileSync(libm, notAddon);
      const foreignSo = loadMemoryAddon(notAddon);
      assert.ok('unavailable' in foreignSo && foreignSo.unavailable.startsWith(`${notAddon} does not load: `), JSON.stringify(foreignSo));
      assert.equal(foreignSo.unavailable.split(notAddon).length, 2, `the path once: ${foreignSo.unavailable}`);
      const foreign = join(dir, 'foreign.cjs');
      writeFileSync(foreign, 'module.exports = { lowMemory() { return true; } };\n');
      assert.deepEqual(loadMemoryAddon(foreign), { unavailable: `${foreign} has no lowMemoryAvailable(): not fleetd's memory addon, or an older one` });
    });
  });
});

describe('when the reclaimer runs', () => {
  test('a burst of activity gives one reclaim, quietMs after its last event', () => {
    const time = manualTime();
    const { addon, calls } = countingAddon();
    const results: Array<[ReclaimResult['cause'], number]> = [];
    const r = createMemoryReclaimer({ addon, quietMs: 10_000, everyMs: 300_000, rss: () => 1, onReclaim: (x) => results.push([x.cause, time.now()]), ...time });
    for (let i = 0; i < 50; i++) {
      r.activity();
      time.advance(100);
    }
    // the last event was at 4.9 s
    time.advance(14_899 - 5_000);
    assert.equal(calls.lowMemory, 0, 'not before the burst has been quiet for quietMs');
    time.advance(1);
    assert.equal(calls.lowMemory, 1);
    assert.equal(calls.mallocTrim, 1);
    assert.deepEqual(results, [['settled', 14_900]], 'when it ran');
    time.advance(60_000);
    assert.equal(calls.lowMemory, 1, 'nothing more while nothing happens, until the periodic one');
    assert.equal(time.pending(), 1, 'one timer: the periodic reclaim');
    r.close();
    assert.equal(time.pending(), 0, 'close leaves no timer');
    time.advance(1_000_000);
    assert.equal(calls.lowMemory, 1, 'none after close');
  });

  test('a quiet fleet is reclaimed every everyMs; one that is never quiet too', () => {
    const time = manualTime();
    const { addon, calls } = countingAddon();
    const causes: string[] = [];
    const r = createMemoryReclaimer({ addon, quietMs: 10_000, everyMs: 300_000, rss: () => 1, onReclaim: (x) => causes.push(x.cause), ...time });
    time.advance(900_000);
    assert.deepEqual(causes, ['periodic', 'periodic', 'periodic'], 'at 5, 10 and 15 minutes');
    // an event every 2 s for 12 minutes (an agent in a crash loop): never quiet for 10 s
    for (let i = 0; i < 360; i++) {
      r.activity();
      time.advance(2_000);
    }
    assert.equal(calls.lowMemory, 5, 'two more, 5 minutes apart, in the 12 busy minutes');
    assert.deepEqual(causes.slice(3), ['periodic', 'periodic']);
    time.advance(10_000);
    assert.deepEqual(causes.slice(5), ['settled'], 'and one once it went quiet');
    r.close();
  });

  test('bursts closer than minGapMs to the last reclaim wait for it: one flapping agent costs one reclaim a minute', () => {
    const time = manualTime();
    const { addon } = countingAddon();
    const at: Array<[string, number]> = [];
    const r = createMemoryReclaimer({ addon, quietMs: 10_000, minGapMs: 60_000, everyMs: 300_000, rss: () => 1, onReclaim: (x) => at.push([x.cause, time.now()]), ...time });
    r.activity(); // t = 0: the first reclaim has no gap to keep
    time.advance(10_000);
    assert.deepEqual(at, [['settled', 10_000]]);
    // an event every 12 s (restart, backoff, restart...): quiet for 10 s each time
    for (let i = 0; i < 10; i++) {
      r.activity();
      time.advance(12_000);
    }
    // events at 10, 22, ..., 118 s: reclaims a minute apart, not 10 s after each event; the
    // last one (at 130 s) also covers the last event (118 s)
    assert.deepEqual(at, [['settled', 10_000], ['settled', 70_000], ['settled', 130_000]]);
    time.advance(120_000);
    assert.equal(at.length, 3, 'nothing more while quiet, until the periodic one');
    r.close();
  });

  test('a fleet still starting or stopping holds the settled reclaim back, looked at again each quietMs; the periodic one does not wait', () => {
    const time = manualTime();
    const { addon, calls } = countingAddon();
    let settled = false;
    let asked = 0;
    const at: Array<[string, number]> = [];
    const r = createMemoryReclaimer({ addon, quietMs: 2_000, everyMs: 300_000, settled: () => (asked++, settled), rss: () => 1, onReclaim: (x) => at.push([x.cause, time.now()]), ...time });
    r.activity(); // t = 0: a gateway spawned; it boots for 7 s with no event
    time.advance(7_000);
    assert.equal(calls.lowMemory, 0, 'not while an agent is still starting');
    assert.equal(asked, 3, 'asked at 2, 4 and 6 s');
    settled = true; // it answers at 7 s: its state's event
    r.activity();
    time.advance(1_999);
    assert.equal(calls.lowMemory, 0, 'quietMs after the last event');
    time.advance(1);
    assert.deepEqual(at, [['settled', 9_000]]);
    settled = false; // a restart that never ends (stuck in stopping, say): only the periodic one
    r.activity();
    time.advance(300_000);
    assert.deepEqual(at, [['settled', 9_000], ['periodic', 309_000]]);
    assert.equal(time.pending(), 1);
    r.close();
  });

  test("the settled reclaim waits until V8 has made no major collection for v8QuietMs, and leaves V8 alone when its memory reducer collected", () => {
    const time = manualTime();
    const { addon, calls } = countingAddon();
    let lastMajor: number | undefined;
    let lastReducer: number | undefined;
    let closed = false;
    const v8Collections = { lastMajorAt: () => lastMajor, lastReducerAt: () => lastReducer, close: () => void (closed = true) };
    const results: Array<Pick<ReclaimResult, 'cause' | 'v8' | 'v8Reduced'> & { at: number }> = [];
    const r = createMemoryReclaimer({ addon, quietMs: 2_000, v8QuietMs: 10_000, everyMs: 300_000, v8Collections, rss: () => 1, onReclaim: (x) => results.push({ cause: x.cause, v8: x.v8, v8Reduced: x.v8Reduced, at: time.now() }), ...time });
    // a start: events until 1 s, V8's last collection of the burst at 0.5 s
    r.activity();
    time.advance(1_000);
    lastMajor = 500;
    r.activity();
    time.advance(9_000);
    assert.equal(calls.lowMemory + calls.mallocTrim, 0, 'quiet since 1 s, but V8 collected at 0.5 s: it may collect itself at 8.5 s');
    // V8's memory reducer collects at 8.6 and 9.1 s (seen when the observer delivers, later)
    lastMajor = lastReducer = 9_100;
    time.advance(9_099);
    assert.equal(calls.mallocTrim, 0, 'V8 collected at 9.1 s: not before 19.1 s');
    time.advance(1);
    assert.deepEqual(results, [{ cause: 'settled', v8: false, v8Reduced: true, at: 19_100 }], 'a trim alone: V8 had collected');
    assert.equal(calls.lowMemory, 0);
    // a start all again a minute later: V8's reducer does not collect (the heap grew too little)
    time.advance(60_000);
    r.activity();
    lastMajor = 79_400;
    time.advance(89_399 - 79_100);
    assert.equal(calls.mallocTrim, 1, 'V8 collected at 79.4 s: not before 89.4 s');
    time.advance(1);
    assert.deepEqual(results.at(-1), { cause: 'settled', v8: true, v8Reduced: false, at: 89_400 }, 'V8 asked to collect: its reducer did not');
    r.close();
    assert.equal(closed, true, 'close closes the collections watch');
  });

  test('watchV8Collections sees a major collection of this process', async () => {
    const watch = watchV8Collections();
    try {
      const loaded = loadMemoryAddon();
      assert.ok('addon' in loaded);
      const before = performance.now();
      loaded.addon.lowMemory();
      await waitFor(() => (watch.lastMajorAt() ?? -Infinity) >= before || undefined, { timeoutMs: 10_000, intervalMs: 10, what: 'a gc entry for the collection' });
      assert.ok((watch.lastMajorAt() ?? 0) <= performance.now());
    } finally {
      watch.close();
    }
  });

  test('a reclaim that throws is reported and the timer goes on; bad durations are refused', () => {
    const time = manualTime();
    let calls = 0;
    const errors: unknown[] = [];
    const addon: MemoryAddon = { lowMemory: () => (calls++, true), lowMemoryAvailable: () => true, mallocTrim: () => true };
    const r = createMemoryReclaimer({ addon, quietMs: 10_000, everyMs: 300_000, rss: () => 1, onReclaim: () => { throw new Error('logger broke'); }, onError: (e) => errors.push(e), ...time });
    time.advance(300_000);
    assert.equal(calls, 1);
    assert.deepEqual(errors.map((e) => (e as Error).message), ['logger broke']);
    time.advance(300_000);
    assert.equal(calls, 2, 'the periodic reclaim still runs after a failed one');
    assert.equal(time.pending(), 1);
    r.close();
    for (const [key, value] of [['quietMs', 0], ['everyMs', -5], ['minGapMs', Number.NaN], ['everyMs', Infinity], ['quietMs', 2 ** 31]] as const) {
      assert.throws(() => createMemoryReclaimer({ addon, [key]: value, ...time }), { name: 'RangeError', message: `memory reclaimer: ${key} must be a positive number of ms up to 2^31 - 1, not ${value}` });
    }
    assert.equal(time.pending(), 0, 'a refused reclaimer armed nothing');
  });

  test('a settled() that throws is reported once per wait, never a spinning timer', () => {
    const time = manualTime();
    const { addon, calls } = countingAddon();
    const errors: unknown[] = [];
    const r = createMemoryReclaimer({ addon, quietMs: 2_000, minGapMs: 60_000, everyMs: 300_000, settled: () => { throw new Error('states unreadable'); }, onError: (e) => errors.push(e), rss: () => 1, ...time });
    r.activity();
    time.advance(2_000);
    assert.equal(errors.length, 1);
    r.activity();
    time.advance(59_999);
    assert.equal(errors.length, 1, 'the next attempt waits minGapMs, as after a reclaim');
    time.advance(1);
    assert.equal(errors.length, 2);
    assert.equal(calls.lowMemory, 0);
    assert.equal(time.pending(), 1);
    r.close();
  });

  test('reclaim() by hand runs at once and restarts the periodic wait; activity after close does nothing', () => {
    const time = manualTime();
    const { addon, calls } = countingAddon();
    const r = createMemoryReclaimer({ addon, quietMs: 10_000, everyMs: 300_000, rss: () => 1, ...time });
    time.advance(200_000);
    r.reclaim('periodic');
    assert.equal(calls.lowMemory, 1);
    time.advance(299_999);
    assert.equal(calls.lowMemory, 1, 'the next periodic one is everyMs after the hand-made one');
    time.advance(1);
    assert.equal(calls.lowMemory, 2);
    r.close();
    r.activity();
    time.advance(1_000_000);
    assert.equal(calls.lowMemory, 2);
    assert.equal(time.pending(), 0);
  });
});
