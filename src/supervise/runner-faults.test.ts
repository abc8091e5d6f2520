// The runner against misbehaving fake gateways: never listening, hung (SIGSTOP), deaf to
// SIGTERM, printing its token. Every test ends by proving no process it saw survived.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { waitFor } from '../util/wait-for.js';
import { descendantsOf, isAlive } from './proc.js';
import { postFake, processesWithEnv, withFakeRunner } from '../../test/support/testkit.js';

describe('runner with a misbehaving fake gateway', () => {
  test('a gateway that never answers /healthz is stopped (tree gone) and retried after backoff', () =>
    withFakeRunner({ mode: 'never-listen', spec: { health: { intervalMs: 100, timeoutMs: 300, failureThreshold: 3, startupTimeoutMs: 700 } } }, async ({ runner, states, fakeOf }) => {
      runner.start();
      const starting = await runner.waitForState((s) => s.state === 'starting' && s.pid !== null, 2000);
      const first = await fakeOf(starting.pid);
      const backoff = await runner.waitForState('backoff', 5000);
      assert.match(backoff.reason, /^no answer on \/healthz within 700 ms; stopped; restart 1 in 1\d\d ms$/);
      assert.deepEqual([first.pid, first.helperPid, first.workerPid].filter(isAlive), [], 'whole first tree gone');
      const again = await runner.waitForState((s) => s.state === 'starting' && s.pid !== null && s.pid !== first.pid, 5000);
      await fakeOf(again.pid);
      assert.equal(again.restarts, 1);
      assert.deepEqual(states.slice(0, 4), ['starting', 'stopping', 'backoff', 'starting']);
    }));

  test('a SIGSTOPped gateway is detected after failureThreshold probes and replaced', () =>
    withFakeRunner({}, async ({ agent, runner, fakeOf }) => {
      runner.start();
      const first = await runner.waitForState('running', 5000);
      const pids = await fakeOf(first.pid);
      await postFake(agent.port, '/__fake/hang');
      const stopping = await runner.waitForState('stopping', 5000);
      assert.match(stopping.reason, /^no answer to 3 health probes in a row, hung; stopping pid \d+$/);
      const backoff = await runner.waitForState('backoff', 5000);
      assert.match(backoff.reason, /^stopped after 3 failed health probes in a row, hung after [\d.]+ m?s; restart 1 in 1\d\d ms$/);
      // SIGTERM then SIGCONT: the stopped gateway woke up and exited cleanly, no SIGKILL needed
      assert.equal(backoff.lastExit?.code, 0);
      assert.deepEqual([pids.pid, pids.helperPid, pids.workerPid].filter(isAlive), []);
      const second = await runner.waitForState((s) => s.state === 'running' && s.pid !== first.pid, 5000);
      await fakeOf(second.pid);
      assert.equal(second.restarts, 1);
    }));

  test('a gateway that ignores SIGTERM is SIGKILLed after the timeout, helper in its own session included', () =>
    withFakeRunner({ mode: 'ignore-sigterm' }, async ({ agent, runner, logger, fakeOf }) => {
      runner.start();
      const running = await runner.waitForState('running', 5000);
      const pids = await fakeOf(running.pid);
      await runner.stop({ timeoutMs: 500 });
      assert.equal(runner.status().state, 'stopped');
      assert.equal(runner.status().lastExit?.signal, 'SIGKILL');
      assert.equal(isAlive(pids.helperPid), false, 'helper (own session) is dead');
      assert.equal(isAlive(pids.workerPid), false, 'worker (main group) is dead');
      assert.equal(isAlive(pids.pid), false);
      assert.ok(logger.lines.some((l) => l.msg === 'SIGKILLed processes that outlived SIGTERM'));
      const log = await readFile(agent.spec.logFile, 'utf8');
      assert.match(log, /fake gateway ignoring SIGTERM/, 'SIGTERM came first');
      assert.match(log, /killed by SIGKILL/);
    }));

  test('the token never reaches gateway.log, whole or split across two writes', () =>
    withFakeRunner({ mode: 'print-token' }, async ({ agent, runner, fakeOf }) => {
      runner.start();
      const running = await runner.waitForState('running', 5000);
      await fakeOf(running.pid);
      const count = async (s: string) => (await readFile(agent.spec.logFile, 'utf8')).split(s).length - 1;
      await waitFor(async () => (await count('split token: <redacted> end')) === 1, { timeoutMs: 5000, what: 'split token line' });
      await postFake(agent.port, '/__fake/print-token');
      await waitFor(async () => (await count('split token: <redacted> end')) === 2, { timeoutMs: 5000, what: 'second split token line' });
      const log = await readFile(agent.spec.logFile, 'utf8');
      assert.equal(await count('token is <redacted>\n'), 2);
      assert.ok(!log.includes(agent.token), 'whole token absent');
      for (const part of [agent.token.slice(0, 12), agent.token.slice(-12), agent.token.slice(26, 38)]) assert.ok(!log.includes(part), `no piece ${part}`);
      assert.match(log, /fake gateway listening on \d+/);
    }));

  test('stopping while the gateway is still forking its helpers leaves nothing behind', () =>
    withFakeRunner({}, async ({ agent, runner }) => {
      // Stop at different moments of the boot: at spawn, at the first child, at the second.
      for (const children of [0, 1, 2, 1, 2]) {
        runner.start();
        const starting = await runner.waitForState((s) => s.state === 'starting' && s.pid !== null, 2000);
        const pid = starting.pid as number;
        if (children > 0) await waitFor(() => descendantsOf(pid).length >= children || !isAlive(pid), { timeoutMs: 5000, intervalMs: 1 });
        await runner.stop({ timeoutMs: 1000 });
        assert.deepEqual(processesWithEnv('OPENCLAW_CONFIG_PATH', agent.configPath), [], `nothing left (stopped at ${children} children)`);
      }
    }));
});
