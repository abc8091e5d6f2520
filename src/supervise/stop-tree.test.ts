import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { waitFor } from '../util/wait-for.js';
import { isAlive, readStat } from './proc.js';
import { stopTree } from './stop-tree.js';
import { makeFakeAgent, PidTracker, spawnDetachedFake, type FakeAgent } from '../../test/support/testkit.js';

async function withAgent(body: (agent: FakeAgent, tracker: PidTracker) => Promise<void>): Promise<void> {
  const agent = await makeFakeAgent();
  const tracker = new PidTracker();
  try {
    await body(agent, tracker);
    assert.deepEqual(tracker.alive(), [], 'no process of the test may survive');
  } finally {
    tracker.killAll();
    await agent.cleanup();
  }
}

describe('stopTree', () => {
  test('SIGTERM reaches the group and the helper in its own session; a cooperative gateway needs no SIGKILL', () =>
    withAgent(async (agent, tracker) => {
      const pids = await spawnDetachedFake(agent, tracker);
      assert.notEqual(readStat(pids.helperPid)?.sid, readStat(pids.pid)?.sid, 'helper is in another session');
      const startTime = readStat(pids.pid)?.startTime as string;
      const report = await stopTree({ pid: pids.pid, startTime }, { timeoutMs: 3000 });
      assert.deepEqual(report.killed, []);
      assert.ok(report.terminated.includes(pids.pid));
      assert.ok(report.terminated.includes(pids.helperPid), 'the other-session helper was found and signalled');
      assert.ok(report.groups.includes(pids.pid), 'its process group');
      assert.deepEqual(report.survivors, []);
    }));

  test('a tree that ignores SIGTERM is SIGKILLed after the timeout, children in other sessions included', () =>
    withAgent(async (agent, tracker) => {
      const pids = await spawnDetachedFake(agent, tracker, 'ignore-sigterm');
      // the helper ignores nothing but the worker does not matter here: make the whole tree deaf
      for (const pid of [pids.helperPid, pids.workerPid]) process.kill(pid, 'SIGSTOP');
      const report = await stopTree({ pid: pids.pid }, { timeoutMs: 300 });
      assert.ok(report.killed.includes(pids.pid), 'main needed SIGKILL');
      assert.equal(isAlive(pids.pid), false);
      assert.equal(isAlive(pids.helperPid), false);
      assert.equal(isAlive(pids.workerPid), false);
      assert.ok(report.elapsedMs >= 300);
    }));

  test('after the main process died, re-parented children are stopped through remembered refs and the group', () =>
    withAgent(async (agent, tracker) => {
      const pids = await spawnDetachedFake(agent, tracker);
      const helper = { pid: pids.helperPid, startTime: readStat(pids.helperPid)?.startTime as string };
      process.kill(pids.pid, 'SIGKILL');
      await waitFor(() => !isAlive(pids.pid), { timeoutMs: 3000 });
      assert.equal(isAlive(pids.helperPid), true, 'the fake helper survives its parent (as designed)');
      assert.equal(isAlive(pids.workerPid), true);
      // Without the remembered refs nothing can be proven to be ours: nothing is touched.
      const blind = await stopTree({ pid: pids.pid }, { timeoutMs: 500 });
      assert.deepEqual(blind.terminated, []);
      assert.equal(isAlive(pids.helperPid), true);
      const report = await stopTree({ pid: pids.pid, pgid: pids.pid, trustGroup: true, extra: [helper] }, { timeoutMs: 2000 });
      assert.ok(report.terminated.includes(pids.helperPid));
      assert.ok(report.terminated.includes(pids.workerPid), 'worker found through the group');
      assert.equal(isAlive(pids.helperPid), false);
      assert.equal(isAlive(pids.workerPid), false);
    }));

  test('a pid whose start time does not match is never signalled', async () => {
    const tracker = new PidTracker();
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    tracker.add(child.pid);
    try {
      const pid = child.pid as number;
      await waitFor(() => readStat(pid), { timeoutMs: 3000 });
      const report = await stopTree({ pid, startTime: '1' }, { timeoutMs: 200 });
      assert.deepEqual(report.terminated, []);
      assert.deepEqual(report.killed, []);
      assert.equal(isAlive(pid), true);
      const stale = await stopTree({ pid: 999_999_999, extra: [{ pid, startTime: '1' }] }, { timeoutMs: 200 });
      assert.deepEqual(stale.terminated, []);
      assert.equal(isAlive(pid), true);
    } finally {
      tracker.killAll();
    }
    await waitFor(() => tracker.alive().length === 0, { timeoutMs: 3000 });
  });
});
