// The readiness watch end to end: a runner launching the fake gateway under the native shim,
// with fleetd's real probes. Once the gateway runs and is ready, its shim makes the /readyz
// requests and fleetd none; a gateway that stops being ready is seen by the shim and judged
// by fleetd's own rounds from there; ready again, the shim watches again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { waitFor } from '../util/wait-for.js';
import { probeGateway, type ProbeFn } from './probe.js';
import { createShimSpawn } from './shim-spawn.js';
import { executableOrNull, NATIVE_SHIM_PATH } from './shim-client.js';
import { postFake, withFakeRunner } from '../../test/support/testkit.js';

/** fleetd's real probe, counting its rounds (their phases, in order). */
function countingProbe(): { calls: string[]; probe: ProbeFn } {
  const calls: string[] = [];
  const probe: ProbeFn = (port, timeoutMs, phase) => {
    calls.push(phase ?? 'start');
    return probeGateway(port, timeoutMs, phase);
  };
  return { calls, probe };
}

/** Requests the fake gateway on `port` has served per route. */
async function served(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/__fake/requests`);
  return (await res.json()) as Record<string, number>;
}

test('a ready gateway under the native shim: the shim asks /readyz every interval, fleetd asks nothing; a miss brings fleetd back', () => {
  assert.ok(executableOrNull(NATIVE_SHIM_PATH), `the native shim is built (${NATIVE_SHIM_PATH})`);
  const { calls, probe } = countingProbe();
  const health = { intervalMs: 100, timeoutMs: 1000, failureThreshold: 3, startupTimeoutMs: 20_000 };
  return withFakeRunner(
    { spec: { health } },
    async ({ agent, runner, logger }) => {
      runner.start();
      await runner.waitForState('running', 15_000);
      // the round that found it started and ready handed it over (a steady round would too)
      await waitFor(() => runner.status().health.ready === true, { timeoutMs: 5000, what: 'ready' });
      const ours = calls.length;
      const readyz = (await served(agent.port))['GET /readyz'] ?? 0;
      await waitFor(async () => ((await served(agent.port))['GET /readyz'] ?? 0) >= readyz + 5, { timeoutMs: 10_000, what: 'five checks of the shim' });
      assert.equal(calls.length, ours, 'fleetd probed nothing while its shim watched');
      assert.equal(runner.status().health.ready, true);

      await postFake(agent.port, '/__fake/ready?ok=0');
      await waitFor(() => runner.status().health.ready === false, { timeoutMs: 5000, what: 'unready seen' });
      assert.deepEqual(runner.status().health.failing, ['fake-channel']);
      assert.equal(runner.status().state, 'running', 'not ready is not a hang');
      assert.ok(logger.lines.some((l) => /the shim saw \/readyz fail/.test(l.msg ?? '')), 'the miss came from the shim');
      const probing = calls.length;
      await waitFor(() => calls.length >= probing + 3, { timeoutMs: 5000, what: 'fleetd probing the unready gateway' });

      await postFake(agent.port, '/__fake/ready?ok=1');
      await waitFor(() => runner.status().health.ready === true, { timeoutMs: 5000, what: 'ready again' });
      const handedBack = calls.length;
      const readyzAgain = (await served(agent.port))['GET /readyz'] ?? 0;
      await waitFor(async () => ((await served(agent.port))['GET /readyz'] ?? 0) >= readyzAgain + 5, { timeoutMs: 10_000, what: 'the shim watching again' });
      assert.ok(calls.length <= handedBack + 1, `fleetd probed ${calls.length - handedBack} more times after the gateway was ready again`);
    },
    { spawn: createShimSpawn(), probe },
  );
});

test('a shim that stops answering while it watches (SIGSTOP): fleetd probes the gateway itself within about failureThreshold intervals', () => {
  const { calls, probe } = countingProbe();
  const health = { intervalMs: 100, timeoutMs: 300, failureThreshold: 2, startupTimeoutMs: 20_000 };
  return withFakeRunner(
    { spec: { health } },
    async ({ agent, runner, logger }) => {
      runner.start();
      await runner.waitForState('running', 15_000);
      await waitFor(() => runner.status().health.ready === true, { timeoutMs: 5000, what: 'ready' });
      const ours = calls.length;
      const readyz = (await served(agent.port))['GET /readyz'] ?? 0;
      await waitFor(async () => ((await served(agent.port))['GET /readyz'] ?? 0) >= readyz + 3, { timeoutMs: 10_000, what: 'the shim checking' });
      assert.equal(calls.length, ours);
      const { shimPid } = JSON.parse(await readFile(join(dirname(agent.spec.logFile), 'shim.json'), 'utf8')) as { shimPid: number };
      process.kill(shimPid, 'SIGSTOP');
      try {
        await waitFor(() => calls.length >= ours + 2, { timeoutMs: 10_000, what: 'fleetd probing the gateway itself' });
        assert.ok(logger.lines.some((l) => /the shim watching the gateway did not answer/.test(l.msg ?? '')));
        assert.equal(runner.status().state, 'running');
      } finally {
        process.kill(shimPid, 'SIGCONT');
      }
    },
    { spawn: createShimSpawn(), probe },
  );
});
