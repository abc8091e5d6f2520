// A launch that cannot join its cgroup, through a whole runner: the native shim's child (and
// spawnProcess's `/bin/sh` step, the Node path) ends with 126 before the gateway executes, and
// the runner's reason says why with the file, where `fleetctl status` shows it (not only in
// the agent's log).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../util/wait-for.js';
import { createShimSpawn } from './shim-spawn.js';
import { executableOrNull, NATIVE_SHIM_PATH } from './shim-client.js';
import { spawnGateway } from './spawn-gateway.js';
import { readFakePids, withFakeRunner } from '../../test/support/testkit.js';
import type { SpawnFn } from './spawn-gateway.js';

const MISSING = '/nonexistent-fleetd-join/agents/test@join/cgroup.procs';

const spawners: Array<{ name: string; spawn: () => SpawnFn; skip?: string }> = [
  { name: 'the native shim', spawn: () => createShimSpawn(), ...(executableOrNull(NATIVE_SHIM_PATH) ? {} : { skip: `no native shim at ${NATIVE_SHIM_PATH}` }) },
  { name: 'the Node shim', spawn: () => createShimSpawn({ native: null }) },
  { name: 'a direct spawn (the /bin/sh step)', spawn: () => spawnGateway },
];

for (const { name, spawn, skip } of spawners) {
  test(`${name}: a cgroup that cannot be joined is an exit 126 whose reason names the file, and the gateway never ran`, { ...(skip ? { skip } : {}) }, () =>
    withFakeRunner(
      { spec: { cgroupProcs: [MISSING], restart: { initialDelayMs: 60_000, factor: 2, maxDelayMs: 60_000, resetAfterMs: 60_000, noRestartExitCodes: [78] } } },
      async ({ runner, agent }) => {
        runner.start();
        const status = await waitFor(() => {
          const s = runner.status();
          return s.lastExit !== null && s.state !== 'starting' ? s : undefined;
        }, { timeoutMs: 15_000, what: 'the launch to end' });
        assert.equal(status.lastExit?.code, 126, JSON.stringify(status));
        assert.match(status.reason, /exited with code 126 after .*: it could not join its cgroup \(cannot write \/nonexistent-fleetd-join\/agents\/test@join\/cgroup\.procs: [^)]+\)/, status.reason);
        assert.equal(await readFakePids(agent.home), undefined, 'the fake gateway never ran (it writes its pids at start)');
        await runner.stop();
      },
      { spawn: spawn() },
    ));
}
