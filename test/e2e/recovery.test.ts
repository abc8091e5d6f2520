// End to end: fleetd itself dies or is told to stop. A SIGKILLed fleetd leaves its gateways
// running (they live in their own process groups), a lock and a socket file; the next fleetd
// must take all of that over at once and end up with exactly one gateway per agent, on the
// same port with the same token. SIGTERM must leave nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readFile, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import {
  agentHome,
  alive,
  cleanup,
  fakeInfo,
  fakeManifest,
  processesOfHome,
  run,
  startFleetd,
  status,
  stopFleetd,
  tempDir,
  waitAllDead,
  FLEETCTL,
  fakePids,
} from './harness.js';

const ADDRESSES = ['acme/alpha', 'acme/beta'];
const twoAgents = () => fakeManifest({ acme: { agents: { alpha: {}, beta: {} } } });

test('after a SIGKILL of fleetd, the next fleetd replaces the orphaned gateways: one tree per agent, same port and token', async () => {
  const dir = await tempDir();
  const manifest = twoAgents();
  let f = await startFleetd(dir, manifest, { waitRunning: 2 });
  const seen: number[] = [];
  try {
    const before = new Map<string, { pid: number; port: number; token: string; tree: number[] }>();
    for (const a of await status(f)) {
      const token = (await f.ctl('token', a.address)).json.token;
      assert.match(token, /^[0-9a-f]{64}$/);
      const tree = await fakePids(f.stateDir, a.address);
      assert.equal(tree[0], a.pid, 'fake-pids.json names the pid status shows');
      before.set(a.address, { pid: a.pid, port: a.port, token, tree });
      seen.push(...tree);
    }
    assert.deepEqual([...before.keys()], ADDRESSES);

    f.child.kill('SIGKILL');
    assert.equal(await f.exited, null, 'fleetd died by the signal');
    // The gateways outlive it (own process groups), and it left its lock and socket behind.
    for (const [address, b] of before) assert.ok(b.tree.every(alive), `${address}: gateway, helper and worker orphaned but alive`);
    assert.ok((await lstat(f.socket)).isSocket(), 'stale socket file left behind');
    const down = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'status']);
    assert.equal(down.code, 3, 'nothing listens on the stale socket');
    assert.match(down.stderr, /stale socket/);
    const lock = join(f.stateDir, 'fleetd.lock');
    assert.ok((await stat(lock)).isDirectory(), 'stale lock left behind');
    const holder = JSON.parse(await readFile(join(f.stateDir, 'fleetd.pid'), 'utf8'));
    assert.equal(holder.pid, f.child.pid);
    // Make the lock look fresh for a long time: only the dead-holder check may take it over,
    // never proper-lockfile's staleness window.
    const future = new Date(Date.now() + 3_600_000);
    await utimes(lock, future, future);

    f = await startFleetd(dir, manifest, { waitRunning: 2 });
    // The orphans are stopped before the new socket answers.
    for (const [address, b] of before) {
      assert.deepEqual(b.tree.filter(alive), [], `${address}: nothing of the old generation is alive`);
    }
    assert.equal(f.output().match(/gateway left by a previous fleetd handled/g)?.length, 2, f.output());

    const after = await status(f);
    assert.deepEqual(after.map((a) => a.address), ADDRESSES);
    for (const a of after) {
      const b = before.get(a.address)!;
      assert.equal(a.state, 'running');
      assert.notEqual(a.pid, b.pid, `${a.address}: a new gateway`);
      assert.equal(a.port, b.port, `${a.address}: same port`);
      assert.equal((await f.ctl('token', a.address)).json.token, b.token, `${a.address}: same token`);
      const tree = await fakePids(f.stateDir, a.address);
      seen.push(...tree);
      assert.equal(tree[0], a.pid, `${a.address}: fake-pids.json names the pid status shows`);
      // Exactly one gateway tree runs in this home: the new one.
      assert.deepEqual(processesOfHome(agentHome(f.stateDir, a.address)), [...tree].sort((x, y) => x - y), `${a.address}: only the new tree runs there`);
    }
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('SIGTERM: fleetd exits 0, stops every process of every agent, removes its socket and releases its lock', async () => {
  const dir = await tempDir();
  const manifest = twoAgents();
  const f = await startFleetd(dir, manifest, { waitRunning: 2 });
  const seen: number[] = [];
  let again: Awaited<ReturnType<typeof startFleetd>> | undefined;
  try {
    for (const address of ADDRESSES) {
      const tree = await fakePids(f.stateDir, address);
      assert.equal(processesOfHome(agentHome(f.stateDir, address)).length, 3, `${address}: gateway, helper, worker`);
      seen.push(...tree);
    }
    assert.ok((await lstat(f.socket)).isSocket());

    assert.equal(await stopFleetd(f), 0);
    // Nothing is left, at the moment fleetd has exited (no waiting).
    assert.deepEqual(seen.filter(alive), [], 'no gateway, helper or worker alive');
    for (const address of ADDRESSES) assert.deepEqual(processesOfHome(agentHome(f.stateDir, address)), [], `${address}: no process in its home`);
    await assert.rejects(lstat(f.socket), { code: 'ENOENT' }, 'socket file removed');
    await assert.rejects(stat(join(f.stateDir, 'fleetd.lock')), { code: 'ENOENT' }, 'lock released');
    await assert.rejects(stat(join(f.stateDir, 'fleetd.pid')), { code: 'ENOENT' }, 'holder file removed');

    // The lock is free: a new fleetd starts on the same dir, without a takeover.
    again = await startFleetd(dir, manifest, { waitRunning: 2 });
    assert.ok(!again.output().includes('gateway left by a previous fleetd'), 'nothing to take over');
    for (const address of ADDRESSES) seen.push(...(await fakePids(again.stateDir, address)));
  } finally {
    await stopFleetd(f);
    if (again) await stopFleetd(again);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});
