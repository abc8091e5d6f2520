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
    const prune = await f.ctl('runtime', 'prune');
    assert.equal(prune.code, 0, prune.stderr);
    assert.deepEqual(prune.json, { removed: [], kept: ['0.0.1-does-not-exist'] }, 'a pinned version is never pruned');
    const remove = await f.ctl('runtime', 'remove', '0.0.1-does-not-exist');
    assert.equal(remove.code, 1);
    assert.equal(remove.json.error.code, 'REFUSED', 'in use by acme/pinned');
  } finally {
    assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('a runtime install that fails for now (registry unreachable) is retried with backoff, not given up', async () => {
  const dir = await tempDir();
  const manifest = fakeManifest({ acme: { agents: { plain: {}, pinned: { gateway: { openclaw: '2026.9.6' } } } } });
  (manifest as { runtimesDir: string }).runtimesDir = './runtimes'; // empty: forces an install
  // Port 9 (discard) on loopback: nothing listens, npm gets ECONNREFUSED at once.
  const env = { ...process.env, npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0', npm_config_fetch_retry_mintimeout: '100', npm_config_fetch_retry_maxtimeout: '200' };
  const f = await startFleetd(dir, manifest, { env });
  const seen: number[] = [];
  try {
    const first = await waitForAgent(f, 'acme/pinned', (a) => a.state === 'backoff' && /; restart \d+ in/.test(a.reason), 120_000);
    assert.match(first.reason, /^cannot launch: OpenClaw runtime 2026\.9\.6 could not be installed: /);
    assert.ok(first.nextStartAt > 0);
    const attempt = Number(/; restart (\d+) in/.exec(first.reason)![1]);
    const later = await waitForAgent(f, 'acme/pinned', (a) => Number(/; restart (\d+) in/.exec(a.reason)?.[1] ?? 0) > attempt, 120_000);
    assert.equal(later.state, 'backoff', 'still trying, never failed');
    const plain = await waitForAgent(f, 'acme/plain', (a) => a.state === 'running');
    seen.push(...(await fakePids(f.stateDir, plain.address)));
  } finally {
    assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});
