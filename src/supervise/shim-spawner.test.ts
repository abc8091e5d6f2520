// The shim spawner (src/shim/native/spawner.c, shim-spawner.ts) with real processes: native
// shims are forked by one small spawner, not by the (large) launching process, and start
// exactly as before (title, session, cwd, no environment, stderr file); the spawner ends
// with its launcher while the shims run on, and a spawner that died is replaced.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../util/wait-for.js';
import { FleetError } from '../errors.js';
import { isAlive, listProcesses, readStat } from './proc.js';
import { launchShim, NATIVE_SHIM_PATH } from './shim-client.js';
import { launchViaSpawner, stopSpawners } from './shim-spawner.js';
import { launchFromAnotherProcess, SHIM_IMPLS, shimSpecFor, withShimAgent } from '../../test/support/shim.js';

const native = SHIM_IMPLS.find((i) => i.name === 'native')!;

/** The command line of `pid`, words joined by spaces ('' when gone). */
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').split('\0').join(' ');
  } catch {
    return '';
  }
}

describe('shim spawner', { skip: native.skip }, () => {
  test('native shims are forked by one small spawner, not by the launching process, and start as before', () =>
    withShimAgent({}, async ({ agent, runDir, tracker }) => {
      const handle = await launchShim(shimSpecFor(agent), native.deps);
      tracker.add(handle.shim.pid, handle.gateway?.pid);
      const shim = readStat(handle.shim.pid)!;
      assert.notEqual(shim.ppid, process.pid, 'the launching process did not fork the shim');
      assert.equal(cmdline(shim.ppid), 'fleetd-shim-spawner --spawner');
      assert.equal(cmdline(handle.shim.pid), `fleetd-shim ${agent.spec.address}`);
      assert.equal(shim.sid, handle.shim.pid, 'the shim runs in its own session');
      assert.equal(readFileSync(`/proc/${handle.shim.pid}/environ`, 'latin1'), '', 'nothing of the launcher\'s environment');
      assert.equal(readlinkSync(`/proc/${handle.shim.pid}/cwd`), '/');
      assert.equal(readlinkSync(`/proc/${handle.shim.pid}/fd/2`), join(runDir, 'shim.err'));

      // a second launch goes through the same spawner
      const otherDir = join(agent.dir, 'agents', 'test', 'other');
      const other = await launchShim(shimSpecFor(agent, { runDir: otherDir, argv: ['definitely-not-a-command'], log: { file: join(otherDir, 'gateway.log'), maxBytes: 4096, maxFiles: 1 } }), native.deps);
      tracker.add(other.shim.pid);
      assert.equal(readStat(other.shim.pid)?.ppid ?? shim.ppid, shim.ppid);
      await other.exited;
      await other.close();
      // the spawner reaps the shims it started: no zombie is left
      await waitFor(() => readStat(other.shim.pid) === undefined, { timeoutMs: 5000, what: 'the ended shim reaped' });

      process.kill(handle.gateway!.pid, 'SIGKILL');
      assert.equal((await handle.exited).kind, 'exited');
      await handle.close();
    }));

  test('the spawner ends with its launcher; the shims it started run on', () =>
    withShimAgent({}, async ({ agent, tracker }) => {
      const launcher = await launchFromAnotherProcess(shimSpecFor(agent), native.deps);
      const { record } = launcher;
      tracker.add(launcher.child.pid, record.shimPid, record.gatewayPid);
      const spawner = readStat(record.shimPid)!.ppid;
      assert.equal(readStat(spawner)?.ppid, launcher.child.pid, 'the launcher started the spawner');
      tracker.add(spawner);
      launcher.child.kill('SIGKILL');
      await waitFor(() => !isAlive(spawner), { timeoutMs: 5000, what: 'the spawner gone with its launcher' });
      assert.ok(isAlive(record.shimPid) && isAlive(record.gatewayPid!), 'the shim and its gateway run on');
      assert.notEqual(readStat(record.shimPid)?.ppid, spawner);
      process.kill(record.gatewayPid!, 'SIGKILL');
    }));

  test('a spawner that died is replaced: launches after its death start a new one', () =>
    withShimAgent({}, async ({ agent, tracker }) => {
      const first = await launchShim(shimSpecFor(agent), native.deps);
      tracker.add(first.shim.pid, first.gateway?.pid);
      const spawner = readStat(first.shim.pid)!.ppid;
      process.kill(first.gateway!.pid, 'SIGKILL');
      await first.exited;
      await first.close();
      process.kill(spawner, 'SIGKILL');
      await waitFor(() => !isAlive(spawner), { timeoutMs: 5000, what: 'the spawner killed' });

      const second = await waitFor(() => launchShim(shimSpecFor(agent), native.deps).catch(() => undefined), { timeoutMs: 10_000, what: 'a launch after the spawner died' });
      tracker.add(second.shim.pid, second.gateway?.pid);
      const again = readStat(second.shim.pid)!.ppid;
      assert.notEqual(again, spawner);
      assert.equal(cmdline(again), 'fleetd-shim-spawner --spawner');
      process.kill(second.gateway!.pid, 'SIGKILL');
      await second.exited;
      await second.close();
    }));

  test('a spec larger than a pipe holds (a big environment) reaches the shim whole', () =>
    withShimAgent({}, async ({ agent, tracker }) => {
      // 5 x 60 KB (one string may not pass 128 KB in an execve)
      const big = Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`FLEETD_TEST_BIG${i}`, String(i).repeat(60 * 1024)]));
      const handle = await launchShim(shimSpecFor(agent, { env: { ...agent.spec.env, ...big } }), native.deps);
      tracker.add(handle.shim.pid, handle.gateway?.pid);
      assert.ok(handle.gateway, 'the gateway was spawned');
      const environ = readFileSync(`/proc/${handle.gateway.pid}/environ`, 'latin1');
      for (const [key, value] of Object.entries(big)) assert.ok(environ.includes(`${key}=${value}\0`), `the gateway got all of ${key}`);
      process.kill(handle.gateway!.pid, 'SIGKILL');
      assert.equal((await handle.exited).kind, 'exited');
      await handle.close();
    }));

  test('a stderr file that cannot be opened is a start error with its errno, not a hang', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-spawner-'));
    try {
      const launch = launchViaSpawner(NATIVE_SHIM_PATH, { title: 'fleetd-shim test/none', stderrPath: join(dir, 'missing', 'shim.err'), spec: '{}' });
      assert.deepEqual(await launch.first, { kind: 'error', message: 'its stderr file, a pipe, the fork or the exec failed (ENOENT)' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a stopped spawner: the launch fails naming it, the spawner is killed with its queued request, the next launch starts a new one', () =>
    withShimAgent({}, async ({ agent, runDir, tracker }) => {
      const spawner = await runningSpawner();
      tracker.add(spawner);
      process.kill(spawner, 'SIGSTOP');
      const failed = await launchShim(shimSpecFor(agent), { ...native.deps, readyTimeoutMs: 1000 }).then(
        () => assert.fail('a launch through a stopped spawner succeeded'),
        (err: unknown) => err,
      );
      assert.ok(failed instanceof FleetError && failed.code === 'TIMEOUT', String(failed));
      assert.match(failed.message, new RegExp(`the shim spawner \\(pid ${spawner}\\) had not started it: killed the spawner`));
      await waitFor(() => !isAlive(spawner), { timeoutMs: 5000, what: 'the stopped spawner killed' });

      // its queued request died with it: no shim of the abandoned launch holds the run dir, a new spawner starts this one
      const handle = await launchShim(shimSpecFor(agent), native.deps);
      tracker.add(handle.shim.pid, handle.gateway?.pid);
      assert.notEqual(readStat(handle.shim.pid)?.ppid, spawner);
      assert.deepEqual(shimsOf(agent.spec.address, runDir), [handle.shim.pid], 'one shim of this agent: the abandoned launch never ran');
      process.kill(handle.gateway!.pid, 'SIGKILL');
      await handle.exited;
      await handle.close();
    }));

  test('a launch waiting on a stuck spawner is given up as soon as it is cancelled', () =>
    withShimAgent({}, async ({ agent, tracker }) => {
      const spawner = await runningSpawner();
      tracker.add(spawner);
      process.kill(spawner, 'SIGSTOP');
      const abort = new AbortController();
      const launching = launchShim(shimSpecFor(agent), { ...native.deps, readyTimeoutMs: 3_600_000 }, abort.signal);
      abort.abort();
      const failed = await launching.then(
        () => assert.fail('a cancelled launch succeeded'),
        (err: unknown) => err,
      );
      assert.ok(failed instanceof FleetError && (failed.details as { reason?: string } | undefined)?.reason === 'cancelled', String(failed));
      await waitFor(() => !isAlive(spawner), { timeoutMs: 5000, what: 'the stuck spawner killed' });
    }));

  test('a spawner that dies under a launch: the launch "could not be started", naming the spawner', () =>
    withShimAgent({}, async ({ agent }) => {
      // a "spawner" that exits at once (a binary that is no fleetd-shim)
      const failed = await launchShim(shimSpecFor(agent), { ...native.deps, native: '/bin/false' }).then(
        () => assert.fail('a launch through a dead spawner succeeded'),
        (err: unknown) => err,
      );
      assert.ok(failed instanceof FleetError, String(failed));
      assert.match(failed.message, new RegExp(`^the shim for ${agent.spec.address} could not be started: the shim spawner \\(pid \\d+\\) exited \\(code 1\\)$`));
    }));

  test('stopSpawners (fleetd shutdown) kills a stopped spawner', async () => {
    const spawner = await runningSpawner();
    process.kill(spawner, 'SIGSTOP');
    stopSpawners();
    await waitFor(() => !isAlive(spawner), { timeoutMs: 5000, what: 'the stopped spawner killed' });
  });

  test('a spawner fleetd killed takes no new launch, even before its exit is seen: the next launch starts a new one', async () => {
    const spawner = await runningSpawner();
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-spawner-'));
    try {
      const request = { title: 'fleetd-shim test/none', stderrPath: join(dir, 'missing', 'shim.err'), spec: '{}' };
      process.kill(spawner, 'SIGSTOP');
      const stuck = launchViaSpawner(NATIVE_SHIM_PATH, request);
      assert.match(stuck.giveUp(), /had not started it: killed the spawner/);
      // same turn: the killed spawner's 'close' cannot have been seen yet
      const next = await launchViaSpawner(NATIVE_SHIM_PATH, request).first;
      assert.deepEqual(next, { kind: 'error', message: 'its stderr file, a pipe, the fork or the exec failed (ENOENT)' }, 'answered by a new spawner, not refused by the killed one');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a stopped spawner does not outlive its launcher', () =>
    withShimAgent({}, async ({ agent, tracker }) => {
      const launcher = await launchFromAnotherProcess(shimSpecFor(agent), native.deps);
      const { record } = launcher;
      tracker.add(launcher.child.pid, record.shimPid, record.gatewayPid);
      const spawner = readStat(record.shimPid)!.ppid;
      tracker.add(spawner);
      process.kill(spawner, 'SIGSTOP');
      launcher.child.kill('SIGKILL');
      await waitFor(() => !isAlive(spawner), { timeoutMs: 5000, what: 'the stopped spawner gone with its launcher' });
      process.kill(record.gatewayPid!, 'SIGKILL');
    }));
});

/** The pid of this process's spawner, started (by a launch that fails at once) when none runs. */
async function runningSpawner(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-spawner-'));
  try {
    await launchViaSpawner(NATIVE_SHIM_PATH, { title: 'fleetd-shim test/none', stderrPath: join(dir, 'missing', 'shim.err'), spec: '{}' }).first;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const mine = listProcesses().filter((p) => p.ppid === process.pid && cmdline(p.pid) === 'fleetd-shim-spawner --spawner' && p.state !== 'Z');
  assert.equal(mine.length, 1, 'one spawner');
  return mine[0]!.pid;
}

/** Live shims titled for `address` writing their stderr into `runDir` (other test files run shims of the same name). */
function shimsOf(address: string, runDir: string): number[] {
  const errFile = (pid: number) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/2`);
    } catch {
      return '';
    }
  };
  return listProcesses()
    .filter((p) => p.state !== 'Z' && cmdline(p.pid) === `fleetd-shim ${address}` && errFile(p.pid) === join(runDir, 'shim.err'))
    .map((p) => p.pid);
}
