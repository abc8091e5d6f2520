// End to end (fake gateway, built fleetd and fleetctl): a config-only reload as part of the
// core. An agent whose openclaw.json was applied in place is adopted by the next fleetd (same
// pid, no restart) after `fleetctl daemon restart`; one whose change was still being applied
// is started again by it. Every outcome is an `agent.reconfigured` event. A rolling restart's
// turn waits until the agent's reconfigure has ended. As root, an agent with its own user
// gets the new openclaw.json written as that user, and its gateway applies it in place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import JSON5 from 'json5';
import { waitFor } from '../../src/util/wait-for.js';
import { agentHome, alive, cleanup, fakeInfo, fakeManifest, fakePids, spawnCtl, startFleetd, status, stopFleetd, tempDir, waitAllDead, waitForAgent, withFleetd, writeManifest, type Fleetd } from './harness.js';

const root = process.getuid?.() === 0;

/** The events fleetd buffered (`fleetctl events --json`: NDJSON). */
async function events(f: Fleetd): Promise<any[]> {
  const r = await f.ctl('events');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** Waits until the successor of `f` (after `fleetctl daemon restart`) answers with every agent running. */
async function successor(f: Fleetd): Promise<any> {
  return waitFor(
    async () => {
      const r = await f.ctl('status');
      return r.code === 0 && r.json.daemon.pid !== f.child.pid && r.json.agents.every((a: { state: string }) => a.state === 'running') ? r.json : undefined;
    },
    { timeoutMs: 30_000, what: 'the next fleetd to answer with every agent running' },
  );
}

test('a config applied in place survives `fleetctl daemon restart`: adopted on the same pid; one still being applied is started again', async () => {
  const dir = await tempDir();
  const manifest: any = fakeManifest({ acme: { agents: { hot: { config: { tools: { profile: 'minimal' } } }, held: { config: { tools: { profile: 'minimal' } } } } } });
  manifest.fleets.acme.agents.held.env = { FAKE_MODE: `reload-when:${join(dir, 'never')}` };
  manifest.gateway.reloadTimeoutMs = 60_000;
  const f = await startFleetd(dir, manifest, { waitRunning: 2 });
  const seen: number[] = [];
  try {
    for (const a of ['acme/hot', 'acme/held']) seen.push(...(await fakePids(f.stateDir, a)));
    const hotPid = (await fakeInfo(f.stateDir, 'acme/hot')).pid;
    const heldPid = (await fakeInfo(f.stateDir, 'acme/held')).pid;
    manifest.fleets.acme.agents.hot.config.tools.profile = 'coding';
    await writeManifest(dir, manifest);
    const r = await f.ctl('reload');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json.reconfigured.map((o: any) => [o.address, o.result, o.pid]), [['acme/hot', 'applied', hotPid]]);
    const event = (await events(f)).find((e) => e.type === 'agent.reconfigured');
    assert.deepEqual([event?.address, event?.result, event?.pid], ['acme/hot', 'applied', hotPid], 'the outcome is on the events bus');
    assert.match(event.reason, /applied in place by pid/);
    // held: its gateway never reacts (the gate file is never made), so fleetd is still watching when it leaves
    manifest.fleets.acme.agents.held.config.tools.profile = 'coding';
    await writeManifest(dir, manifest);
    const pending = spawnCtl(f, '--json', 'reload');
    await waitForAgent(f, 'acme/held', (a) => a.state === 'reconfiguring' && /pick up/.test(a.reason), 10_000);
    const restarted = await f.ctl('daemon', 'restart');
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.equal(await f.exited, 0);
    await pending.exited;
    const next = await successor(f);
    const hot = next.agents.find((a: any) => a.address === 'acme/hot');
    assert.equal(hot.pid, hotPid, 'the gateway that took its config in place was adopted');
    assert.equal(hot.restarts, 0);
    assert.match(hot.reason, /adopted from a previous fleetd: .*its openclaw\.json applied in place/);
    const held = next.agents.find((a: any) => a.address === 'acme/held');
    assert.notEqual(held.pid, heldPid, 'a change it had not applied yet: started again with the new file');
    seen.push(...(await fakePids(f.stateDir, 'acme/held')));
    const dry = await f.ctl('reload', '--dry-run');
    assert.deepEqual(dry.json.actions, [], 'what runs is what the manifest says');
    const stopped = await f.ctl('daemon', 'stop');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.deepEqual(seen.filter(alive), []);
  } finally {
    await f.ctl('daemon', 'stop').catch(() => undefined);
    await stopFleetd(f).catch(() => undefined);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('a rolling restart\'s turn waits for the agent\'s reconfigure: applied on the old pid first, then restarted', async () => {
  const dir = await tempDir();
  const gate = join(dir, 'apply');
  const manifest: any = fakeManifest({ acme: { agents: { a: { config: { tools: { profile: 'minimal' } }, env: { FAKE_MODE: `reload-when:${gate}` } }, b: {} } } });
  const f = await startFleetd(dir, manifest, { waitRunning: 2 });
  const seen: number[] = [];
  try {
    for (const a of ['acme/a', 'acme/b']) seen.push(...(await fakePids(f.stateDir, a)));
    const pid = (await fakeInfo(f.stateDir, 'acme/a')).pid;
    manifest.fleets.acme.agents.a.config.tools.profile = 'coding';
    await writeManifest(dir, manifest);
    const reload = spawnCtl(f, '--json', 'reload');
    await waitForAgent(f, 'acme/a', (a) => a.state === 'reconfiguring' && /pick up/.test(a.reason), 10_000);
    const rolling = spawnCtl(f, 'restart', 'fleet', 'acme');
    await waitFor(() => rolling.stdout().includes('restarting acme/a'), { timeoutMs: 10_000, what: 'the rolling restart to reach acme/a' });
    assert.equal((await status(f)).find((a) => a.address === 'acme/a').state, 'reconfiguring', 'its turn has not begun');
    await writeFile(gate, '');
    assert.equal(await reload.exited, 0, reload.stderr());
    const outcome = JSON.parse(reload.stdout()).reconfigured[0];
    assert.deepEqual([outcome.result, outcome.pid], ['applied', pid], outcome.reason);
    assert.equal(await rolling.exited, 0, rolling.stderr());
    assert.match(rolling.stdout(), /^restarted acme\/a: running again as pid \d+$/m);
    const after = await events(f);
    const states = after.filter((e) => e.type === 'agent.state' && e.address === 'acme/a' && e.seq > 0).map((e) => `${e.from}->${e.to}`);
    const applied = states.indexOf('reconfiguring->running');
    assert.ok(applied >= 0 && states.indexOf('running->stopping') > applied, `the restart came after the reconfigure ended: ${states.join(', ')}`);
    assert.ok(!states.includes('reconfiguring->stopping'), 'no restart cut the reconfigure short');
    for (const a of ['acme/a', 'acme/b']) seen.push(...(await fakePids(f.stateDir, a)));
    assert.notEqual((await fakeInfo(f.stateDir, 'acme/a')).pid, pid);
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('an agent with its own user: the reconfigure writes openclaw.json as that user, and its gateway applies it in place', { skip: !root && 'needs root' }, async () => {
  const user = `fdh-${process.pid % 10000}`;
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const manifest: any = fakeManifest({ acme: { user, agents: { t: { config: { tools: { profile: 'minimal' } } } } } }, { cgroup: { mode: 'v1' } });
    await withFleetd(manifest, { waitRunning: 1, beforeStart: (d) => chmod(d, 0o711) }, async (f, seen) => {
      seen.push(...(await fakePids(f.stateDir, 'acme/t')));
      const pid = (await fakeInfo(f.stateDir, 'acme/t')).pid;
      const config = join(agentHome(f.stateDir, 'acme/t'), '.openclaw', 'openclaw.json');
      manifest.fleets.acme.agents.t.config.tools.profile = 'coding';
      await writeManifest(f.dir, manifest);
      const r = await f.ctl('reload');
      assert.equal(r.code, 0, r.stderr);
      const [outcome] = r.json.reconfigured;
      assert.deepEqual([outcome.result, outcome.pid], ['applied', pid], outcome.reason);
      const st = await stat(config);
      assert.deepEqual([st.uid, st.mode & 0o777], [uid, 0o600], 'still the tenant\'s file');
      assert.equal(JSON5.parse(await readFile(config, 'utf8')).tools.profile, 'coding');
      const doctor = await f.ctl('doctor', 'acme/t', '--no-openclaw');
      assert.deepEqual(doctor.json.checks.filter((c: any) => c.id === 'files').map((c: any) => c.level), ['ok'], JSON.stringify(doctor.json.checks.filter((c: any) => c.id === 'files')));
    });
  } finally {
    execFileSync('userdel', [user], { stdio: 'ignore' });
  }
});
