// End to end with the built fleetd + fleetctl and the fake gateway: the operator's view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readFile, rename, symlink, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { waitFor } from '../../src/util/wait-for.js';
import { alive, cleanup, fakeInfo, fakeManifest, fakePids, run, startFleetd, status, stopFleetd, tempDir, waitAllDead, waitForAgent, waitForRunning, withFleetd, writeManifest, FLEETCTL, FLEETD } from './harness.js';

const twoAgents = () => fakeManifest({ acme: { agents: { alpha: {}, beta: {} } } });

test('fleetd brings the manifest agents up on stable ports, and SIGTERM leaves no process behind', async () => {
  const dir = await tempDir();
  const manifest = twoAgents();
  const f = await startFleetd(dir, manifest, { waitRunning: 2 });
  const seen: number[] = [];
  try {
    const agents = await status(f);
    const base = (manifest.ports as { base: number }).base;
    assert.deepEqual(agents.map((a) => [a.address, a.state, a.port]), [
      ['acme/alpha', 'running', base],
      ['acme/beta', 'running', base + 100],
    ]);
    for (const a of agents) {
      const info = await fakeInfo(f.stateDir, a.address);
      assert.equal(info.cwd, a.home, 'cwd is the agent home');
      assert.ok(info.stdin === null || info.stdin === '/dev/null', `stdin closed, found ${info.stdin}`);
      assert.equal(a.health.live, true);
      assert.ok(a.pid > 0 && alive(a.pid));
      // tree RSS comes from fleetd's shared /proc scan (at most 1 s old): a gateway younger than it counts from the next one
      const rss = await waitFor(async () => ((await status(f)).find((x) => x.address === a.address)?.rssBytes ?? 0) || undefined, { timeoutMs: 5000, what: `${a.address}'s tree RSS in status` });
      assert.ok(rss > 0, 'rss of the process tree is reported');
      seen.push(...(await fakePids(f.stateDir, a.address)));
    }
    // permissions of what fleetd made
    assert.equal((await stat(f.stateDir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(f.stateDir, 'registry.json'))).mode & 0o777, 0o600);
    assert.equal((await stat(f.socket)).mode & 0o777, 0o600);
    assert.equal((await stat(join(f.stateDir, 'fleets/acme/alpha'))).mode & 0o777, 0o700);
    assert.equal((await stat(join(f.stateDir, 'fleets/acme/alpha/.openclaw/openclaw.json'))).mode & 0o777, 0o600);
    // the token never reaches fleetd's own log
    const token = (await f.ctl('token', 'acme/alpha')).json.token;
    assert.match(token, /^[0-9a-f]{64}$/);
    // `token` is the one command that shows it: not status, restart, reload, logs, nor fleetd's log
    const outputs = await Promise.all([
      f.ctl('status'),
      run(process.execPath, [FLEETCTL, '--socket', f.socket, 'status']),
      f.ctl('restart', 'agent', 'acme/alpha'),
      f.ctl('reload', '--dry-run'),
      f.ctl('logs', 'acme/alpha', '-n', '1000'),
    ]);
    for (const o of outputs) {
      assert.equal(o.code, 0, o.stderr);
      assert.ok(!o.stdout.includes(token) && !o.stderr.includes(token), 'token leaked in a command output');
    }
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
    assert.ok(!f.output().includes(token), 'token must not appear in fleetd output');
  } finally {
    assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('a second fleetd on the same state dir is refused; fleetctl without fleetd exits 3', async () => {
  const dir = await tempDir();
  const f = await startFleetd(dir, twoAgents(), { waitRunning: 2 });
  const pids = (await status(f)).map((a) => a.pid);
  try {
    const second = await run(process.execPath, [FLEETD, 'start', '--manifest', f.manifestPath], { timeoutMs: 30_000 });
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, new RegExp(`fleetd \\(pid ${f.child.pid}\\) already runs`));
    assert.deepEqual((await status(f)).map((a) => a.pid), pids, 'the first fleetd and its gateways are untouched');
  } finally {
    await stopFleetd(f);
    await waitAllDead(pids);
  }
  const down = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'status']);
  assert.equal(down.code, 3);
  assert.match(down.stderr, /fleetd start --manifest/);
  await cleanup(dir);
});

