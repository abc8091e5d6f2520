import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { waitFor } from '../util/wait-for.js';
import { isAlive, readStat } from './proc.js';
import { stopTree } from './stop-tree.js';
import { createProcTable } from './proc-table.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeFakeAgent, PidTracker, processesWithEnv, spawnDetachedFake, type FakeAgent } from '../../test/support/testkit.js';

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

describe('stopTree: a process that forks while it is being stopped (issue 9 item 4)', () => {
  // Once stopTree has returned, what the gateway forked on SIGTERM has either recorded itself
  // (and must be dead), or was stopped before it could (the marker check sees any descendant).
  /** The escapee pids the fake gateway recorded, [] when none. */
  const escapees = async (agent: FakeAgent): Promise<number[]> => {
    const info = JSON.parse(await readFile(join(agent.home, 'fake-escapee.json'), 'utf8').catch(() => 'null')) as { childPid: number; grandchildPid?: number } | null;
    return info ? [info.childPid, info.grandchildPid].filter((p): p is number => typeof p === 'number') : [];
  };

  for (const mode of ['fork-on-sigterm', 'fork-on-sigterm:double']) {
    test(`${mode}: the child born of SIGTERM (own session, deaf to SIGTERM, re-parented to init) does not survive`, () =>
      withAgent(async (agent, tracker) => {
        const pids = await spawnDetachedFake(agent, tracker, mode);
        const startTime = readStat(pids.pid)?.startTime as string;
        const report = await stopTree({ pid: pids.pid, startTime }, { timeoutMs: 1000 });
        const escaped = await escapees(agent);
        tracker.add(...escaped);
        if (mode === 'fork-on-sigterm') assert.equal(escaped.length, 1, 'the gateway recorded its escapee before exiting');
        assert.deepEqual(escaped.filter(isAlive), [], 'nothing the gateway forked on SIGTERM is alive');
        assert.deepEqual(report.survivors, []);
        assert.deepEqual(processesWithEnv('OPENCLAW_CONFIG_PATH', agent.configPath), [], 'nothing with the agent marker is left');
      }));
  }

  // fleetd's stops share one /proc table (stop --all, a shutdown): the marker search made
  // once a tree is gone must still be a search begun after that, not a scan shared from before.
  test('two agents stopped together on one shared /proc table: neither escapee survives', () =>
    withAgent(async (agent, tracker) => {
      const other = await makeFakeAgent();
      try {
        const procs = createProcTable();
        const trees = [await spawnDetachedFake(agent, tracker, 'fork-on-sigterm'), await spawnDetachedFake(other, tracker, 'fork-on-sigterm')];
        const reports = await Promise.all(trees.map((t) => stopTree({ pid: t.pid, startTime: readStat(t.pid)?.startTime as string }, { timeoutMs: 1000, procs })));
        const escaped = [...(await escapees(agent)), ...(await escapees(other))];
        tracker.add(...escaped);
        assert.equal(escaped.length, 2, 'each gateway recorded its escapee before exiting');
        assert.deepEqual(escaped.filter(isAlive), [], 'nothing the gateways forked on SIGTERM is alive');
        assert.deepEqual(reports.flatMap((r) => r.survivors), []);
        for (const a of [agent, other]) assert.deepEqual(processesWithEnv('OPENCLAW_CONFIG_PATH', a.configPath), [], `nothing with ${a.configPath} is left`);
      } finally {
        await other.cleanup();
      }
    }));

  test('without the environment marker the window is real: the escapee survives (so the test above can fail)', () =>
    withAgent(async (agent, tracker) => {
      const pids = await spawnDetachedFake(agent, tracker, 'fork-on-sigterm');
      await stopTree({ pid: pids.pid, marker: null }, { timeoutMs: 1000 });
      const [escapee] = await waitFor(async () => {
        const found = await escapees(agent);
        return found.length > 0 ? found : undefined;
      }, { timeoutMs: 5000, what: 'fake-escapee.json' });
      tracker.add(escapee);
      assert.equal(isAlive(escapee!), true, 'the descendant walk alone misses it');
      process.kill(escapee!, 'SIGKILL');
      await waitFor(() => !isAlive(escapee!), { timeoutMs: 3000 });
    }));

  test('the marker never reaches a process of another agent (another config path)', () =>
    withAgent(async (agent, tracker) => {
      const other = await makeFakeAgent();
      try {
        const mine = await spawnDetachedFake(agent, tracker, 'fork-on-sigterm');
        const theirs = await spawnDetachedFake(other, tracker);
        await stopTree({ pid: mine.pid }, { timeoutMs: 1000 });
        tracker.add(...(await escapees(agent)));
        assert.ok([theirs.pid, theirs.helperPid, theirs.workerPid].every(isAlive), 'the other agent is untouched');
        await stopTree({ pid: theirs.pid }, { timeoutMs: 1000 });
      } finally {
        await other.cleanup();
      }
    }));
});
