// The verdict on a reconfigure, from evidence fed in by hand with an explicit clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, nextRound, observeLastGood, observeSignal, observeStartup, startEvidence, verdictHardStopMs, type Evidence, type VerdictLimits } from './reconfigure-verdict.js';
import { parseReloadLine } from './reload-lines.js';

const limits: VerdictLimits = { confirmMs: 30_000, restartMs: 120_000, deferMs: 60_000 };
const T = 1_000_000;

/** Evidence after a write at T with a started gateway up for `uptime` ms. */
function fresh(uptime = 50_000): Evidence {
  return startEvidence(T, { state: 'started', uptimeMs: uptime });
}

function line(ev: Evidence, text: string, at: number): void {
  const signal = parseReloadLine(`2026-12-01T04:00:00.000+00:00 ${text}`);
  assert.ok(signal, text);
  observeSignal(ev, signal, at);
}

test('hot reload applied: done at once, applied, with the paths', () => {
  const ev = fresh();
  line(ev, '[reload] config change detected; evaluating reload (tools)', T + 600);
  assert.equal(judge(ev, T + 600, limits).done, false);
  line(ev, '[reload] config hot reload applied (tools)', T + 900);
  const v = judge(ev, T + 900, limits);
  assert.ok(v.done && v.applied && v.how.startsWith('hot reload (tools)'), JSON.stringify(v));
});

test('a change that needs no reload action: applied once last-good holds the file AND one more round passed', () => {
  const ev = fresh();
  nextRound(ev);
  line(ev, '[reload] config change detected; evaluating reload (logging.level)', T + 600);
  observeLastGood(ev);
  assert.equal(judge(ev, T + 700, limits).done, false, 'not in the round last-good was seen: a restart line may still be in the pipe');
  nextRound(ev);
  const v = judge(ev, T + 900, limits);
  assert.ok(v.done && v.applied && v.how.includes('no reload action needed') && v.how.includes('logging.level'), JSON.stringify(v));
});

test('last-good then a restart announcement in the next round: the restart wins', () => {
  const ev = fresh();
  nextRound(ev);
  observeLastGood(ev);
  line(ev, '[reload] config change requires gateway restart (gateway.controlUi.basePath) — preparing', T + 650);
  nextRound(ev);
  const v = judge(ev, T + 800, limits);
  assert.ok(!v.done && v.phase.includes('restarts in-process'), JSON.stringify(v));
});

test('in-process restart: applied when /startupz is started again with a lower uptime (same pid is the caller\'s check)', () => {
  const ev = fresh(50_000);
  line(ev, '[reload] config change requires gateway restart (gateway.controlUi.basePath) — preparing', T + 600);
  observeStartup(ev, { state: 'started', uptimeMs: 50_700 }, T + 700); // still the old instance
  assert.equal(judge(ev, T + 700, limits).done, false);
  observeStartup(ev, { state: 'draining', uptimeMs: 51_000 }, T + 1000);
  observeStartup(ev, { state: 'no-answer', uptimeMs: null }, T + 1200);
  observeStartup(ev, { state: 'starting', uptimeMs: 80 }, T + 3000);
  assert.equal(judge(ev, T + 3000, limits).done, false);
  observeStartup(ev, { state: 'started', uptimeMs: 800 }, T + 3700);
  const v = judge(ev, T + 3700, limits);
  assert.ok(v.done && v.applied && v.how.includes('in-process restart (gateway.controlUi.basePath)') && v.how.includes('3.7 s'), JSON.stringify(v));
});

test('in-process restart seen only by the uptime drop (its lines lost): still applied', () => {
  const ev = fresh(50_000);
  observeStartup(ev, { state: 'started', uptimeMs: 50_200 }, T + 200);
  observeStartup(ev, { state: 'started', uptimeMs: 300 }, T + 2600);
  const v = judge(ev, T + 2600, limits);
  assert.ok(v.done && v.applied && v.how.startsWith('in-process restart'), JSON.stringify(v));
});

