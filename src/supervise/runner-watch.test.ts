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
import { executableOrNull, NATIVE_SHIM_PATH, type ShimClientDeps } from './shim-client.js';
import { postFake, withFakeRunner, type FakeRunnerContext } from '../../test/support/testkit.js';
import type { LaunchSpec } from './types.js';

/** fleetd's real probe, counting its rounds. */
function countingProbe(): { calls: string[]; probe: ProbeFn } {
  const calls: string[] = [];
  const probe: ProbeFn = (port, timeoutMs) => {
    calls.push('round');
    return probeGateway(port, timeoutMs);
  };
  return { calls, probe };
}

/** Requests the fake gateway on `port` has served per route. */
async function served(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/__fake/requests`);
  return (await res.json()) as Record<string, number>;
}

/** Waits until the shim has served `checks` more /readyz requests, and asserts fleetd's probe made none meanwhile. */
async function shimChecks(port: number, calls: readonly string[], checks: number): Promise<void> {
  const ours = calls.length;
  const before = (await served(port))['GET /readyz'] ?? 0;
  await waitFor(async () => ((await served(port))['GET /readyz'] ?? 0) >= before + checks, { timeoutMs: 10_000, what: `${checks} checks of the shim` });
  assert.equal(calls.length, ours, 'fleetd probed nothing while its shim watched');
}

/** Runs `body` with a runner launching the fake gateway under the native shim with `health`, once running, ready and watched by its shim (`calls`: fleetd's probe rounds). */
function withWatchedGateway(health: LaunchSpec['health'], body: (ctx: FakeRunnerContext & { calls: string[] }) => Promise<void>, shimDeps: Partial<ShimClientDeps> = {}): Promise<void> {
  assert.ok(executableOrNull(NATIVE_SHIM_PATH), `the native shim is built (${NATIVE_SHIM_PATH})`);
  const { calls, probe } = countingProbe();
  return withFakeRunner(
    { spec: { health } },
    async (ctx) => {
      ctx.runner.start();
      await ctx.runner.waitForState('running', 15_000);
      // the round that found it started and ready handed it over (a steady round would too)
      await waitFor(() => ctx.runner.status().health.ready === true, { timeoutMs: 5000, what: 'ready' });
      await shimChecks(ctx.agent.port, calls, 3);
      await body({ ...ctx, calls });
    },
    { spawn: createShimSpawn(shimDeps), probe },
  );
}

test('a ready gateway under the native shim: the shim asks /readyz every interval, fleetd asks nothing; a miss brings fleetd back', () =>
  withWatchedGateway({ intervalMs: 100, timeoutMs: 1000, failureThreshold: 3, startupTimeoutMs: 20_000 }, async ({ agent, runner, logger, calls }) => {
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
    await shimChecks(agent.port, calls, 5);
  }));

test('a shim that stops answering while it watches (SIGSTOP): fleetd probes the gateway itself within about failureThreshold intervals', () =>
  withWatchedGateway({ intervalMs: 100, timeoutMs: 300, failureThreshold: 2, startupTimeoutMs: 20_000 }, async ({ agent, runner, logger, calls }) => {
    const ours = calls.length;
    const { shimPid } = JSON.parse(await readFile(join(dirname(agent.spec.logFile), 'shim.json'), 'utf8')) as { shimPid: number };
    process.kill(shimPid, 'SIGSTOP');
    try {
      await waitFor(() => calls.length >= ours + 2, { timeoutMs: 10_000, what: 'fleetd probing the gateway itself' });
      assert.ok(logger.lines.some((l) => /the shim watching the gateway did not answer/.test(l.msg ?? '')));
      assert.equal(runner.status().state, 'running');
    } finally {
      process.kill(shimPid, 'SIGCONT');
    }
  }));

/** The shim's pid, from its record. */
async function shimPidOf(agent: FakeRunnerContext['agent']): Promise<number> {
  return (JSON.parse(await readFile(join(dirname(agent.spec.logFile), 'shim.json'), 'utf8')) as { shimPid: number }).shimPid;
}

/** Waits for a stretch of `checks` checks by the shim with no probe of fleetd's (a handover may take a round or two to settle). */
async function oneSideChecks(port: number, calls: readonly string[], checks: number): Promise<void> {
  let last: unknown = null;
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      return await shimChecks(port, calls, checks);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

test('a shim stopped past the time fleetd waits for its answers: status says so, and once it answers again exactly one side checks (the shim, handed over again)', () =>
  withWatchedGateway(
    // a generous probe timeout: on a loaded host a slow probe must not count toward a hang here
    { intervalMs: 100, timeoutMs: 1000, failureThreshold: 5, startupTimeoutMs: 20_000 },
    async ({ agent, runner, calls }) => {
      const ours = calls.length;
      const shimPid = await shimPidOf(agent);
      process.kill(shimPid, 'SIGSTOP');
      try {
        await waitFor(() => /its shim does not answer/.test(runner.status().health.holder ?? ''), { timeoutMs: 10_000, what: 'status naming the silent shim' });
        // fleetd's own rounds, at least 100 ms apart, go on well past the 1 s its requests to the shim wait
        await waitFor(() => calls.length >= ours + 25, { timeoutMs: 20_000, what: 'fleetd probing the gateway itself' });
        assert.equal(runner.status().state, 'running');
      } finally {
        process.kill(shimPid, 'SIGCONT');
      }
      await waitFor(() => runner.status().health.holder === undefined, { timeoutMs: 10_000, what: 'the shim answering again' });
      await oneSideChecks(agent.port, calls, 4);
      assert.equal(runner.status().health.ready, true);
    },
    { requestTimeoutMs: 1000 },
  ));

test('a gateway killed while its shim is stopped: the hang stop ends the shim, records the real SIGKILL, and the next start is not refused', () =>
  withWatchedGateway({ intervalMs: 100, timeoutMs: 300, failureThreshold: 2, startupTimeoutMs: 20_000 }, async ({ agent, runner, logger }) => {
    const shimPid = await shimPidOf(agent);
    const gatewayPid = runner.status().pid!;
    process.kill(shimPid, 'SIGSTOP');
    try {
      process.kill(gatewayPid, 'SIGKILL');
      await waitFor(() => runner.status().state === 'backoff', { timeoutMs: 20_000, what: 'the hang stop' });
      const status = runner.status();
      assert.equal(status.lastExit?.signal, 'SIGKILL', 'the exit the kernel kept in the zombie');
      assert.match(status.reason, new RegExp(`shim pid ${shimPid} did not answer: fleetd SIGKILLed it`));
      await waitFor(() => runner.status().state === 'running' && runner.status().pid !== gatewayPid, { timeoutMs: 20_000, what: 'the restart running' });
      assert.ok(!logger.lines.some((l) => /already holds/.test(l.msg ?? '')), 'no start refused by the stopped shim');
    } finally {
      try {
        process.kill(shimPid, 'SIGCONT');
      } catch {
        // gone: what the fix does
      }
    }
  }));
