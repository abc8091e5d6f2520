// End to end: faults of fleetd itself (issue 9 items 1, 2, 7a, 7c). Its output goes away,
// a second fleetd starts beside a stopped first one, SIGTERM arrives at any moment of
// start-up, the umask is 000. Real processes, sockets and files; no fixed sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { lstat, readdir, readFile, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { readStat } from '../../src/supervise/proc.js';
import { waitFor } from '../../src/util/wait-for.js';
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
  waitForAgent,
  writeManifest,
  FAKE_GATEWAY,
  FLEETCTL,
  FLEETD,
  type Fleetd,
} from './harness.js';

const ADDRESSES = ['acme/alpha', 'acme/beta'];
const twoAgents = (extra: Record<string, unknown> = {}) => fakeManifest({ acme: { agents: { alpha: {}, beta: {} } } }, extra);

/** Every pid of the agents' current trees. */
async function trees(f: Fleetd): Promise<number[]> {
  const out: number[] = [];
  for (const address of ADDRESSES) {
    const info = await fakeInfo(f.stateDir, address);
    out.push(info.pid, info.helperPid, info.workerPid);
  }
  return out;
}

/** kill -9 of alpha's gateway; resolves once a new gateway of alpha runs (fleetd supervised the crash). */
async function killAndWaitBack(f: Fleetd, seen: number[]): Promise<void> {
  const before = (await status(f)).find((a) => a.address === 'acme/alpha');
  process.kill(before.pid, 'SIGKILL');
  const back = await waitForAgent(f, 'acme/alpha', (a) => a.state === 'running' && a.pid !== before.pid, 30_000);
  seen.push(...(await trees(f)));
  assert.ok(back.restarts >= 1);
}