test('a gateway without uptimeMs: "started" after the restart lines counts', () => {
  const ev = startEvidence(T, { state: 'started', uptimeMs: null });
  line(ev, '[reload] config change requires gateway restart (gateway.x) — preparing', T + 100);
  line(ev, '[gateway] received SIGUSR2; restarting', T + 200);
  observeStartup(ev, { state: 'started', uptimeMs: null }, T + 900);
  const v = judge(ev, T + 900, limits);
  assert.ok(v.done && v.applied, JSON.stringify(v));
});

test('a probe that timed out is no restart (no announcement): still waiting, then not confirmed', () => {
  const ev = fresh();
  observeStartup(ev, { state: 'no-answer', uptimeMs: null }, T + 500);
  observeStartup(ev, { state: 'started', uptimeMs: 51_000 }, T + 1000);
  assert.equal(judge(ev, T + 1000, limits).done, false);
  const v = judge(ev, T + 30_001, limits);
  assert.ok(v.done && !v.applied && v.why.includes('did not react'), JSON.stringify(v));
});

test('rejected, disabled, refused, failed: not applied, each saying why', () => {
  const cases: Array<[string, string]> = [
    ['[reload] config reload skipped (invalid config): : Unrecognized key: "x"', 'rejected the new openclaw.json (Unrecognized key: "x")'],
    ['[reload] config reload disabled (gateway.reload.mode=off)', 'gateway.reload.mode=off'],
    ['[reload] gateway restart recovery unavailable; restart-required reload rejected', 'OpenClaw will not do itself'],
    ['[reload] config reload failed: Error: boom', 'could not apply it'],
  ];
  for (const [text, why] of cases) {
    const ev = fresh();
    line(ev, text, T + 500);
    const v = judge(ev, T + 500, limits);
    assert.ok(v.done && !v.applied && v.why.includes(why), `${text}: ${JSON.stringify(v)}`);
  }
});

test('restart deadlines: restartMs from the announcement, plus deferMs when OpenClaw deferred it', () => {
  const ev = fresh();
  line(ev, '[reload] config change requires gateway restart (gateway.x) — preparing', T + 500);
  assert.equal(judge(ev, T + 500 + limits.restartMs, limits).done, false);
  const late = judge(ev, T + 501 + limits.restartMs, limits);
  assert.ok(late.done && !late.applied && late.why.includes('did not come back'), JSON.stringify(late));

  const deferred = fresh();
  line(deferred, '[reload] config change requires gateway restart (gateway.x) — deferring until 1 task run(s) complete', T + 500);
  const waiting = judge(deferred, T + 501 + limits.restartMs, limits);
  assert.ok(!waiting.done && waiting.phase.includes('defers'), JSON.stringify(waiting));
  const gaveUp = judge(deferred, T + 501 + limits.restartMs + limits.deferMs, limits);
  assert.ok(gaveUp.done && !gaveUp.applied && gaveUp.why.includes('deferred'), JSON.stringify(gaveUp));
});

test('confirmMs: detected but never confirmed says so; the hard stop covers every phase', () => {
  const ev = fresh();
  line(ev, '[reload] config change detected; evaluating reload (tools)', T + 500);
  assert.equal(judge(ev, T + limits.confirmMs, limits).done, false);
  const v = judge(ev, T + limits.confirmMs + 1, limits);
  assert.ok(v.done && !v.applied && v.why.includes('saw the change (tools)'), JSON.stringify(v));
  assert.equal(verdictHardStopMs(limits), limits.confirmMs + limits.restartMs + limits.deferMs);
});

test('a rejection wins over everything seen before it', () => {
  const ev = fresh();
  nextRound(ev);
  observeLastGood(ev);
  line(ev, '[reload] config reload skipped (invalid config): : bad', T + 300);
  nextRound(ev);
  const v = judge(ev, T + 400, limits);
  assert.ok(v.done && !v.applied, JSON.stringify(v));
});
