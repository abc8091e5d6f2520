// The README's main job for real: fleets.example.json5, as shipped (only runtimesDir points
// at the shared runtime cache so the ~850 MB install happens once per machine), brings its
// three enabled agents up as real OpenClaw gateways, keeps the disabled one stopped with its
// block, and SIGTERM leaves nothing behind. This also proves that every config key the
// example sets is one OpenClaw accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import JSON5 from 'json5';
import type { ProcRef } from '../../src/supervise/proc.js';
import { defaultRuntimeCacheDir } from '../../src/runtime/cache-dir.js';
import { waitFor } from '../../src/util/wait-for.js';
import { cleanup, REPO, startFleetd, status, stopFleetd, tempDir } from './harness.js';
import { FIRST_START_TIMEOUT_MS, trackTrees, waitRefsDead } from './real-harness.js';

test('fleets.example.json5 brings its agents up as real gateways; SIGTERM leaves nothing', { timeout: 10 * 60_000 }, async (t) => {
  const example = JSON5.parse(await readFile(join(REPO, 'fleets.example.json5'), 'utf8')) as Record<string, unknown>;
  const dir = await tempDir();
  const f = await startFleetd(dir, { ...example, runtimesDir: defaultRuntimeCacheDir(), stateDir: './state', socket: './fleetd.sock' });
  const seen = new Map<string, ProcRef>();
  try {
    const started = Date.now();
    const agents = await waitFor(
      async () => {
        const list = await status(f);
        assert.ok(!list.some((a) => a.state === 'failed'), `an agent failed: ${JSON.stringify(list.filter((a) => a.state === 'failed'))}`);
        return list.filter((a) => a.state === 'running').length === 3 ? list : undefined;
      },
      { timeoutMs: FIRST_START_TIMEOUT_MS, intervalMs: 1000, what: 'the example fleet to run' },
    );
    t.diagnostic(`3 real gateways running ${((Date.now() - started) / 1000).toFixed(1)} s after fleetd answered`);
    assert.deepEqual(
      agents.map((a) => [a.address, a.state]),
      [
        ['acme/korax', 'running'],
        ['acme/vesna', 'running'],
        ['ops/canary', 'stopped'],
        ['ops/watch', 'running'],
      ],
    );
    const ports = agents.map((a) => a.port);
    assert.equal(new Set(ports).size, 4, 'the disabled agent holds a block of its own');
    for (const a of agents.filter((x) => x.state === 'running')) {
      const res = await fetch(`http://127.0.0.1:${a.port}/healthz`);
      assert.equal(res.status, 200, `${a.address} /healthz`);
    }
    trackTrees(seen, agents.map((a) => a.pid));
    assert.ok(seen.size >= 6, `three gateway trees tracked (${seen.size} processes)`);
  } finally {
    assert.equal(await stopFleetd(f), 0);
    await waitRefsDead(seen.values(), 15_000);
    await cleanup(dir);
  }
});