test('add agent persists across a fleetd restart with the same port and token; remove rules', async () => {
  const dir = await tempDir();
  const manifest = twoAgents();
  let f = await startFleetd(dir, manifest, { waitRunning: 2 });
  const seen: number[] = [];
  try {
    const added = await f.ctl('add', 'agent', 'acme/gamma', '--set', 'agents.defaults.model.primary="anthropic/claude-sonnet-4-6"', '--env', 'FOO=bar');
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.json.agent.state, 'running');
    const port = added.json.agent.port;
    assert.equal(port, (manifest.ports as { base: number }).base + 200);
    const token = (await f.ctl('token', 'acme/gamma')).json.token;
    const config = JSON.parse(await readFile(join(f.stateDir, 'fleets/acme/gamma/.openclaw/openclaw.json'), 'utf8'));
    assert.equal(config.agents.defaults.model.primary, 'anthropic/claude-sonnet-4-6');
    assert.equal(config.gateway.auth.token, token);

    const again = await f.ctl('add', 'agent', 'acme/gamma');
    assert.equal(again.code, 1);
    assert.equal(again.json.error.code, 'CONFLICT');
    const managed = await f.ctl('add', 'agent', 'acme/delta', '--set', 'gateway.port=1234');
    assert.equal(managed.code, 1);
    assert.match(managed.json.error.message, /gateway\.port: managed by fleetd/);

    const refused = await f.ctl('remove', 'agent', 'acme/alpha');
    assert.equal(refused.code, 1);
    assert.equal(refused.json.error.code, 'REFUSED');
    assert.ok(refused.json.error.message.includes(f.manifestPath), 'names the manifest file');

    for (const a of await status(f)) seen.push(...(await fakePids(f.stateDir, a.address)));
    assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);

    f = await startFleetd(dir, manifest, { waitRunning: 3 });
    const gamma = (await status(f)).find((a) => a.address === 'acme/gamma');
    assert.equal(gamma.port, port);
    assert.equal((await f.ctl('token', 'acme/gamma')).json.token, token);
    for (const a of await status(f)) seen.push(...(await fakePids(f.stateDir, a.address)));

    // --purge refuses a home that was replaced by a symlink, and leaves the agent alone
    const home = join(f.stateDir, 'fleets/acme/gamma');
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(elsewhere);
    await rename(home, join(dir, 'moved-home'));
    await symlink(elsewhere, home);
    const purge = await f.ctl('remove', 'agent', 'acme/gamma', '--purge');
    assert.equal(purge.code, 1);
    assert.equal(purge.json.error.code, 'REFUSED');
    assert.match(purge.json.error.message, /symbolic link/);
    assert.ok((await lstat(home)).isSymbolicLink());
    assert.ok((await status(f)).some((a) => a.address === 'acme/gamma'));

    // a plain remove frees the block; the next add gets the lowest free block again
    const removed = await f.ctl('remove', 'agent', 'acme/gamma');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.json.freedPort, port);
    const readded = await f.ctl('add', 'agent', 'acme/epsilon');
    assert.equal(readded.json.agent.port, port);
    for (const a of await status(f)) seen.push(...(await fakePids(f.stateDir, a.address)));
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('reload restarts only the agent whose config changed; an invalid manifest changes nothing', async () => {
  const dir = await tempDir();
  const manifest = twoAgents();
  const f = await startFleetd(dir, manifest, { waitRunning: 2 });
  const seen: number[] = [];
  try {
    const before = Object.fromEntries((await status(f)).map((a) => [a.address, a.pid]));
    for (const a of Object.keys(before)) seen.push(...(await fakePids(f.stateDir, a)));

    await writeManifest(dir, '{ version: 1, fleets: { acme: { agents: { Alpha: {} } } } }');
    const invalid = await f.ctl('reload');
    assert.equal(invalid.code, 1);
    assert.equal(invalid.json.error.code, 'MANIFEST_INVALID');
    assert.match(invalid.json.error.message, /fleets\.acme\.agents\.Alpha: id must match/);
    assert.equal(invalid.stderr, '');
    assert.deepEqual(Object.fromEntries((await status(f)).map((a) => [a.address, a.pid])), before);

    const changed = structuredClone(manifest) as any;
    changed.fleets.acme.agents.beta = { config: { agents: { defaults: { model: { primary: 'openai/gpt-5' } } } } };
    await writeManifest(dir, changed);
    const dry = await f.ctl('reload', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(dry.json.actions.map((a: any) => [a.kind, a.address]), [['reconfigure', 'acme/beta']]);
    assert.equal(dry.json.applied, false);
    assert.deepEqual(dry.json.reconfigured, []);

    // only openclaw.json changed: the running gateway applies it, same process
    const applied = await f.ctl('reload');
    assert.equal(applied.code, 0, applied.stderr);
    assert.deepEqual(applied.json.actions.map((a: any) => [a.kind, a.address]), [['reconfigure', 'acme/beta']]);
    assert.deepEqual(applied.json.reconfigured.map((o: any) => [o.address, o.result, o.pid]), [['acme/beta', 'applied', before['acme/beta']]]);
    const beta = (await status(f)).find((a) => a.address === 'acme/beta');
    assert.equal(beta.state, 'running');
    assert.equal(beta.pid, before['acme/beta']);
    assert.match(beta.reason, /applied in place by pid \d+: hot reload/);
    assert.equal((await status(f)).find((a) => a.address === 'acme/alpha').pid, before['acme/alpha'], 'alpha untouched');

    // an environment change needs a new process
    changed.fleets.acme.agents.beta.env = { NEW_VAR: '1' };
    await writeManifest(dir, changed);
    const restarted = await f.ctl('reload');
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.deepEqual(restarted.json.actions.map((a: any) => [a.kind, a.address, a.reason]), [['restart', 'acme/beta', 'environment changed']]);
    const newBeta = await waitForAgent(f, 'acme/beta', (a) => a.state === 'running' && a.pid !== before['acme/beta']);
    assert.notEqual(newBeta.pid, before['acme/beta']);
    seen.push(...(await fakePids(f.stateDir, 'acme/beta')));

    // a new agent and a removed one, by SIGHUP this time
    delete changed.fleets.acme.agents.alpha;
    changed.fleets.globex = { agents: { one: {} } };
    await writeManifest(dir, changed);
    f.child.kill('SIGHUP');
    await waitForAgent(f, 'globex/one', (a) => a.state === 'running');
    await waitAllDead([before['acme/alpha']]);
    assert.ok(!(await status(f)).some((a) => a.address === 'acme/alpha'));
    seen.push(...(await fakePids(f.stateDir, 'globex/one')));
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('socketGroup makes the socket 0660 for that group, in a folder fleetd creates 0700; an unknown group is refused', async () => {
  const groups = await readFile('/etc/group', 'utf8');
  const line = groups.split('\n').find((l) => /^(daemon|users|adm):/.test(l));
  assert.ok(line, 'a standard group exists to test with');
  const [group, , gid] = line.split(':');
  const dir = await tempDir();
  const manifest = { ...fakeManifest({ acme: { agents: { alpha: {} } } }), socket: './run/sub/fleetd.sock', socketGroup: group };
  // startFleetd expects the socket at <dir>/fleetd.sock: this one is driven by hand
  const manifestPath = await writeManifest(dir, manifest);
  const socket = join(dir, 'run/sub/fleetd.sock');
  const child = spawn(process.execPath, [FLEETD, 'start', '--manifest', manifestPath], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(async () => (await run(process.execPath, [FLEETCTL, '--socket', socket, 'status'])).code === 0, { timeoutMs: 30_000, what: 'fleetd socket' });
    const info = await stat(socket);
    assert.equal(info.mode & 0o777, 0o660);
    assert.equal(info.gid, Number(gid));
    assert.equal((await stat(join(dir, 'run/sub'))).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, 'run'))).mode & 0o777, 0o700);
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }

  await writeManifest(dir, { ...manifest, socketGroup: 'no-such-group-fleetd' });
  const refused = await run(process.execPath, [FLEETD, 'start', '--manifest', manifestPath], { timeoutMs: 30_000 });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /socketGroup: group "no-such-group-fleetd" does not exist/);
  await cleanup(dir);
});

