// Managed runtimes through fleetd: an install that fails puts only the agents that need it
// in `failed` (with npm's error), the others run; `fleetctl runtime install` reports it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, fakeManifest, fakePids, startFleetd, stopFleetd, tempDir, waitAllDead, waitForAgent } from './harness.js';

test('a runtime that cannot be installed fails its agents only, with npm\'s error; runtime install says why', async () => {
  const dir = await tempDir();
  const manifest = fakeManifest({
    acme: {
      agents: {
        plain: {},
        pinned: { gateway: { openclaw: '0.0.1-does-not-exist' } },
      },
    },
  });
  const f = await startFleetd(dir, manifest);
  const seen: number[] = [];
  try {
    const pinned = await waitForAgent(f, 'acme/pinned', (a) => a.state === 'failed', 120_000);
    assert.match(pinned.reason, /OpenClaw runtime 0\.0\.1-does-not-exist could not be installed/);
    assert.match(pinned.reason, /npm|No matching version|ETARGET|E404|not found/i, 'npm says what went wrong');
    assert.equal(pinned.pid, null);
    const plain = await waitForAgent(f, 'acme/plain', (a) => a.state === 'running');
    seen.push(...(await fakePids(f.stateDir, plain.address)));

    const install = await f.ctl('runtime', 'install', '0.0.1-does-not-exist');
    assert.equal(install.code, 1, install.stdout);
    assert.equal(install.json.error.code, 'RUNTIME_FAILED');
    const list = await f.ctl('runtime', 'list');
    assert.equal(list.code, 0);
    assert.deepEqual(list.json.runtimes, [], 'nothing half-installed is listed');
  } finally {
    assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});
