// Every agent in its own cgroup, through the built fleetd (issue "Every agent in its own
// cgroup and OS user"), on both hierarchies of this host (v1 controllers, and the v2
// unified hierarchy without controllers): daemons that left the tree with `setsid -f env -i`
// (new session, empty environment: invisible to a /proc walk) are gone after `stop agent`,
// after fleetd SIGKILL plus restart once their gateway died, and after fleetd SIGTERM; a
// memory limit ends a runaway with the memory reason; a pids limit stops a fork bomb in one
// agent while another stays healthy; two tenants cannot read each other's homes.
// Needs root (cgroups, users); each test says so and skips otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../../src/util/wait-for.js';
import { agentHome, alive, cleanup, FLEETCTL, run, fakeManifest, fakePids, startFleetd, status, stopFleetd, tempDir, waitAllDead, waitForAgent, withFleetd, type Fleetd } from './harness.js';

const root = process.getuid?.() === 0;

/** The escaped daemons of an agent (pids in <home>/fake-escapees), once `count` are there. */
async function escapees(f: Fleetd, address: string, count: number): Promise<number[]> {
  const file = join(agentHome(f.stateDir, address), 'fake-escapees');
  return waitFor(
    () => {
      if (!existsSync(file)) return undefined;
      const pids = readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
      return pids.length >= count ? pids : undefined;
    },
    { timeoutMs: 10_000, what: `${count} escaped daemons of ${address}` },
  );
}