test('remove keeps the home; remove --purge later deletes that leftover home; then there is nothing left to remove', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { alpha: {} } } }), { waitRunning: 1 }, async (f, seen) => {
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
    const added = await f.ctl('add', 'agent', 'acme/temp');
    assert.equal(added.code, 0, added.stderr);
    seen.push(...(await fakePids(f.stateDir, 'acme/temp')));
    const home = join(f.stateDir, 'fleets/acme/temp');
    const removed = await f.ctl('remove', 'agent', 'acme/temp');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.json.purged, false);
    assert.ok((await stat(home)).isDirectory(), 'home kept');
    const purged = await f.ctl('remove', 'agent', 'acme/temp', '--purge');
    assert.equal(purged.code, 0, purged.stderr);
    assert.deepEqual([purged.json.purged, purged.json.freedPort], [true, null]);
    await assert.rejects(stat(home), /ENOENT/);
    const again = await f.ctl('remove', 'agent', 'acme/temp', '--purge');
    assert.equal(again.code, 1);
    assert.equal(again.json.error.code, 'NOT_FOUND');
  });
});

test('a foreign listener on a block port makes fleetd skip that block, and say so; add --no-start provisions without starting', async () => {
  const { createServer } = await import('node:net');
  const manifest = fakeManifest({ acme: { agents: { alpha: {} } } });
  const base = (manifest.ports as { base: number }).base;
  const foreign = createServer();
  await new Promise<void>((resolve) => foreign.listen(base, '127.0.0.1', () => resolve()));
  try {
    await withFleetd(manifest, { waitRunning: 1 }, async (f, seen) => {
      const [alpha] = await status(f);
      assert.equal(alpha.port, base + 100, 'block 0 skipped');
      assert.match(f.output(), new RegExp(`"port":${base}[,}].*port block skipped`));
      seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
      // the RSS of a tree covers the gateway and its helpers (3 processes of the fake)
      const [pid, helper, worker] = await fakePids(f.stateDir, 'acme/alpha');
      const rss = async (p: number) => Number((await readFile(`/proc/${p}/statm`, 'utf8')).split(' ')[1]) * 4096;
      const sum = (await rss(pid!)) + (await rss(helper!)) + (await rss(worker!));
      // status reads RSS from fleetd's shared /proc scan, at most 1 s old: helpers forked after it count from the next one
      const covered = await waitFor(async () => {
        const [now] = await status(f);
        return now && now.rssBytes >= sum * 0.8 ? now : undefined;
      }, { timeoutMs: 5000, what: `a tree RSS covering the three processes (${sum}; first answer ${alpha.rssBytes})` });
      assert.ok(covered.rssBytes >= sum * 0.8);

      const idle = await f.ctl('add', 'agent', 'acme/idle', '--no-start');
      assert.equal(idle.code, 0, idle.stderr);
      assert.deepEqual([idle.json.agent.state, idle.json.agent.desired, idle.json.agent.pid], ['stopped', 'stopped', null]);
      assert.ok((await stat(join(f.stateDir, 'fleets/acme/idle/.openclaw/openclaw.json'))).isFile(), 'provisioned');
      const started = await f.ctl('start', 'agent', 'acme/idle');
      assert.equal(started.code, 0, started.stderr);
      assert.equal(started.json.agent.state, 'running');
      seen.push(...(await fakePids(f.stateDir, 'acme/idle')));
    });
  } finally {
    await new Promise<void>((resolve) => foreign.close(() => resolve()));
  }
});

