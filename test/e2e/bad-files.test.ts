// Bad files on disk: fleetd refuses with a message naming the file, and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanup, fakeManifest, fakePids, FLEETD, run, startFleetd, stopFleetd, tempDir, waitAllDead, waitForAgent, waitForRunning, writeManifest } from './harness.js';

test('a corrupt registry stops fleetd at start with the file named, and the file is left as it was', async () => {
  const dir = await tempDir();
  const manifestPath = await writeManifest(dir, fakeManifest({ acme: { agents: { alpha: {} } } }));
  const state = join(dir, 'state');
  await mkdir(state, { recursive: true, mode: 0o700 });
  const garbage = '{"version":1,"agents":{"acme/alpha":{"block":"zero"}}}';
  await writeFile(join(state, 'registry.json'), garbage, { mode: 0o600 });
  const res = await run(process.execPath, [FLEETD, 'start', '--manifest', manifestPath], { timeoutMs: 30_000 });
  assert.equal(res.code, 1);
  assert.ok(res.stderr.includes(join(state, 'registry.json')), res.stderr);
  assert.equal(await readFile(join(state, 'registry.json'), 'utf8'), garbage, 'never overwritten');
  assert.ok(!existsSync(join(state, 'fleets')), 'nothing provisioned');
  assert.ok(!existsSync(join(dir, 'fleetd.sock')), 'no socket left');
  await cleanup(dir);
});

test('an invalid manifest at start creates nothing and lists every problem', async () => {
  const dir = await tempDir();
  const manifestPath = await writeManifest(dir, '{ version: 1, stateDir: "./state", fleets: { Acme: { agents: { x: { config: { gateway: { port: 1 } } } } } }, portz: {} }');
  const res = await run(process.execPath, [FLEETD, 'start', '--manifest', manifestPath], { timeoutMs: 30_000 });
  assert.equal(res.code, 1);
  const lines = res.stderr.trim().split('\n');
  assert.ok(lines.some((l) => l.includes('fleets.Acme: id must match')), res.stderr);
  assert.ok(lines.some((l) => l.includes('gateway.port: managed by fleetd')), res.stderr);
  assert.ok(lines.some((l) => l.includes('portz') && l.includes('did you mean "ports"')), res.stderr);
  assert.ok(!existsSync(join(dir, 'state')), 'no state dir made');
  await cleanup(dir);
});

test('a damaged openclaw.json is never overwritten: the agent fails naming file:line:col; once repaired it starts with its token and port', async () => {
  const dir = await tempDir();
  const manifest = fakeManifest({ acme: { agents: { alpha: {} } } });
  let f = await startFleetd(dir, manifest, { waitRunning: 1 });
  const token = (await f.ctl('token', 'acme/alpha')).json.token;
  const seen = await fakePids(f.stateDir, 'acme/alpha');
  assert.equal(await stopFleetd(f), 0);
  await waitAllDead(seen);
  const configPath = join(f.stateDir, 'fleets/acme/alpha/.openclaw/openclaw.json');
  // OpenClaw's file may hold what only OpenClaw knows (channel tokens...): fleetd must not replace it blindly
  await writeFile(configPath, '{ "gateway": ');
  f = await startFleetd(dir, manifest);
  try {
    const alpha = await waitForAgent(f, 'acme/alpha', (a) => a.state === 'failed');
    assert.match(alpha.reason, new RegExp(`${configPath.replace(/[.]/g, '\\.')}:1:14: not valid JSON5`));
    assert.equal(await readFile(configPath, 'utf8'), '{ "gateway": ', 'left as it was');
    await unlink(configPath); // the operator's repair (or `openclaw doctor --fix` as the agent)
    assert.equal((await f.ctl('start', 'agent', 'acme/alpha')).code, 0);
    const [running] = await waitForRunning(f, 1);
    const config = JSON.parse(await readFile(configPath, 'utf8'));
    assert.equal(config.gateway.auth.token, token);
    assert.equal(config.gateway.port, running.port);
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('a manifest gone at reload: MANIFEST_NOT_FOUND whose next step fits a running fleetd (no --manifest, which fleetctl lacks); nothing changed', async () => {
  const dir = await tempDir();
  const f = await startFleetd(dir, fakeManifest({ acme: { agents: { alpha: {} } } }), { waitRunning: 1 });
  const seen = await fakePids(f.stateDir, 'acme/alpha');
  try {
    await unlink(f.manifestPath);
    for (const args of [['reload'], ['reload', '--dry-run']]) {
      const r = await f.ctl(...args);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.json.error.code, 'MANIFEST_NOT_FOUND');
      assert.match(r.json.error.message, /cannot read the manifest .*fleets\.json5: no such file; put it back there: a running fleetd re-reads the file it was started with/);
      assert.doesNotMatch(r.json.error.message, /pass --manifest/);
    }
    const [alpha] = await waitForRunning(f, 1);
    assert.equal(alpha.pid, seen[0], 'the agent kept running');
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});