for (const mode of ['v1', 'v2'] as const) {
  test(`cgroup ${mode}: escaped daemons are gone after stop agent, after their gateway died while fleetd was killed, and after SIGTERM`, { skip: !root && 'needs root' }, async () => {
    const dir = await tempDir();
    const manifest = fakeManifest({ acme: { agents: { a: { env: { FAKE_MODE: 'escape:300' } }, b: { env: { FAKE_MODE: 'escape:300' } }, c: { env: { FAKE_MODE: 'escape:300' } } } } }, { cgroup: { mode } });
    let f = await startFleetd(dir, manifest, { waitRunning: 3 });
    const seen: number[] = [];
    try {
      const [view] = (await f.ctl('status')).json.agents;
      assert.match(view.isolation.cgroup, mode === 'v1' ? /^\/sys\/fs\/cgroup\/(?!unified)/ : /^\/sys\/fs\/cgroup\/unified\//, `${mode} cgroup: ${view.isolation.cgroup}`);
      const status0 = (await f.ctl('status')).json;
      assert.match(status0.daemon.isolation.description, new RegExp(`cgroup ${mode}`));

      // 1. stop agent
      const a = await escapees(f, 'acme/a', 2);
      seen.push(...a, ...(await fakePids(f.stateDir, 'acme/a')));
      assert.ok(a.every(alive), 'the daemons run, outside the gateway\'s tree');
      assert.equal((await f.ctl('stop', 'agent', 'acme/a', '--timeout', '500')).code, 0);
      assert.deepEqual(a.filter(alive), [], 'stop agent: nothing of acme/a survives');

      // 2. fleetd SIGKILLed; its gateway b dies meanwhile, its daemons live on; the next fleetd finds them by membership
      const b = await escapees(f, 'acme/b', 2);
      const bTree = await fakePids(f.stateDir, 'acme/b');
      seen.push(...b, ...bTree);
      f.child.kill('SIGKILL');
      await f.exited;
      process.kill(bTree[0]!, 'SIGKILL');
      await waitFor(() => !alive(bTree[0]!), { timeoutMs: 5000 });
      assert.ok(b.every(alive), 'the daemons outlived their gateway and fleetd');
      f = await startFleetd(dir, manifest, { waitRunning: 2 });
      await waitFor(() => b.every((pid) => !alive(pid)), { timeoutMs: 10_000, what: 'the next fleetd to stop acme/b\'s daemons by cgroup membership' });
      await waitForAgent(f, 'acme/b', (x) => x.state === 'running' && x.pid !== bTree[0]);

      // 3. SIGTERM: every agent's daemons, old and new, are gone once fleetd exits
      const c = await escapees(f, 'acme/c', 2);
      const b2 = await escapees(f, 'acme/b', b.length + 2);
      seen.push(...c, ...b2, ...(await fakePids(f.stateDir, 'acme/b')), ...(await fakePids(f.stateDir, 'acme/c')));
      assert.equal(await stopFleetd(f), 0);
      assert.deepEqual([...c, ...b2].filter(alive), [], 'SIGTERM: nothing of any agent survives');
    } finally {
      await stopFleetd(f).catch(() => undefined);
      for (const pid of seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await waitAllDead(seen);
      await cleanup(dir);
    }
  });
}

test('limits: memory 64M ends a runaway with the memory reason; pids 32 stops a fork bomb while another agent stays healthy', { skip: !root && 'needs root' }, async () => {
  // `lean`: the fake gateway is one node process (~45 MB, ~11 tasks), so the issue's own
  // figures fit: 64M leaves the hog ~20 MB to take, pids 32 leaves the bomb ~20 forks.
  const manifest = fakeManifest(
    {
      acme: {
        agents: {
          hog: { env: { FAKE_MODE: 'lean,hog' }, limits: { memory: '64M' } },
          bomb: { env: { FAKE_MODE: 'lean,fork-bomb:300' }, limits: { pids: 32 } },
          calm: {},
        },
      },
    },
    { cgroup: { mode: 'v1' } },
  );
  (manifest as { restart: Record<string, unknown> }).restart = { initialDelayMs: 60_000, factor: 2, maxDelayMs: 60_000, resetAfterMs: 60_000, noRestartExitCodes: [78] };
  await withFleetd(manifest, {}, async (f, seen) => {
    const hog = await waitForAgent(f, 'acme/hog', (a) => a.state === 'backoff' || a.state === 'failed', 60_000);
    assert.match(hog.reason, /^killed by SIGKILL after [\d.]+ m?s: killed: memory limit 64M reached; restart 1 in /);
    assert.equal(hog.isolation.limits.memory, '64M');
    assert.ok(hog.isolation.oomKills >= 1);
    const bomb = await waitFor(
      () => (readFileSync(join(f.stateDir, 'agents', 'acme', 'bomb', 'gateway.log'), 'utf8').match(/fork-bomb: forked (\d+) refused (\d+)/) ?? undefined),
      { timeoutMs: 30_000, what: 'the fork bomb to report' },
    );
    assert.ok(Number(bomb[1]) < 32, `fewer forks than the pids limit (${bomb[1]})`);
    assert.ok(Number(bomb[2]) > 0, 'the rest was refused');
    const views = (await status(f)).filter((a) => a.address !== 'acme/hog');
    for (const a of views) {
      assert.equal(a.state, 'running', `${a.address} stays healthy: ${a.reason}`);
      seen.push(...(await fakePids(f.stateDir, a.address)));
    }
    assert.equal(views.find((a) => a.address === 'acme/bomb').isolation.pids.limit, 32);
  });
});

test('two tenants: each home belongs to its own user, 0700, and neither can read the other\'s', { skip: !root && 'needs root' }, async () => {
  const users = [`fdt-${process.pid % 10000}a`, `fdt-${process.pid % 10000}b`];
  for (const u of users) execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', u]);
  try {
    const manifest = fakeManifest({ one: { user: users[0], agents: { a: {} } }, two: { user: users[1], agents: { b: {} } } }, { cgroup: { mode: 'v1' } });
    // The temp dir is 0700 (mkdtemp): a tenant cannot reach its home below it, and fleetd
    // says so instead of starting a gateway that would fail on EACCES.
    const dir = await tempDir();
    const f = await startFleetd(dir, manifest);
    try {
      const refused = await waitForAgent(f, 'one/a', (a) => a.state === 'failed');
      assert.match(refused.reason, new RegExp(`runs as ${users[0]}, who cannot reach its home: uid \\d+ cannot enter ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mode 700`));
      assert.equal(refused.restarts, 0);
      assert.equal(await stopFleetd(f), 0);
    } finally {
      await stopFleetd(f).catch(() => undefined);
      await cleanup(dir);
    }
    await withFleetd(manifest, { waitRunning: 2, beforeStart: (d) => chmod(d, 0o711) }, async (f, seen) => {
      for (const a of await status(f)) seen.push(...(await fakePids(f.stateDir, a.address)));
      const homeA = agentHome(f.stateDir, 'one/a');
      const homeB = agentHome(f.stateDir, 'two/b');
      const uid = (u: string) => Number(execFileSync('id', ['-u', u], { encoding: 'utf8' }).trim());
      const stat = (p: string) => execFileSync('stat', ['-c', '%u %a', p], { encoding: 'utf8' }).trim();
      assert.equal(stat(homeA), `${uid(users[0]!)} 700`);
      assert.equal(stat(homeB), `${uid(users[1]!)} 700`);
      assert.equal(stat(join(homeA, '.openclaw', 'openclaw.json')), `${uid(users[0]!)} 600`);
      const as = (u: string, ...argv: string[]) => {
        try {
          execFileSync('setpriv', ['--reuid', u, '--regid', u, '--init-groups', '--', ...argv], { stdio: 'pipe' });
          return 'allowed';
        } catch {
          return 'denied';
        }
      };
      assert.equal(as(users[0]!, 'cat', join(homeA, '.openclaw', 'openclaw.json')), 'allowed', 'a tenant reads its own config');
      assert.equal(as(users[0]!, 'cat', join(homeB, '.openclaw', 'openclaw.json')), 'denied');
      assert.equal(as(users[1]!, 'ls', homeA), 'denied');
      const gatewayUid = (address: string) => Number(readFileSync(`/proc/${status0(address)}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)![1]);
      const pids = new Map((await status(f)).map((a) => [a.address, a.pid]));
      const status0 = (address: string) => pids.get(address);
      assert.equal(gatewayUid('one/a'), uid(users[0]!), 'the gateway runs as its tenant');
      assert.equal(gatewayUid('two/b'), uid(users[1]!));
      // fleetctl exec runs as the agent: its user, in its home
      const exec = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'exec', 'one/a', '--', '/bin/sh', '-c', 'id -u; pwd']);
      assert.equal(exec.code, 0, exec.stderr);
      assert.deepEqual(exec.stdout.trim().split('\n'), [String(uid(users[0]!)), homeA]);
    });
  } finally {
    for (const u of users) execFileSync('userdel', [u], { stdio: 'ignore' });
  }
});

test('a stopped agent has no memory: MEMORY "-" and isolation.memory "not running", whatever its cgroup still charges', { skip: !root && 'needs root' }, async () => {
  const manifest = fakeManifest({ acme: { agents: { a: { limits: { memory: '256M' } }, b: {} } } });
  await withFleetd(manifest, { waitRunning: 2 }, async (f, seen) => {
    for (const a of ['acme/a', 'acme/b']) seen.push(...(await fakePids(f.stateDir, a)));
    const running = (await status(f)).find((a) => a.address === 'acme/a');
    assert.ok(running.isolation.memory.currentBytes > 0, running.isolation.memory.text);
    assert.equal((await f.ctl('stop', 'agent', 'acme/a')).code, 0);
    const view = (await status(f)).find((a) => a.address === 'acme/a');
    assert.equal(view.state, 'stopped');
    assert.equal(view.isolation.memory.currentBytes, null);
    assert.equal(view.isolation.memory.source, 'none');
    assert.equal(view.isolation.memory.text, 'not running');
    const table = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'status']);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    const column = header!.split(/ +/).indexOf('MEMORY');
    const memory = Object.fromEntries(rows.map((r) => [r.split(/ +/)[0], r.split(/ +/)[column]]));
    assert.equal(memory['acme/a'], '-', table.stdout);
    assert.match(memory['acme/b']!, /^[\d.]+[KMG]iB$/, 'a running agent still shows its memory');
  });
});
