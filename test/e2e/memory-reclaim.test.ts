// fleetd gives memory back once its fleet has settled (issue 14; src/daemon/memory-reclaim.ts):
// the built fleetd loads its memory addon and, about 10 s after the last event of its start,
// collects and trims, saying so in its debug log with the resident set before and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../src/util/wait-for.js';
import { fakeManifest, withFleetd } from './harness.js';

test('once the start has settled, fleetd gives memory back and logs it (debug): cause, RSS before and after, time held', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { one: {}, two: {} } } }), { waitRunning: 2, args: ['--log-level', 'debug'] }, async (f) => {
    const line = await waitFor(
      () => f.output().split('\n').find((l) => l.includes('"msg":"memory given back"')),
      { timeoutMs: 60_000, intervalMs: 200, what: 'the "memory given back" log line' },
    );
    const entry = JSON.parse(line);
    assert.equal(entry.cause, 'settled');
    assert.equal(entry.v8, true, 'this node exports v8::Isolate::LowMemoryNotification');
    assert.equal(typeof entry.trimmed, 'boolean');
    for (const key of ['rssBeforeMiB', 'rssAfterMiB']) assert.ok(typeof entry[key] === 'number' && entry[key] > 0, `${key}: ${entry[key]}`);
    assert.ok(typeof entry.ms === 'number' && entry.ms >= 0, `ms: ${entry.ms}`);
    assert.ok(!f.output().includes('memory addon unavailable'), 'the built fleetd has its addon');
    // the agents were not disturbed by it
    const st = await f.ctl('status');
    assert.equal(st.code, 0, st.stderr);
    assert.deepEqual(JSON.parse(st.stdout).agents.map((a: { state: string }) => a.state), ['running', 'running']);
  });
});
