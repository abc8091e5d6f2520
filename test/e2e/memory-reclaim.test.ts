// fleetd gives memory back once its fleet has settled (issue 14; src/daemon/memory-reclaim.ts):
// the built fleetd loads its memory addon and, once its start has settled and V8 has been quiet
// for 10 s, collects (or leaves that to V8's memory reducer when it has collected) and trims, saying so in its debug log with the resident set before and after, and in status;
// `--no-memory-reclaim` turns it off.
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
    assert.equal(typeof entry.v8Reduced, 'boolean');
    assert.equal(entry.v8, !entry.v8Reduced, 'V8 collects at fleetd\'s call unless its memory reducer did (this node exports v8::Isolate::LowMemoryNotification)');
    assert.equal(typeof entry.trimmed, 'boolean');
    for (const key of ['rssBeforeMiB', 'rssAfterMiB']) assert.ok(typeof entry[key] === 'number' && entry[key] > 0, `${key}: ${entry[key]}`);
    assert.ok(typeof entry.ms === 'number' && entry.ms >= 0, `ms: ${entry.ms}`);
    assert.ok(!f.output().includes('memory addon unavailable'), 'the built fleetd has its addon');
    assert.match(f.output(), /"msg":"memory reclaim: on; fleetd gives memory back once its fleet has settled \(and V8 made no major collection in the last 10 s\), at most once a minute, and every 5 minutes"/, 'said at info when it starts');
    // the agents were not disturbed by it; status says what it did
    const st = await f.ctl('status');
    assert.equal(st.code, 0, st.stderr);
    const body = JSON.parse(st.stdout);
    assert.deepEqual(body.agents.map((a: { state: string }) => a.state), ['running', 'running']);
    const view = body.daemon.memoryReclaim;
    assert.equal(view.state, 'on');
    assert.equal(view.reason, null);
    assert.ok(view.count >= 1, `count ${view.count}`);
    assert.equal(view.last.cause, 'settled');
    assert.ok(view.last.rssBeforeBytes > 0 && view.last.rssAfterBytes > 0 && view.last.ms >= 0 && view.last.at <= Date.now(), JSON.stringify(view.last));
    assert.equal(view.last.ms, Math.round(view.last.ms * 10) / 10, 'to 0.1 ms, as the log');
    assert.equal(view.last.v8, !view.last.v8Reduced);
    assert.equal(typeof view.last.trimmed, 'boolean');
  });
});

test('`fleetd start --no-memory-reclaim`: no reclaim, said once at start and in status', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { one: {} } } }), { waitRunning: 1, args: ['--log-level', 'debug', '--no-memory-reclaim'] }, async (f) => {
    const st = await f.ctl('status');
    assert.equal(st.code, 0, st.stderr);
    assert.deepEqual(JSON.parse(st.stdout).daemon.memoryReclaim, { state: 'off', reason: '--no-memory-reclaim', count: 0, last: null });
    assert.equal(f.output().split('\n').filter((l) => l.includes('"msg":"memory reclaim: off (--no-memory-reclaim)')).length, 1, f.output());
    assert.ok(!f.output().includes('memory given back'));
  });
});