test('item 1: the reader of fleetd stdout/stderr goes away (EPIPE), then a gateway is killed: it comes back, fleetd still answers', async () => {
  const dir = await tempDir();
  const f = await startFleetd(dir, twoAgents(), { waitRunning: 2 });
  const seen = await trees(f);
  try {
    // Close our end of both pipes, as when journald restarts or a terminal goes away.
    f.child.stdout!.destroy();
    f.child.stderr!.destroy();
    for (let round = 0; round < 3; round++) await killAndWaitBack(f, seen);
    assert.equal(f.child.exitCode, null, 'fleetd is still running');
    assert.equal((await status(f)).filter((a) => a.state === 'running').length, 2);
  } finally {
    assert.equal(await stopFleetd(f), 0, 'and it still stops cleanly, exit 0');
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('item 1, sibling: stdout and stderr on /dev/full (every write fails with ENOSPC): fleetd supervises as usual', async () => {
  const dir = await tempDir();
  const full = openSync('/dev/full', 'w');
  let f: Fleetd | undefined;
  const seen: number[] = [];
  try {
    f = await startFleetd(dir, twoAgents(), { waitRunning: 2, stdio: [full, full] });
    seen.push(...(await trees(f)));
    await killAndWaitBack(f, seen);
  } finally {
    closeSync(full);
    if (f) assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

/** Runs a second fleetd to completion and returns its exit code and stderr. */
function secondFleetd(manifestPath: string, ...extra: string[]) {
  return run(process.execPath, [FLEETD, 'start', '--manifest', manifestPath, ...extra], { timeoutMs: 60_000 });
}

/** Identity of the first fleetd's files: they must not change while a second one tries its luck. */
async function footprint(f: Fleetd) {
  const ino = async (path: string) => (await lstat(path)).ino;
  return {
    socket: await ino(f.socket),
    lock: await ino(join(f.stateDir, 'fleetd.lock')),
    owner: await readFile(join(f.stateDir, 'fleetd.lock', 'owner.json'), 'utf8'),
    pidFile: await readFile(join(f.stateDir, 'fleetd.pid'), 'utf8'),
  };
}

test('item 2: a second fleetd never takes a stopped fleetd\'s state dir, whatever the file times, nor touches its gateways, lock, pid file or socket', async () => {
  const dir = await tempDir();
  const f = await startFleetd(dir, twoAgents(), { waitRunning: 2 });
  const seen = await trees(f);
  const other = await tempDir();
  try {
    const before = await footprint(f);
    process.kill(f.child.pid!, 'SIGSTOP');
    await waitFor(() => readStat(f.child.pid!)?.state === 'T', { timeoutMs: 5000, what: 'fleetd to stop' });
    // The clock says the lock is ancient (the 17 s, and far more), then far in the future.
    for (const shift of [-17_000, -86_400_000, 86_400_000]) {
      const when = new Date(Date.now() + shift);
      for (const p of ['fleetd.lock', 'fleetd.lock/owner.json', 'fleetd.pid']) await utimes(join(f.stateDir, p), when, when);
      const same = await secondFleetd(f.manifestPath);
      assert.equal(same.code, 1, same.stderr);
      assert.match(same.stderr, new RegExp(`fleetd \\(pid ${f.child.pid}\\) already runs on state dir .*stopped`));
      // With its own socket path it is refused just the same, before any gateway is touched.
      const ownSocket = await secondFleetd(f.manifestPath, '--socket', join(other, 'other.sock'));
      assert.equal(ownSocket.code, 1, ownSocket.stderr);
      assert.match(ownSocket.stderr, /already runs on state dir/);
      assert.equal(existsSync(join(other, 'other.sock')), false);
      assert.deepEqual(seen.filter((p) => !alive(p)), [], 'every gateway of the first fleetd still runs');
      assert.deepEqual(await footprint(f), before, 'lock, owner, pid file and socket untouched');
    }
    // A fleetd on ANOTHER state dir pointed at the first one's socket refuses and leaves it alone,
    // also while the first one is stopped (its socket still accepts connections in the kernel).
    const foreign = await writeManifest(other, { ...twoAgents(), stateDir: join(other, 'state'), socket: f.socket, fleets: {} }, 'other.json5');
    const thief = await secondFleetd(foreign);
    assert.equal(thief.code, 1, thief.stderr);
    assert.match(thief.stderr, /another process listens on .*left alone/);
    assert.deepEqual(await footprint(f), before);
    assert.equal(existsSync(join(other, 'state', 'fleetd.lock')), false, 'the refused fleetd released its own lock');
    assert.equal(existsSync(join(other, 'state', 'fleetd.pid')), false, 'and removed its own pid file');

    process.kill(f.child.pid!, 'SIGCONT');
    const thief2 = await secondFleetd(foreign);
    assert.equal(thief2.code, 1, thief2.stderr);
    assert.deepEqual(await footprint(f), before);
    assert.deepEqual((await status(f)).map((a) => a.state), ['running', 'running'], 'the first fleetd answers on its socket');
  } finally {
    try {
      process.kill(f.child.pid!, 'SIGCONT');
    } catch {
      // gone
    }
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
    await cleanup(other);
  }
});

// Node itself catches SIGINT and SIGTERM from its first instant (to restore the terminal,
// then die by the signal), so those bits say nothing; fleetd's early handlers also catch
// SIGHUP, which Node leaves alone: that bit shows them installed.
/** True once fleetd's early signal handlers exist (SigCgt bit of SIGHUP in /proc/<pid>/status). */
function earlyHandlersInstalled(pid: number): boolean {
  try {
    const mask = /^SigCgt:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & 1n) !== 0n;
  } catch {
    return false;
  }
}

test('item 7a: a SIGTERM at any moment of start-up leaves no gateway running and exits cleanly', async () => {
  const points: Array<[string, (dir: string, pid: number) => boolean]> = [
    ['at spawn (Node may not run JS yet)', () => true],
    ['during module loading (handler installed, nothing else)', (_dir, pid) => earlyHandlersInstalled(pid)],
    ['state dir locked', (dir) => existsSync(join(dir, 'state', 'fleetd.pid'))],
    ['control socket bound', (dir) => existsSync(join(dir, 'fleetd.sock'))],
    ['a gateway spawned, not yet healthy', (dir) => existsSync(join(agentHome(join(dir, 'state'), 'acme/alpha'), 'fake-pids.json'))],
  ];
  for (const [name, ready] of points) {
    const dir = await tempDir();
    // a slow-starting gateway widens the "spawned, not yet healthy" window
    const manifest = twoAgents({ gateway: { command: [process.execPath, FAKE_GATEWAY], stopTimeoutMs: 3000, env: { FAKE_MODE: 'slow-start:1500' } } });
    const path = await writeManifest(dir, manifest);
    const child = spawn(process.execPath, [FLEETD, 'start', '--manifest', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<[number | null, string | null]>((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));
    try {
      await waitFor(() => ready(dir, child.pid!) || child.exitCode !== null, { timeoutMs: 30_000, intervalMs: 1, what: `${name}` });
      const lockedBefore = existsSync(join(dir, 'state', 'fleetd.pid'));
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      if (name.startsWith('at spawn')) assert.ok(code === 0 || signal === 'SIGTERM', `${name}: ${code} ${signal}\n${out}`);
      else assert.equal(code, 0, `${name}: exit ${code} ${signal}\n${out}`);
      if (name.startsWith('during module')) assert.equal(lockedBefore, false, 'the signal came before the state dir was locked');
      for (const address of ADDRESSES) {
        assert.deepEqual(processesOfHome(agentHome(join(dir, 'state'), address)), [], `${name}: nothing of ${address} runs\n${out}`);
      }
      assert.equal(existsSync(join(dir, 'state', 'fleetd.lock')), false, `${name}: lock released`);
      assert.equal(existsSync(join(dir, 'state', 'fleetd.pid')), false, `${name}: pid file removed`);
      assert.equal(existsSync(join(dir, 'fleetd.sock')), false, `${name}: socket removed`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const address of ADDRESSES) for (const pid of processesOfHome(agentHome(join(dir, 'state'), address))) process.kill(pid, 'SIGKILL');
      await cleanup(dir);
    }
  }
});

test('item 7a: a SIGHUP while fleetd is still loading is not lost: the manifest is reloaded once start-up is done', async () => {
  const dir = await tempDir();
  const path = await writeManifest(dir, twoAgents());
  const child = spawn(process.execPath, [FLEETD, 'start', '--manifest', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const seen: number[] = [];
  try {
    await waitFor(() => earlyHandlersInstalled(child.pid!), { timeoutMs: 30_000, intervalMs: 1, what: 'early handlers' });
    const lockedBefore = existsSync(join(dir, 'state', 'fleetd.pid'));
    child.kill('SIGHUP');
    await waitFor(() => /"msg":"reload applied"/.test(out), { timeoutMs: 30_000, what: 'the reload after start-up' });
    assert.equal(lockedBefore, false, 'the SIGHUP came before the state dir was locked');
    assert.ok(out.indexOf('SIGHUP: reloading the manifest') > out.indexOf('fleetd starting'));
    assert.equal(child.exitCode, null, 'fleetd runs on');
    const socket = join(dir, 'fleetd.sock');
    const agents = await waitFor(async () => {
      const r = await run(process.execPath, [FLEETCTL, '--socket', socket, '--json', 'status']);
      return r.json?.agents?.filter((a: { state: string }) => a.state === 'running').length === 2 ? r.json.agents : undefined;
    }, { timeoutMs: 30_000, what: 'both agents running' });
    seen.push(...agents.map((a: { pid: number }) => a.pid));
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.on('exit', resolve)));
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('item 7c: under umask 000 every folder fleetd makes is 0700, every file it writes 0600 (lock, pid, registry, socket, configs, logs), and its children get umask 022 at least', async () => {
  const dir = await tempDir();
  const f = await startFleetd(dir, twoAgents(), { waitRunning: 2, umask: 0 });
  const seen = await trees(f);
  try {
    assert.equal((await stat(f.socket)).mode & 0o777, 0o600, 'socket');
    const wrong: string[] = [];
    const walk = async (path: string) => {
      const info = await lstat(path);
      if (info.isDirectory()) {
        if ((info.mode & 0o777) !== 0o700) wrong.push(`${path}: folder ${(info.mode & 0o777).toString(8)}`);
        for (const name of await readdir(path)) await walk(join(path, name));
      } else if (path.endsWith('fake-pids.json')) {
        // the fake gateway's own file: children inherit fleetd's umask, raised to at least 022
        if ((info.mode & 0o022) !== 0) wrong.push(`${path}: a gateway's file is writable by others (${(info.mode & 0o777).toString(8)})`);
      } else if ((info.mode & 0o777) !== 0o600) {
        wrong.push(`${path}: file ${(info.mode & 0o777).toString(8)}`);
      }
    };
    await walk(f.stateDir);
    assert.deepEqual(wrong, []);
    assert.ok(existsSync(join(f.stateDir, 'fleetd.lock', 'owner.json')), 'the lock folder was walked');
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});
