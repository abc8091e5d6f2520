// Concurrency seen from outside: changes sent at once are applied one at a time (nothing
// lost, no block given twice), at most startConcurrency gateways boot at once, and SIGINT
// stops everything like SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fakeManifest, fakePids, FLEETD, run, socketStatus, waitAllDead, waitForRunning, withFleetd, tempDir, cleanup, startFleetd } from './harness.js';
import { REPO } from '../support/paths.js';

test('concurrent adds and removes are applied one at a time: distinct blocks, a consistent registry', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { alpha: {} } } }), { waitRunning: 1 }, async (f, seen) => {
    const names = ['b1', 'b2', 'b3', 'b4', 'b5'];
    const results = await Promise.all(names.map((n) => f.ctl('add', 'agent', `acme/${n}`)));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const ports = results.map((r) => r.json.agent.port as number);
    assert.equal(new Set(ports).size, names.length, `distinct ports: ${ports.join(',')}`);
    // remove two and add two more, all at once
    const mixed = await Promise.all([f.ctl('remove', 'agent', 'acme/b2'), f.ctl('remove', 'agent', 'acme/b4'), f.ctl('add', 'agent', 'acme/c1'), f.ctl('add', 'agent', 'acme/c2')]);
    for (const r of mixed) assert.equal(r.code, 0, r.stderr);
    const agents = await waitForRunning(f, 6);
    assert.deepEqual(agents.map((a) => a.address), ['acme/alpha', 'acme/b1', 'acme/b3', 'acme/b5', 'acme/c1', 'acme/c2']);
    const registry = JSON.parse(await readFile(join(f.stateDir, 'registry.json'), 'utf8'));
    assert.deepEqual(Object.keys(registry.agents).sort(), agents.map((a) => a.address));
    const blocks = Object.values(registry.agents as Record<string, { block: number }>).map((e) => e.block);
    assert.equal(new Set(blocks).size, blocks.length, 'no block held twice');
    for (const a of agents) seen.push(...(await fakePids(f.stateDir, a.address)));
  });
});

test('at most startConcurrency gateways boot at once', async () => {
  const agents = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((n) => [n, { env: { FAKE_MODE: 'slow-start:600' } }]));
  const manifest = { ...fakeManifest({ acme: { agents } }), startConcurrency: 2 };
  const dir = await tempDir();
  const f = await startFleetd(dir, manifest);
  const seen: number[] = [];
  try {
    let peak = 0;
    let sawWaiting = false;
    // Sample over the socket until all run: a booting gateway is `starting` with a pid.
    const deadline = Date.now() + 60_000;
    for (;;) {
      assert.ok(Date.now() < deadline, 'all five agents should be running within 60 s');
      const list = await socketStatus(f);
      const booting = list.filter((a) => a.state === 'starting' && a.pid !== null).length;
      peak = Math.max(peak, booting);
      if (list.some((a) => a.state === 'starting' && a.pid === null && /start slot/.test(a.reason))) sawWaiting = true;
      if (list.length === 5 && list.every((a) => a.state === 'running')) break;
      assert.ok(!list.some((a) => a.state === 'failed'), JSON.stringify(list));
    }
    assert.ok(peak <= 2, `peak ${peak} gateways booting at once`);
    assert.ok(peak >= 1);
    assert.ok(sawWaiting, 'the others waited for a start slot, and said so');
    for (const n of ['a', 'b', 'c', 'd', 'e']) seen.push(...(await fakePids(f.stateDir, `acme/${n}`)));
  } finally {
    f.child.kill('SIGINT'); // Ctrl-C: the same clean stop as SIGTERM
    assert.equal(await f.exited, 0);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('fleetd --version prints the package version', async () => {
  const res = await run(process.execPath, [FLEETD, '--version']);
  assert.equal(res.code, 0);
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'));
  assert.equal(res.stdout.trim(), pkg.version);
});
