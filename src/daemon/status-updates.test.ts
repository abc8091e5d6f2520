// The systemd status line (issue 14): built from the agents' states only (never their status
// views), at most once per interval whatever the number of changes, the last state always
// sent in the end, and never built when fleetd is not under systemd. Injected clock and
// timers: nothing sleeps.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentState } from '../supervise/types.js';
import { createStatusUpdates, fleetStatusUpdates } from './status-updates.js';
import { manualTime } from '../../test/support/manual-time.js';

describe('status updates', () => {
  test('a burst of changes builds the line twice: at once, then once at the end of the interval with the last state', () => {
    const time = manualTime(1_000_000);
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
    const time = manualTime(1_000_000);
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
    const time = manualTime(1_000_000);
    let built = 0;
    const updates = createStatusUpdates({ enabled: false, line: () => (built++, 'x'), send: () => assert.fail('sent'), ...time });
    for (let i = 0; i < 100; i++) updates.changed();
    time.advance(10_000);
    assert.equal(built, 0);
    assert.equal(time.pending(), 0);
  });

  test("fleet status line: from the agents' states, never from their views", async () => {
    const time = manualTime(1_000_000);
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
