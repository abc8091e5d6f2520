import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { RecordedProcess } from '../plan/types.js';
import { isAlive, readStat } from './proc.js';
import { stopRecordedProcess } from './orphans.js';
import { makeFakeAgent, PidTracker, spawnDetachedFake } from '../../test/support/testkit.js';

describe('stopRecordedProcess', () => {
  test('stops the whole tree of a recorded gateway whose start time matches', async () => {
    const agent = await makeFakeAgent();
    const tracker = new PidTracker();
    try {
      const pids = await spawnDetachedFake(agent, tracker, 'ignore-sigterm');
      const rec: RecordedProcess = { pid: pids.pid, pgid: pids.pid, startTime: readStat(pids.pid)?.startTime as string, spawnedAt: new Date().toISOString() };
      const outcome = await stopRecordedProcess(rec, 400);
      assert.equal(outcome.action, 'stopped');
      assert.match(outcome.detail, /^stopped the tree of pid \d+ left by a previous fleetd; \d+ process\(es\) sent SIGTERM; \d+ needed SIGKILL after 400 ms$/);
      assert.deepEqual(tracker.alive(), [], 'main, worker (group) and helper (own session) are dead');
    } finally {
      tracker.killAll();
      await agent.cleanup();
    }
  });

  test('a live pid with another start time (a reused pid) is left alone', async () => {
    const tracker = new PidTracker();
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore', detached: true });
    tracker.add(child.pid);
    try {
      const pid = child.pid as number;
      const real = readStat(pid)?.startTime as string;
      const rec: RecordedProcess = { pid, pgid: pid, startTime: String(Number(real) - 1), spawnedAt: '2026-01-01T00:00:00.000Z' };
      const outcome = await stopRecordedProcess(rec, 200);
      assert.equal(outcome.action, 'pid-reused');
      assert.match(outcome.detail, /now belongs to another process .*left alone$/);
      assert.equal(isAlive(pid), true, 'not touched');
    } finally {
      tracker.killAll();
    }
  });

  test('a pid of a process that already exited is reported gone', async () => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    const pid = child.pid as number;
    const startTime = readStat(pid)?.startTime ?? '0';
    await once(child, 'exit');
    const outcome = await stopRecordedProcess({ pid, pgid: pid, startTime, spawnedAt: '2026-01-01T00:00:00.000Z' }, 200);
    assert.equal(outcome.action, 'gone');
    assert.equal(isAlive(pid), false);
  });
});
