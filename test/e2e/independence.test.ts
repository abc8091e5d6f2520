// Each agent acts on its own (issue "Each agent acts on its own"), end to end through the
// built fleetd and fleetctl: a stop never waits for another agent's boot or for a rolling
// restart; an automatic restart re-provisions a deleted home and refuses a symlinked one;
// wait:false answers before the gateway is healthy. Gateways are held in `starting` with
// the fake's listen-when mode, never with sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { call } from '../../src/protocol/client.js';
import { waitFor } from '../../src/util/wait-for.js';
import { agentHome, alive, fakeManifest, gatewayLog, spawnCtl, status, waitForAgent, withFleetd, fakePids } from './harness.js';
import { readFakePids } from '../support/testkit.js';

test('a stop of one agent completes while another agent holds the only start slot, booting', async () => {
  const gate = join(await import('node:os').then((os) => os.tmpdir()), `fd-gate-${process.pid}-${Date.now()}`);
  const manifest = fakeManifest({ acme: { agents: { slow: { env: { FAKE_MODE: `listen-when:${gate}` } } } }, ops: { agents: { watch: {} } } }, { startConcurrency: 1 });
  await withFleetd(manifest, {}, async (f, seen) => {
    try {
      // Which of the two boots first is not promised (both launches prepare at once); make
      // ops/watch the one that waits: stopped, then started again once acme/slow holds the slot.
      await waitForAgent(f, 'ops/watch', (a) => a.state === 'starting' || a.state === 'running');
      assert.equal((await f.ctl('stop', 'agent', 'ops/watch')).code, 0);
      const firstRun = await readFakePids(agentHome(f.stateDir, 'ops/watch')); // present when it booted first
      if (firstRun) seen.push(firstRun.pid, firstRun.helperPid, firstRun.workerPid);
      await waitForAgent(f, 'acme/slow', (a) => a.state === 'starting' && a.pid !== null);
      assert.equal((await f.ctl('start', 'agent', 'ops/watch', '--no-wait')).code, 0);
      const watch = await waitForAgent(f, 'ops/watch', (a) => /waiting for a start slot$/.test(a.reason) || a.state !== 'starting');
      assert.equal(watch.state, 'starting', 'ops/watch waits for the slot acme/slow holds');
      assert.match(watch.reason, /waiting for a start slot$/);
      const stopped = await f.ctl('stop', 'agent', 'ops/watch');
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(stopped.json.agent.state, 'stopped');
      const slow = (await status(f)).find((a) => a.address === 'acme/slow');
      assert.equal(slow.state, 'starting', 'acme/slow was still booting when the stop answered');
      await writeFile(gate, '');
      await waitForAgent(f, 'acme/slow', (a) => a.state === 'running');
      seen.push(...(await fakePids(f.stateDir, 'acme/slow')));
      const after = (await status(f)).find((a) => a.address === 'ops/watch');
      assert.equal(after.state, 'stopped');
      assert.equal(after.pid, null, 'no spawn after the stop was accepted');
      assert.deepEqual(await readFakePids(agentHome(f.stateDir, 'ops/watch')), firstRun, 'no gateway of ops/watch ran after the stop');
    } finally {
      await rm(gate, { force: true });
    }
  });
});

test('a rolling restart in progress does not delay a stop of another fleet\'s agent', async () => {
  const gate = join(await import('node:os').then((os) => os.tmpdir()), `fd-gate-${process.pid}-${Date.now()}`);
  await writeFile(gate, ''); // the first boot of acme/slow goes through
  const manifest = fakeManifest({ acme: { agents: { slow: { env: { FAKE_MODE: `listen-when:${gate}` } }, zed: {} } }, ops: { agents: { watch: {} } } });
  await withFleetd(manifest, { waitRunning: 3 }, async (f, seen) => {
    try {
      for (const a of ['acme/slow', 'acme/zed', 'ops/watch']) seen.push(...(await fakePids(f.stateDir, a)));
      await rm(gate); // the restarted acme/slow will hang in `starting`
      const rolling = spawnCtl(f, 'restart', 'fleet', 'acme');
      await waitForAgent(f, 'acme/slow', (a) => a.state === 'starting' && a.pid !== null);
      const stopped = await f.ctl('stop', 'agent', 'ops/watch');
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(stopped.json.agent.state, 'stopped');
      assert.equal((await status(f)).find((a) => a.address === 'acme/slow').state, 'starting', 'the rolling restart was still on acme/slow');
      assert.equal(rolling.child.exitCode, null, 'and had not finished');
      await writeFile(gate, '');
      const code = await rolling.exited;
      assert.equal(code, 0, rolling.stderr());
      assert.match(rolling.stdout(), /^restarting acme\/slow \.\.\.\nrestarted acme\/slow: running again as pid \d+\nrestarting acme\/zed \.\.\.\nrestarted acme\/zed: running again as pid \d+\n$/);
      for (const a of ['acme/slow', 'acme/zed']) seen.push(...(await fakePids(f.stateDir, a)));
    } finally {
      await rm(gate, { force: true });
    }
  });
});

