// The systemd status line (issue 14): built from the agents' states only (never their status
// views), at most once per interval whatever the number of changes, the last state always
// sent in the end, and never built when fleetd is not under systemd. Injected clock and
// timers: nothing sleeps.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentState } from '../supervise/types.js';
import { createStatusUpdates, fleetStatusUpdates } from './status-updates.js';

/** A manual clock with timers that fire when the clock is advanced past them. */
function manualTime() {
  let t = 1_000_000;
  const timers = new Set<{ at: number; fn: () => void }>();
  return {
    now: () => t,
    setTimer: (fn: () => void, ms: number) => {
      const h = { at: t + ms, fn };
      timers.add(h);
      return h;
    },
    clearTimer: (h: unknown) => void timers.delete(h as { at: number; fn: () => void }),
    pending: () => timers.size,
    advance(ms: number) {
      t += ms;
      for (const h of [...timers].sort((a, b) => a.at - b.at)) {
        if (h.at > t) continue;
        timers.delete(h);
        h.fn();
      }
    },
  };
}

describe('status updates', () => {
  test('a burst of changes builds the line twice: at once, then once at the end of the interval with the last state', () => {
    const time = manualTime();
    let built = 0;
    let value = 0;
    const sent: string[] = [];
    const updates = createStatusUpdates({ enabled: true, intervalMs: 1000, line: () => (built++, `v${value}`), send: (l) => sent.push(l), ...time });
    for (value = 1; value <= 500; value++) updates.changed();
    value = 500;
    assert.deepEqual(sent, ['v1']);
    time.advance(999);
    assert.equal(built, 1, 'nothing more inside the interval');
    time.advance(1);
    assert.deepEqual(sent, ['v1', 'v500'], 'the trailing send carries the last state');
    assert.equal(built, 2);
    assert.equal(time.pending(), 0, 'no timer left when nothing changed since');
  });

  test('the first change after a quiet interval is sent at once; close drops a pending send', () => {
    const time = manualTime();
    const sent: string[] = [];
    let value = 'a';
    const updates = createStatusUpdates({ enabled: true, intervalMs: 1000, line: () => value, send: (l) => sent.push(l), ...time });
    updates.changed();
    time.advance(5000);
    value = 'b';
    updates.changed();
    assert.deepEqual(sent, ['a', 'b']);
    value = 'c';
    updates.changed();
    updates.close();
    time.advance(5000);
    updates.changed();
    assert.deepEqual(sent, ['a', 'b']);
  });

  test('not under systemd the line is never built', () => {
    const time = manualTime();
    let built = 0;
    const updates = createStatusUpdates({ enabled: false, line: () => (built++, 'x'), send: () => assert.fail('sent'), ...time });
    for (let i = 0; i < 100; i++) updates.changed();
    time.advance(10_000);
    assert.equal(built, 0);
    assert.equal(time.pending(), 0);
  });

  test("fleet status line: from the agents' states, never from their views", async () => {
    const time = manualTime();
    const states: AgentState[] = ['starting', 'starting', 'running'];
    const sent: string[] = [];
    const fleet = {
      states: () => states,
      views: () => assert.fail('the status line read the agents\' views (/proc, cgroups)'),
    };
    const updates = fleetStatusUpdates({ sd: { enabled: true, status: async (l) => void sent.push(l) }, states: fleet.states, rollout: () => null }, { intervalMs: 1000, ...time });
    updates.changed();
    states[0] = 'running';
    states[1] = 'failed';
    updates.changed();
    time.advance(1000);
    assert.deepEqual(sent, ['3 agents: 1 running, 2 starting', '3 agents: 2 running, 1 failed']);
  });
});
