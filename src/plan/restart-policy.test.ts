import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration } from '../util/duration.js';
import { backoffDelay, EMPTY_HISTORY, nextRestart, type GatewayEnding, type RestartHistory, type RestartPolicy } from './restart-policy.js';

const policy: RestartPolicy = { initialDelayMs: 1000, factor: 2, maxDelayMs: 30_000, resetAfterMs: 600_000, noRestartExitCodes: [78] };
const noJitter = () => 0;
const crash = (runningSince: number | null = null, code = 1): GatewayEnding => ({ kind: 'exited', code, signal: null, runtimeMs: 3200, runningSince });

describe('nextRestart', () => {
  test('delays double from initialDelayMs up to the cap, and it never gives up', () => {
    let history: RestartHistory = EMPTY_HISTORY;
    const delays: number[] = [];
    let now = 1_000_000; // fake clock
    for (let i = 0; i < 12; i++) {
      const d = nextRestart(history, crash(), policy, now, noJitter);
      assert.equal(d.action, 'restart');
      assert.equal(d.restartAt, now + d.delayMs);
      delays.push(d.delayMs);
      history = d.history;
      now += d.delayMs + 500;
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000, 30000, 30000, 30000]);
    assert.equal(history.attempt, 12);
  });

  test('jitter adds at most 10 % and never shortens the delay', () => {
    for (const attempt of [1, 3, 6, 50]) {
      const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
      assert.equal(backoffDelay(attempt, policy, () => 0), base);
      assert.equal(backoffDelay(attempt, policy, () => 1), Math.round(base * 1.1));
      const mid = backoffDelay(attempt, policy, () => 0.5);
      assert.ok(mid > base && mid < base * 1.1, `${mid} within (${base}, ${base * 1.1})`);
      // out-of-range random values are clamped
      assert.equal(backoffDelay(attempt, policy, () => 7), Math.round(base * 1.1));
    }
  });

  test('the streak resets once the gateway ran healthy for resetAfterMs', () => {
    const history: RestartHistory = { attempt: 5 };
    const now = 5_000_000;
    const shortRun = nextRestart(history, crash(now - (policy.resetAfterMs - 1)), policy, now, noJitter);
    assert.equal(shortRun.history.attempt, 6);
    assert.equal(shortRun.delayMs, 30_000);
    const longRun = nextRestart(history, crash(now - policy.resetAfterMs), policy, now, noJitter);
    assert.equal(longRun.history.attempt, 1);
    assert.equal(longRun.delayMs, 1000);
    const neverHealthy = nextRestart(history, crash(null), policy, now, noJitter);
    assert.equal(neverHealthy.history.attempt, 6);
  });

  test('exit code 78 fails with the output and keeps the history', () => {
    const ending: GatewayEnding = { kind: 'exited', code: 78, signal: null, runtimeMs: 1500, runningSince: null, output: 'Invalid config: Unrecognized key "x"' };
    const d = nextRestart({ attempt: 2 }, ending, policy, 0, noJitter);
    assert.equal(d.action, 'fail');
    assert.equal(d.delayMs, 0);
    assert.equal(d.restartAt, null);
    assert.equal(d.history.attempt, 2);
    assert.equal(d.reason, 'exited with code 78 after 1.5 s, not restarted because OpenClaw refused its configuration; it said: Invalid config: Unrecognized key "x"');
  });

  test('other codes listed in noRestartExitCodes fail too; codes not listed restart', () => {
    const custom = { ...policy, noRestartExitCodes: [78, 3] };
    assert.equal(nextRestart(EMPTY_HISTORY, crash(null, 3), custom, 0, noJitter).action, 'fail');
    assert.match(nextRestart(EMPTY_HISTORY, crash(null, 3), custom, 0, noJitter).reason, /noRestartExitCodes/);
    for (const code of [0, 1, 2, 77, 79, 137, 255]) assert.equal(nextRestart(EMPTY_HISTORY, crash(null, code), policy, 0, noJitter).action, 'restart');
    const none = { ...policy, noRestartExitCodes: [] };
    assert.equal(nextRestart(EMPTY_HISTORY, crash(null, 78), none, 0, noJitter).action, 'restart');
  });

  test('reasons read well for every kind of ending', () => {
    const h: RestartHistory = { attempt: 3 };
    assert.equal(nextRestart(h, crash(), policy, 0, noJitter).reason, 'exited with code 1 after 3.2 s; restart 4 in 8 s');
    assert.equal(
      nextRestart(EMPTY_HISTORY, { kind: 'exited', code: null, signal: 'SIGKILL', runtimeMs: 61_000, runningSince: null }, policy, 0, noJitter).reason,
      'killed by SIGKILL after 1 min; restart 1 in 1 s',
    );
    assert.equal(
      nextRestart(EMPTY_HISTORY, { kind: 'unhealthy', failures: 3, runtimeMs: 4000, runningSince: null }, policy, 0, noJitter).reason,
      'stopped after 3 failed health probes in a row, hung after 4 s; restart 1 in 1 s',
    );
    assert.equal(
      nextRestart(EMPTY_HISTORY, { kind: 'startup-timeout', timeoutMs: 120_000, runtimeMs: 120_100, runningSince: null }, policy, 0, noJitter).reason,
      'no answer on /healthz within 2 min; stopped; restart 1 in 1 s',
    );
    assert.equal(
      nextRestart(EMPTY_HISTORY, { kind: 'spawn-error', message: 'command not found: "openclaw"', runtimeMs: 0, runningSince: null }, policy, 0, noJitter).reason,
      'could not start: command not found: "openclaw"; restart 1 in 1 s',
    );
  });

  test('a launch that failed before the spawn: transient ones back off with the same counter, permanent ones fail', () => {
    const transient: GatewayEnding = { kind: 'prepare-failed', message: 'disk full', transient: true, runtimeMs: 0, runningSince: null };
    const first = nextRestart(EMPTY_HISTORY, transient, policy, 0, noJitter);
    assert.equal(first.action, 'restart');
    assert.equal(first.reason, 'cannot launch: disk full; restart 1 in 1 s');
    const second = nextRestart(first.history, transient, policy, 0, noJitter);
    assert.equal(second.history.attempt, 2);
    assert.equal(second.delayMs, 2000);
    const permanent: GatewayEnding = { kind: 'prepare-failed', message: 'home /x is a symlink', transient: false, runtimeMs: 0, runningSince: null };
    const failed = nextRestart(second.history, permanent, policy, 0, noJitter);
    assert.equal(failed.action, 'fail');
    assert.equal(failed.reason, 'cannot launch: home /x is a symlink; not retried, since waiting cannot fix it');
    assert.equal(failed.history.attempt, 2);
  });
});

describe('formatDuration', () => {
  const table: Array<[number, string]> = [
    [0, '0 ms'],
    [450, '450 ms'],
    [999.7, '1 s'],
    [1000, '1 s'],
    [3249, '3.2 s'],
    [8000, '8 s'],
    [59_990, '1 min'],
    [270_000, '4.5 min'],
    [7_200_000, '2 h'],
  ];
  for (const [ms, text] of table) test(`${ms} ms -> ${text}`, () => assert.equal(formatDuration(ms), text));
});
