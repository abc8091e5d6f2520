// End to end (fake gateway, built fleetd and fleetctl): `fleetctl doctor` on a healthy
// installation exits 0; each planted problem (a home at a bad mode, a stranger on a stopped
// agent's port, an orphan carrying an agent's environment, OpenClaw's lock file of a removed
// agent, a manifest edited but not reloaded) is found, named with its next step, and makes it
// exit 1; once repaired it exits 0 again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { lockDirOf, lockHashOf } from '../../src/doctor/lock-files.js';
import { waitFor } from '../../src/util/wait-for.js';
import { ctlText, agentHome, alive, cleanup, fakeInfo, fakeManifest, startFleetd, status, stopFleetd, tempDir, waitAllDead, waitForAgent, writeManifest, type Fleetd } from './harness.js';


describe('fleetctl doctor', () => {
  let dir: string;
  let f: Fleetd;
  let manifest: any;
  const seen: number[] = [];
  const problems = (json: any) => json.checks.filter((c: any) => c.level === 'warn' || c.level === 'fail');

  before(async () => {
    dir = await tempDir();
    manifest = fakeManifest({ acme: { agents: { one: {}, two: {} } } });
    f = await startFleetd(dir, manifest, { waitRunning: 2 });
    for (const a of ['acme/one', 'acme/two']) {
      const info = await fakeInfo(f.stateDir, a);
      seen.push(info.pid, info.helperPid, info.workerPid);
    }
  });

  after(async () => {
    if (f) assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);
    await cleanup(dir);
  });

  test('a healthy installation: exit 0, every kind of check present, none needing attention', async () => {
    const r = await f.ctl('doctor');
    assert.equal(r.code, 0, JSON.stringify(problems(r.json ?? { checks: [] }), null, 2) + r.stderr);
    assert.equal(r.json.attention, false);
    const ids = new Set(r.json.checks.map((c: any) => c.id));
    for (const id of ['versions', 'manifest', 'registry', 'disk', 'isolation-cgroups', 'isolation-users', 'files', 'lock-files', 'orphans', 'state', 'port']) assert.ok(ids.has(id), `check ${id} missing`);
    assert.deepEqual(problems(r.json), []);
    const people = await ctlText(f, 'doctor');
    assert.equal(people.code, 0);
    assert.match(people.stdout, /^acme\/one: ok \(\d+ checks\)$/m);
    assert.match(people.stdout, /^\d+ checks: \d+ ok, \d+ info, 0 warn, 0 fail$/m);
  });

  test('a home at a bad mode: fail with the chmod that fixes it; repaired, exit 0', async () => {
    const home = agentHome(f.stateDir, 'acme/one');
    await chmod(home, 0o755);
    try {
      const r = await f.ctl('doctor', 'acme/one', '--no-openclaw');
      assert.equal(r.code, 1);
      assert.deepEqual(problems(r.json).map((c: any) => [c.id, c.scope, c.level, c.next]), [['files', 'acme/one', 'fail', `chmod 0700 ${home}`]]);
      const people = await ctlText(f, 'doctor');
      assert.equal(people.code, 1);
      assert.match(people.stdout, new RegExp(`fail  ${home}: mode 0755, expected 0700`));
      assert.match(people.stdout, / - needs attention$/m);
    } finally {
      await chmod(home, 0o700);
    }
    assert.equal((await f.ctl('doctor', 'acme/one', '--no-openclaw')).code, 0);
  });

  test('a stranger on a stopped agent\'s port: fail naming the holder', async () => {
    const two = (await status(f)).find((a) => a.address === 'acme/two');
    assert.equal((await f.ctl('stop', 'agent', 'acme/two')).code, 0);
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(two.port, '127.0.0.1', resolve));
    try {
      const r = await f.ctl('doctor', 'acme/two', '--no-openclaw');
      assert.equal(r.code, 1);
      const [port] = problems(r.json);
      assert.equal(port.id, 'port');
      assert.match(port.detail, new RegExp(`held by pid ${process.pid} \\(node\\), which is not a process of this agent; the agent cannot start while it does`));
      assert.match(port.next, new RegExp(`ss -ltnp 'sport = :${two.port}'`));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.equal((await f.ctl('doctor', 'acme/two', '--no-openclaw')).code, 0);
    assert.equal((await f.ctl('start', 'agent', 'acme/two')).code, 0);
    const info = await fakeInfo(f.stateDir, 'acme/two');
    seen.push(info.pid, info.helperPid, info.workerPid);
  });

  test('an orphan with an agent\'s environment: fail with its pid; a session from a live parent is only information', async () => {
    const config = join(agentHome(f.stateDir, 'acme/one'), '.openclaw', 'openclaw.json');
    const env = { ...process.env, OPENCLAW_CONFIG_PATH: config };
    // double fork: the sleeper's parent exits at once, so it is re-parented to init like a gateway's leftover
    const pidFile = join(dir, 'orphan.pid');
    const fork = spawn('/bin/sh', ['-c', `sleep 120 & echo $! > ${pidFile}`], { env, stdio: 'ignore' });
    await new Promise((resolve) => fork.on('exit', resolve));
    const orphan = Number(readFileSync(pidFile, 'utf8').trim());
    seen.push(orphan);
    const session = spawn('sleep', ['120'], { env, stdio: 'ignore' });
    seen.push(session.pid!);
    try {
      await waitFor(() => alive(orphan), { timeoutMs: 5000, what: 'the orphan' });
      const r = await f.ctl('doctor');
      assert.equal(r.code, 1);
      const found = problems(r.json);
      assert.deepEqual(found.map((c: any) => [c.id, c.scope]), [['orphans', 'acme/one']]);
      assert.match(found[0].detail, new RegExp(`${orphan} \\(sleep\\)`));
      assert.doesNotMatch(found[0].detail, new RegExp(`\\b${session.pid} \\(`), 'the session is not an orphan');
      assert.match(found[0].next, new RegExp(`^kill -TERM ${orphan}`));
      const info = r.json.checks.find((c: any) => c.id === 'orphans' && c.level === 'info');
      assert.match(info.detail, new RegExp(`${session.pid} \\(sleep\\)`));
    } finally {
      process.kill(orphan, 'SIGKILL');
      session.kill('SIGKILL');
    }
    await waitAllDead([orphan, session.pid!]);
    assert.equal((await f.ctl('doctor')).code, 0);
  });

  test('OpenClaw\'s lock file of a removed agent: attention with the rm; a current agent\'s is fine', async () => {
    assert.equal((await f.ctl('add', 'agent', 'acme/gone')).code, 0);
    const info = await fakeInfo(f.stateDir, 'acme/gone');
    seen.push(info.pid, info.helperPid, info.workerPid);
    assert.equal((await f.ctl('remove', 'agent', 'acme/gone')).code, 0);
    const lockDir = lockDirOf(process.getuid!());
    await mkdir(lockDir, { recursive: true, mode: 0o700 });
    const stale = join(lockDir, `gateway-lifecycle.${lockHashOf(agentHome(f.stateDir, 'acme/gone'))}.lock.sqlite`);
    const current = join(lockDir, `gateway-lifecycle.${lockHashOf(agentHome(f.stateDir, 'acme/one'))}.lock.sqlite`);
    await writeFile(stale, '');
    await writeFile(current, '');
    try {
      const r = await f.ctl('doctor');
      assert.equal(r.code, 1);
      assert.deepEqual(problems(r.json).map((c: any) => [c.id, c.scope, c.level, c.next]), [['lock-files', 'acme/gone', 'warn', `rm ${stale}`]]);
    } finally {
      await rm(stale, { force: true });
      await rm(current, { force: true });
    }
    assert.equal((await f.ctl('doctor')).code, 0);
  });

  test('the manifest on disk: edited but not reloaded is attention; invalid fails; each says what to run', async () => {
    manifest.fleets.acme.agents.three = {};
    await writeManifest(dir, manifest);
    const pending = await f.ctl('doctor');
    assert.equal(pending.code, 1);
    const [m] = problems(pending.json);
    assert.equal(m.id, 'manifest');
    assert.match(m.detail, /2 change\(s\) are not applied yet: provision acme\/three, start acme\/three/);
    assert.equal(m.next, 'fleetctl reload --dry-run, then fleetctl reload');
    await writeManifest(dir, '{ version: 1, fleets: { acme: { agents: { Bad: {} } } } }');
    const invalid = await f.ctl('doctor');
    assert.equal(invalid.code, 1);
    assert.match(problems(invalid.json)[0].detail, /cannot be loaded now: .*fleets\.acme\.agents\.Bad/s);
    delete manifest.fleets.acme.agents.three;
    await writeManifest(dir, manifest);
    assert.equal((await f.ctl('doctor')).code, 0);
  });

  test('usage: an unknown agent is NOT_FOUND (exit 1), a malformed address a usage error (exit 2)', async () => {
    const unknown = await f.ctl('doctor', 'acme/nobody');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.json.error.code, 'NOT_FOUND');
    assert.equal((await f.ctl('doctor', 'Acme/x')).code, 2);
    const one = await f.ctl('doctor', 'acme/one');
    assert.equal(one.code, 0);
    assert.match(one.json.checks.find((c: any) => c.id === 'openclaw-doctor').detail, /not run: the agent runs gateway\.command/);
    assert.ok(one.json.checks.every((c: any) => c.scope === 'fleetd' || c.scope === 'acme/one'));
    await waitForAgent(f, 'acme/one', (a) => a.state === 'running');
  });
});