test('--purge refuses a home whose fleet folder was replaced by a symlink pointing outside', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { alpha: {} } } }), { waitRunning: 1 }, async (f, seen) => {
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
    const added = await f.ctl('add', 'agent', 'other/victim');
    assert.equal(added.code, 0, added.stderr);
    seen.push(...(await fakePids(f.stateDir, 'other/victim')));
    // move fleets/other away and put a symlink to it in its place
    const outside = join(f.dir, 'outside');
    await rename(join(f.stateDir, 'fleets/other'), outside);
    await symlink(outside, join(f.stateDir, 'fleets/other'));
    const purge = await f.ctl('remove', 'agent', 'other/victim', '--purge');
    assert.equal(purge.code, 1);
    assert.equal(purge.json.error.code, 'REFUSED');
    assert.ok((await stat(join(outside, 'victim/.openclaw/openclaw.json'))).isFile(), 'nothing deleted outside the state dir');
  });
});

test('a reload that changes only timings restarts nothing, and the new restart policy applies to the running agent', async () => {
  const manifest = fakeManifest({ acme: { agents: { alpha: {} } } });
  await withFleetd(manifest, { waitRunning: 1 }, async (f, seen) => {
    const [before] = await status(f);
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
    const slower = structuredClone(manifest) as any;
    slower.restart.initialDelayMs = 4000;
    slower.restart.maxDelayMs = 8000;
    await writeManifest(f.dir, slower);
    const reload = await f.ctl('reload');
    assert.equal(reload.code, 0, reload.stderr);
    assert.deepEqual(reload.json.actions, [], 'timings alone restart nothing');
    assert.equal((await status(f))[0].pid, before.pid);
    const res = await fetch(`http://127.0.0.1:${before.port}/__fake/crash`, { method: 'POST' });
    assert.equal(res.status, 200);
    const backoff = await waitForAgent(f, 'acme/alpha', (a) => a.state === 'backoff');
    assert.match(backoff.reason, /restart 1 in 4(\.\d)? s$/, 'the reloaded initialDelayMs (4 s, +<=10 % jitter)');
    const back = await waitForAgent(f, 'acme/alpha', (a) => a.state === 'running' && a.pid !== before.pid, 20_000);
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
    assert.equal(back.port, before.port);
  });
});
