// The runner against the fake gateway as a real process: health-gated start, crash and
// exit-78 handling, operator restart, readiness reporting, command not found. Every test
// ends by proving that no process it saw is still alive.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { waitFor } from '../util/wait-for.js';
import type { RecordedProcess } from '../plan/types.js';
import { probeGateway } from './probe.js';
import { isAlive, readStat } from './proc.js';
import { postFake, withFakeRunner } from '../../test/support/testkit.js';

describe('runner with the fake gateway', () => {
  test('spawned is not started: starting until /healthz answers; env, group and record are exact', () =>
    withFakeRunner({ mode: 'slow-start:800' }, async ({ agent, runner, processes, fakeOf }) => {
      runner.start();
      const starting = await runner.waitForState((s) => s.state === 'starting' && s.pid !== null, 2000);
      assert.match(starting.reason, /^started; spawned pid \d+, waiting for \/healthz on port \d+$/);
      const pids = await fakeOf(starting.pid);
      // The fake is up (it wrote its pids) but does not listen yet: still starting.
      assert.equal((await probeGateway(agent.port, 300)).live, false);
      assert.equal(runner.status().state, 'starting');
      assert.equal(runner.status().health.live, false);

      const running = await runner.waitForState('running', 5000);
      assert.match(running.reason, /^started after [\d.]+ m?s: pid \d+ listens on port \d+; \/readyz: ready \(startup complete, not draining\)$/);
      assert.equal(running.pid, pids.pid);
      assert.equal(running.port, agent.port);
      assert.ok(running.runningSince !== null);
      assert.equal((await probeGateway(agent.port, 1000)).live, true);

      // exactly the spec's environment, nothing of ours
      assert.deepEqual(pids.envKeys, Object.keys(agent.spec.env).sort());
      // its own process group, recorded with its start time
      assert.equal(pids.pgid, pids.pid);
      // recorded at the spawn, and again (with runningSince) once it runs
      assert.deepEqual(processes.length, 2);
      const rec = processes[0] as RecordedProcess;
      assert.equal((processes[1] as RecordedProcess).pid, rec.pid);
      assert.ok((processes[1] as RecordedProcess).runningSince, 'the second record says since when it runs');
      assert.equal(rec.pid, pids.pid);
      assert.equal(rec.pgid, pids.pid);
      assert.equal(rec.startTime, readStat(pids.pid)?.startTime);

      await runner.stop();
      assert.equal(processes.at(-1), null, 'the record is cleared once the tree is gone');
      assert.equal(runner.status().reason, 'stopped by the operator');
      assert.equal(runner.status().pid, null);
    }));

  test('a crashed gateway comes back: new pid, same port, restart counted, leftovers stopped', () =>
    withFakeRunner({}, async ({ agent, runner, states, fakeOf }) => {
      runner.start();
      const first = await runner.waitForState('running', 5000);
      const pids = await fakeOf(first.pid);
      await postFake(agent.port, '/__fake/crash?code=3');

      const backoff = await runner.waitForState('backoff', 5000);
      assert.match(backoff.reason, /^exited with code 3 after [\d.]+ m?s; restart 1 in 1\d\d ms$/);
      assert.equal(backoff.lastExit?.code, 3);
      assert.ok(backoff.nextStartAt !== null);
      // The crash left helper (own session) and worker (own group) behind: the runner stopped them.
      assert.ok(states.includes('stopping'), `states: ${states.join(' ')}`);
      assert.deepEqual([pids.pid, pids.helperPid, pids.workerPid].filter(isAlive), []);

      const second = await runner.waitForState((s) => s.state === 'running' && s.pid !== first.pid, 5000);
      await fakeOf(second.pid);
      assert.equal(second.restarts, 1);
      assert.equal(second.port, first.port);
      assert.deepEqual(states, ['starting', 'running', 'stopping', 'backoff', 'starting', 'running']);
    }));

  test('exit 78 is not restarted: failed with the config error, until an operator restarts', () =>
    withFakeRunner({ config: { fakeFail: true } }, async ({ agent, runner, processes, fakeOf }) => {
      runner.start();
      const failed = await runner.waitForState('failed', 5000);
      assert.match(
        failed.reason,
        /^exited with code 78 after [\d.]+ m?s, not restarted because OpenClaw refused its configuration; it said: Invalid config at \S+openclaw\.json: Unrecognized key: "fakeFail"$/,
      );
      assert.equal(failed.lastExit?.code, 78);
      assert.equal(failed.nextStartAt, null);
      assert.equal(failed.restarts, 0);
      assert.equal(processes.filter((p) => p !== null).length, 1);

      // start() from failed tries again (and fails the same way)
      runner.start();
      await runner.waitForState((s) => s.state === 'starting' && s.pid !== null, 2000);
      await runner.waitForState('failed', 5000);
      assert.equal(processes.filter((p) => p !== null).length, 2);

      await agent.writeConfig(); // the operator fixes the config
      await runner.restart();
      const running = await runner.waitForState('running', 5000);
      await fakeOf(running.pid);
      assert.equal(running.restarts, 1);
    }));

  test('restart() stops with SIGTERM and starts again; readiness is reported, never acted on; updateSpec applies at the next start', () =>
    withFakeRunner({}, async ({ agent, runner, processes, fakeOf }) => {
      runner.start();
      const first = await runner.waitForState('running', 5000);
      const pids = await fakeOf(first.pid);
      await waitFor(() => runner.status().health.ready === true, { timeoutMs: 3000 });

      await postFake(agent.port, '/__fake/ready?ok=0');
      await waitFor(() => runner.status().health.ready === false, { timeoutMs: 3000, what: 'ready=false' });
      assert.deepEqual(runner.status().health.failing, ['fake-channel']);
      assert.equal(runner.status().state, 'running');

      runner.updateSpec({ ...agent.spec, env: { ...agent.spec.env, FAKE_MODE: 'not-ready' } });
      await runner.restart();
      assert.equal(runner.status().lastExit?.code, 0, 'SIGTERM was handled: clean exit');
      assert.deepEqual([pids.pid, pids.helperPid, pids.workerPid].filter(isAlive), [], 'old tree gone before the new spawn');
      const second = await runner.waitForState('running', 5000);
      const pids2 = await fakeOf(second.pid);
      assert.notEqual(second.pid, first.pid);
      assert.equal(second.port, first.port);
      assert.equal(second.restarts, 1);
      assert.ok(pids2.envKeys.includes('FAKE_MODE'));
      await waitFor(() => runner.status().health.ready === false, { timeoutMs: 3000, what: 'not-ready from the new spec' });
      // spawn, running, gone; then the new one: spawn, running
      assert.deepEqual(processes.map((p) => (p ? 'rec' : 'null')), ['rec', 'rec', 'null', 'rec', 'rec']);
      const log = await readFile(agent.spec.logFile, 'utf8');
      assert.match(log, /\[fleetd [^\]]+\] pid \d+ exited with code 0 after/);
    }));

  test('a command that cannot be found backs off with a clear reason', () =>
    withFakeRunner({ spec: { argv: ['openclaw-not-installed', 'gateway', 'run'] } }, async ({ runner, processes }) => {
      runner.start();
      const backoff = await runner.waitForState('backoff', 3000);
      assert.match(backoff.reason, /^could not start: command not found or not executable: "openclaw-not-installed" \(PATH=.*\); restart 1 in 1\d\d ms$/);
      assert.deepEqual(processes, []);
      await runner.waitForState((s) => s.state === 'backoff' && s.reason.includes('restart 2'), 3000);
    }));

  test('waitForState rejects with TIMEOUT and names the current state', () =>
    withFakeRunner({}, async ({ runner }) => {
      await assert.rejects(runner.waitForState('running', 50), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'TIMEOUT');
        assert.match(err.message, /it is stopped: not started yet/);
        return true;
      });
    }));
});