test('a home deleted while the gateway runs is made again by the next automatic restart', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { korax: {} } } }), { waitRunning: 1 }, async (f, seen) => {
    const [before] = await status(f);
    const tree = await fakePids(f.stateDir, 'acme/korax');
    seen.push(...tree);
    await rm(agentHome(f.stateDir, 'acme/korax'), { recursive: true, force: true });
    process.kill(before.pid, 'SIGKILL');
    const back = await waitForAgent(f, 'acme/korax', (a) => a.state === 'running' && a.pid !== before.pid);
    seen.push(...(await fakePids(f.stateDir, 'acme/korax')));
    assert.equal(back.port, before.port);
    assert.ok(existsSync(join(agentHome(f.stateDir, 'acme/korax'), '.openclaw', 'openclaw.json')), 'openclaw.json provisioned again');
    const own = (await readdir(join(f.stateDir, 'agents', 'acme', 'korax'))).filter((n) => !n.startsWith('shim.'));
    assert.deepEqual(own.sort(), ['config.applied.json', 'gateway.log'], 'captured output and bookkeeping stay in fleetd\'s own folder');
  });
});

test('a home replaced by a symlink fails the agent naming the link; nothing is written through it', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { korax: {} } } }), { waitRunning: 1 }, async (f, seen) => {
    const [before] = await status(f);
    seen.push(...(await fakePids(f.stateDir, 'acme/korax')));
    const home = agentHome(f.stateDir, 'acme/korax');
    const elsewhere = join(f.dir, 'elsewhere');
    await mkdir(elsewhere);
    await rename(home, join(f.dir, 'moved-home'));
    await symlink(elsewhere, home);
    process.kill(before.pid, 'SIGKILL');
    const failed = await waitForAgent(f, 'acme/korax', (a) => a.state === 'failed');
    assert.match(failed.reason, new RegExp(`${home.replace(/[/.]/g, '\\$&')} is a symbolic link \\(to ${elsewhere.replace(/[/.]/g, '\\$&')}\\)`));
    assert.deepEqual(await readdir(elsewhere), [], 'nothing was written through the link');
    assert.ok(existsSync(gatewayLog(f.stateDir, 'acme/korax')), 'the crash is in fleetd\'s own log folder');
  });
});

test('wait:false answers with the agent starting, before its gateway is healthy', async () => {
  const gate = join(await import('node:os').then((os) => os.tmpdir()), `fd-gate-${process.pid}-${Date.now()}`);
  await withFleetd(fakeManifest({ acme: { agents: { slow: { env: { FAKE_MODE: `listen-when:${gate}` } } } } }), {}, async (f, seen) => {
    try {
      await waitForAgent(f, 'acme/slow', (a) => a.state === 'starting' && a.pid !== null);
      await f.ctl('stop', 'agent', 'acme/slow');
      const started = await call(f.socket, 'startAgent', { params: { fleet: 'acme', agent: 'slow' }, body: { wait: false } });
      assert.equal(started.agent.state, 'starting');
      const restarted = await f.ctl('restart', 'agent', 'acme/slow', '--no-wait');
      assert.equal(restarted.code, 0, restarted.stderr);
      assert.equal(restarted.json.agent.state, 'starting');
      assert.equal(restarted.json.agent.health.live, restarted.json.agent.pid === null ? null : false, 'not healthy yet');
      await writeFile(gate, '');
      await waitForAgent(f, 'acme/slow', (a) => a.state === 'running');
      seen.push(...(await fakePids(f.stateDir, 'acme/slow')));
      assert.ok(seen.every(alive));
    } finally {
      await rm(gate, { force: true });
    }
  });
});
