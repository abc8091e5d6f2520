// End to end against the REAL OpenClaw gateway (one at a time): `fleetctl openclaw` runs the
// agent's pinned OpenClaw as the agent; a value written with OpenClaw's own `config set`
// persists across `restart agent` (config ownership) and survives backup, purge and restore
// of a real agent whose state database is copied live. Run under the heavy-run lock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import JSON5 from 'json5';
import type { ProcRef } from '../../src/supervise/proc.js';
import { waitFor } from '../../src/util/wait-for.js';
import { agentHome, run, startFleetd, status, tempDir, FLEETCTL, type Fleetd } from './harness.js';
import { endRealSuite, FIRST_START_TIMEOUT_MS, OPENCLAW_VERSION, realManifest, trackTrees } from './real-harness.js';

const ADDRESS = 'acme/real';
const BOOT_MS = 180_000;

describe('operating a real OpenClaw agent', { timeout: 15 * 60_000 }, () => {
  const seen = new Map<string, ProcRef>();
  let dir = '';
  let f: Fleetd;
  const home = () => agentHome(f.stateDir, ADDRESS);
  /** fleetctl without --json, in the test dir. */
  const ctl = (...args: string[]) => run(process.execPath, [FLEETCTL, '--socket', f.socket, ...args], { timeoutMs: 240_000 });
  const track = async () => trackTrees(seen, (await status(f)).map((a) => a.pid));
  /** Polls status once a second (every fleetctl run costs CPU a booting gateway needs). */
  const waitRunning = () =>
    waitFor(async () => {
      const a = (await status(f)).find((x) => x.address === ADDRESS);
      if (a?.state === 'failed') throw new Error(`${ADDRESS} failed: ${a.reason}`);
      return a?.state === 'running' ? a : undefined;
    }, { timeoutMs: BOOT_MS, intervalMs: 1000, what: `${ADDRESS} running` });

  before(async () => {
    dir = await tempDir();
    f = await startFleetd(dir, realManifest({}));
    const added = await f.ctl('add', 'agent', ADDRESS);
    assert.equal(added.code, 0, added.stderr + added.stdout);
    await waitFor(async () => (await status(f)).find((a) => a.address === ADDRESS)?.state === 'running', { timeoutMs: FIRST_START_TIMEOUT_MS, intervalMs: 1000, what: 'the real gateway' });
    await track();
  }, { timeout: FIRST_START_TIMEOUT_MS + 60_000 });

  after(() => endRealSuite(f, seen.values(), dir));

  test('fleetctl openclaw F/A --version prints the pinned version', async () => {
    const r = await ctl('openclaw', ADDRESS, '--version');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`OpenClaw ${OPENCLAW_VERSION.replace(/\./g, '\\.')}\\b`));
  });

  test('a value set with OpenClaw\'s own config set persists across restart agent, and config diff calls it OpenClaw\'s', async () => {
    const set = await ctl('openclaw', ADDRESS, 'config', 'set', 'agents.defaults.heartbeat.every', '2h');
    assert.equal(set.code, 0, set.stderr + set.stdout);
    const diff = await f.ctl('config', 'diff', ADDRESS);
    assert.ok(diff.json.openclaw.some((k: any) => k.path.join('.') === 'agents.defaults.heartbeat'), JSON.stringify(diff.json));
    assert.deepEqual(diff.json.changes, [], 'OpenClaw\'s write collides with nothing of the manifest');
    const restart = await f.ctl('restart', 'agent', ADDRESS);
    assert.equal(restart.code, 0, restart.stderr);
    await waitRunning();
    await track();
    const get = await ctl('openclaw', ADDRESS, 'config', 'get', 'agents.defaults.heartbeat.every');
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout.trim(), '2h');
  });

  test('backup (live, the state database through SQLite\'s backup API), purge, restore: the value and the token come back, the agent runs', async () => {
    const token = (await f.ctl('token', ADDRESS)).json.token as string;
    const archive = join(dir, 'real.tar.gz');
    const b = await f.ctl('backup', ADDRESS, '-o', archive);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.json.agentWasRunning, true);
    assert.equal(b.json.openclaw, OPENCLAW_VERSION);
    assert.ok(
      b.json.databases.some((d: any) => d.path === 'home/.openclaw/state/openclaw.sqlite' && d.method === 'sqlite-backup'),
      JSON.stringify(b.json.databases),
    );
    assert.equal((await stat(archive)).mode & 0o777, 0o600);

    const removed = await f.ctl('remove', 'agent', ADDRESS, '--purge');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(existsSync(home()), false);

    const r = await f.ctl('restore', ADDRESS, archive);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(r.json.created, true);
    await waitRunning();
    await track();
    assert.equal((await f.ctl('token', ADDRESS)).json.token, token);
    const get = await ctl('openclaw', ADDRESS, 'config', 'get', 'agents.defaults.heartbeat.every');
    assert.equal(get.stdout.trim(), '2h', get.stderr);
    const config = JSON5.parse(await readFile(join(home(), '.openclaw', 'openclaw.json'), 'utf8'));
    assert.equal(config.gateway.port, r.json.port);
  });

  test('logs --openclaw reads OpenClaw\'s own JSON log, without the token', async () => {
    const token = (await f.ctl('token', ADDRESS)).json.token as string;
    const r = await f.ctl('logs', ADDRESS, '--openclaw', '-n', '20');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.json.lines.length > 0, 'the gateway logged something');
    for (const line of r.json.lines) assert.doesNotThrow(() => JSON.parse(line), line);
    assert.equal(r.stdout.includes(token), false);
  });
});
