// End to end: fleetd itself dies or is told to stop. A SIGKILLed fleetd leaves its gateways
// running (they live in their own process groups), a lock and a socket file; the next fleetd
// must take all of that over at once and end up with exactly one gateway per agent, on the
// same port with the same token. SIGTERM must leave nothing behind.
import { test } from 'node:test';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { lstat, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
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
  fakeControl,
  fakePids,
  waitForAgent,
  type Fleetd,
} from './harness.js';
import { waitFor } from '../../src/util/wait-for.js';

const ADDRESSES = ['acme/alpha', 'acme/beta'];
const twoAgents = () => fakeManifest({ acme: { agents: { alpha: {}, beta: {} } } });

test('live restore: after a SIGKILL of fleetd, the next fleetd adopts every gateway (same pids, no restart), captures its output again, and restarts it when it dies later', async () => {
  const dir = await tempDir();
  const manifest = twoAgents();
  let f = await startFleetd(dir, manifest, { waitRunning: 2 });
  const seen: number[] = [];
  try {
    const before = new Map<string, { pid: number; port: number; token: string; tree: number[]; restarts: number }>();
    for (const a of await status(f)) {
      const token = (await f.ctl('token', a.address)).json.token;
      const tree = await fakePids(f.stateDir, a.address);
      assert.equal(tree[0], a.pid, 'fake-pids.json names the pid status shows');
      before.set(a.address, { pid: a.pid, port: a.port, token, tree, restarts: a.restarts });
      seen.push(...tree);
    }
    assert.deepEqual([...before.keys()], ADDRESSES);

    f.child.kill('SIGKILL');
    assert.equal(await f.exited, null, 'fleetd died by the signal');
    for (const [address, b] of before) assert.ok(b.tree.every(alive), `${address}: gateway, helper and worker alive without fleetd`);
    // output while nobody supervises: the shim holds the pipe and writes the log
    assert.equal(await fakeControl(before.get('acme/alpha')!.port, '/__fake/print-token'), 200);
    const down = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'status']);
    assert.equal(down.code, 3, 'nothing listens on the stale socket');
    // Make the lock look fresh for a long time: only the dead-holder check may take it over.
    const lock = join(f.stateDir, 'fleetd.lock');
    const future = new Date(Date.now() + 3_600_000);
    await utimes(lock, future, future);

    f = await startFleetd(dir, manifest, { waitRunning: 2 });
    assert.equal(f.output().match(/gateway adopted: same pid and start time as recorded/g)?.length, 2, f.output());
    const after = await status(f);
    for (const a of after) {
      const b = before.get(a.address)!;
      assert.equal(a.state, 'running');
      assert.equal(a.pid, b.pid, `${a.address}: the same gateway, adopted`);
      assert.equal(a.restarts, b.restarts, `${a.address}: no restart`);
      assert.match(a.reason, /^adopted from a previous fleetd: pid \d+ on port \d+, up /);
      assert.ok(a.uptimeMs >= 0);
      assert.equal(a.port, b.port);
      assert.equal((await f.ctl('token', a.address)).json.token, b.token);
      assert.deepEqual(processesOfHome(agentHome(f.stateDir, a.address)), [...b.tree].sort((x, y) => x - y), `${a.address}: only its one tree runs there`);
    }
    // the output written while fleetd was away is in the log, redacted; new output is captured again
    const alpha = before.get('acme/alpha')!;
    assert.equal(await fakeControl(alpha.port, '/__fake/print-token'), 200);
    const logged = await waitFor(async () => {
      const r = await f.ctl('logs', 'acme/alpha', '-n', '200');
      const text = (r.json.lines as string[]).join('\n');
      return (text.match(/<redacted>/g)?.length ?? 0) >= 2 ? text : undefined;
    }, { timeoutMs: 10_000, what: 'both token prints in the log' });
    assert.ok(!logged.includes(alpha.token), 'the token never reached the log');

    // an adopted gateway that dies later is noticed and restarted per policy
    process.kill(alpha.pid, 'SIGKILL');
    const back = await waitForAgent(f, 'acme/alpha', (a) => a.state === 'running' && a.pid !== alpha.pid);
    assert.equal(back.restarts, alpha.restarts + 1);
    assert.equal(back.lastExit.signal, 'SIGKILL', 'the exact exit, from the shim');
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

/** Both agents running under a fleetd that is then SIGKILLed: that fleetd, status before the kill, and every gateway pid (to wait for at the end). */
async function twoAgentsThenCrash(dir: string, seen: number[]) {
  const f = await startFleetd(dir, twoAgents(), { waitRunning: 2 });
  const before = new Map((await status(f)).map((a) => [a.address, a]));
  for (const address of ADDRESSES) seen.push(...(await fakePids(f.stateDir, address)));
  f.child.kill('SIGKILL');
  await f.exited;
  return { f, before };
}

/** What a test after a crash gets: the dead fleetd's state dir, status before the kill, pids to wait for, and `next` to start the next fleetd (stopped afterwards). */
interface AfterCrash {
  stateDir: string;
  before: Map<string, any>;
  seen: number[];
  next: (manifest?: unknown, waitRunning?: number) => Promise<Fleetd>;
}

/** Runs `body` once both agents ran under a fleetd that was then SIGKILLed; whatever fleetd it started is stopped, every gateway waited for, the folder removed. */
async function afterCrash(body: (c: AfterCrash) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  const seen: number[] = [];
  const crashed = await twoAgentsThenCrash(dir, seen);
  let f = crashed.f;
  try {
    await body({ stateDir: f.stateDir, before: crashed.before, seen, next: async (manifest = twoAgents(), waitRunning = 2) => (f = await startFleetd(dir, manifest, { waitRunning })) });
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
}

/** Rewrites registry.json while no fleetd runs, as a write the dead one never made would have left it. */
async function editRegistry(stateDir: string, edit: (agents: Record<string, any>) => void): Promise<void> {
  const path = join(stateDir, 'registry.json');
  const registry = JSON.parse(await readFile(path, 'utf8'));
  edit(registry.agents);
  await writeFile(path, JSON.stringify(registry, null, 2), { mode: 0o600 });
}

test('live restore: a gateway whose config changed while fleetd was away is stopped and started again, and the log says why', () =>
  afterCrash(async ({ before, seen, next }) => {
    const changed = twoAgents() as { fleets: { acme: { agents: Record<string, unknown> } } };
    changed.fleets.acme.agents['beta'] = { config: { logging: { level: 'debug' } } };
    const f = await next(changed);
    assert.match(f.output(), /its launch changed while fleetd was away/);
    const after = new Map((await status(f)).map((a) => [a.address, a]));
    assert.equal(after.get('acme/alpha')!.pid, before.get('acme/alpha')!.pid, 'alpha adopted');
    assert.notEqual(after.get('acme/beta')!.pid, before.get('acme/beta')!.pid, 'beta started anew');
    seen.push(...(await fakePids(f.stateDir, 'acme/beta')));
  }));

test('live restore: an agent removed from the manifest while fleetd was away is stopped, and its port block and token freed', () =>
  afterCrash(async ({ stateDir, before, next }) => {
    const beta = before.get('acme/beta')!;
    const changed = fakeManifest({ acme: { agents: { alpha: {}, gamma: {} } } });
    const f = await next(changed, 2);
    assert.match(f.output(), /"agent":"acme\/beta".*"msg":"port block freed"/);
    const registry = JSON.parse(await readFile(join(stateDir, 'registry.json'), 'utf8'));
    assert.deepEqual(Object.keys(registry.agents).sort(), ['acme/alpha', 'acme/gamma']);
    const after = new Map((await status(f)).map((a) => [a.address, a]));
    assert.deepEqual([...after.keys()].sort(), ['acme/alpha', 'acme/gamma']);
    assert.equal(after.get('acme/alpha')!.pid, before.get('acme/alpha')!.pid, 'alpha adopted');
    assert.equal(alive(beta.pid), false, "beta's gateway was stopped");
  }));

test('live restore: a gateway whose process record never reached the registry (fleetd killed before its batched write) is adopted by its shim\'s record, not stopped', () =>
  afterCrash(async ({ stateDir, before, next }) => {
    // the registry as a fleetd killed before writing beta's spawn leaves it
    await editRegistry(stateDir, (agents) => {
      assert.ok(agents['acme/beta'].process, 'recorded before the edit');
      delete agents['acme/beta'].process;
    });
    const f = await next();
    const after = new Map((await status(f)).map((a) => [a.address, a]));
    for (const address of ADDRESSES) {
      assert.equal(after.get(address)!.pid, before.get(address)!.pid, `${address}: adopted, same pid`);
      assert.equal(after.get(address)!.restarts, 0, `${address}: no restart`);
    }
    assert.match(f.output(), /the registry has no record of this gateway \(fleetd ended before writing it\); judging it by its shim's record/);
    assert.doesNotMatch(f.output(), /stopped leftover gateway processes/);
  }));

test('live restore: a stopped agent whose gateway ended while fleetd was away keeps that exit, and is not started', () =>
  afterCrash(async ({ stateDir, before, next }) => {
    // as when `stop agent` was acknowledged and fleetd died before its last registry write and
    // before closing the shim's run: the wish is 'stopped', the process record still there
    process.kill(before.get('acme/beta')!.pid!, 'SIGTERM');
    const exitFile = join(stateDir, 'agents', 'acme', 'beta', 'exit.json');
    await waitFor(() => existsSync(exitFile), { timeoutMs: 10_000, what: "beta's shim to record the exit" });
    const recorded = JSON.parse(await readFile(exitFile, 'utf8'));
    await editRegistry(stateDir, (agents) => {
      assert.ok(agents['acme/beta'].process);
      agents['acme/beta'].desired = 'stopped';
    });
    const registryPath = join(stateDir, 'registry.json');
    const f = await next(twoAgents(), 1);
    const beta = await waitForAgent(f, 'acme/beta', (a) => a.state === 'stopped' && a.lastExit !== null);
    assert.deepEqual([beta.lastExit.code, beta.lastExit.signal, beta.lastExit.at], [recorded.code, recorded.signal, recorded.at], 'the exit the shim recorded');
    assert.equal(beta.pid, null);
    assert.equal(beta.reason, 'stopped by the operator');
    assert.match(f.output(), /not restarted: the agent is not wanted running/);
    assert.doesNotMatch(f.output(), /acme\/beta[^\n]*while fleetd was away/);
    const entry = await waitFor(async () => {
      const e = JSON.parse(await readFile(registryPath, 'utf8')).agents['acme/beta'];
      return e.process ? undefined : e;
    }, { timeoutMs: 10_000, what: 'the registry to forget the process' });
    assert.equal(entry.lastExit.at, recorded.at, 'and to keep its exit');
  }));

// An operator's finding: the catch around start-up stopped every gateway, so a fleetd that
// failed after live restore (metrics port in use, socket path under a file) took every agent
// down, also under systemd's Restart= after a crash.
test('a fleetd that fails to start after adopting the gateways (its metrics port is taken) leaves them running, and the next one adopts them', () =>
  afterCrash(async ({ before, next }) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      await assert.rejects(next(fakeManifest({ acme: { agents: { alpha: {}, beta: {} } } }, { metrics: { listen: `127.0.0.1:${port}` } }), 0), (err: Error) => {
        assert.match(err.message, /fleetd exited during start-up/);
        assert.match(err.message, /gateway adopted/, 'it failed after adopting them');
        assert.match(err.message, /left running for the next fleetd/);
        return true;
      });
      for (const [address, a] of before) assert.ok(alive(a.pid), `${address}: its gateway runs on after the failed start`);
    } finally {
      blocker.close();
    }
    const f = await next();
    for (const a of await status(f)) {
      assert.equal(a.pid, before.get(a.address).pid, `${a.address}: adopted by the next fleetd, not restarted`);
      assert.equal(a.restarts, before.get(a.address).restarts);
    }
  }));

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

test('a restart whose next fleetd would not start, or would not adopt (invalid registry.json, invalid manifest, moved stateDir, registry.json gone) is refused, by fleetctl and by SIGUSR2: this fleetd and its gateways run on', async () => {
  const dir = await tempDir();
  const f = await startFleetd(dir, twoAgents(), { waitRunning: 2 });
  const seen: number[] = [];
  try {
    for (const address of ADDRESSES) seen.push(...(await fakePids(f.stateDir, address)));
    const before = (await status(f)).map((a) => [a.address, a.pid, a.state]);
    const registryPath = join(f.stateDir, 'registry.json');
    const registryText = await readFile(registryPath, 'utf8');
    const manifestText = await readFile(f.manifestPath, 'utf8');
    const runsOn = async () => {
      const r = await f.ctl('status');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.daemon.pid, f.child.pid, 'the same fleetd answers');
      assert.deepEqual(r.json.agents.map((a: { address: string; pid: number; state: string }) => [a.address, a.pid, a.state]), before, 'every gateway as it was');
      assert.equal(f.child.exitCode, null);
    };

    // registry.json that parses but breaks the schema (a port that is not a number)
    const broken = JSON.parse(registryText);
    broken.agents['acme/alpha'].port = 'not a port';
    await writeFile(registryPath, JSON.stringify(broken));
    const refused = await f.ctl('daemon', 'restart');
    assert.equal(refused.code, 1, refused.stdout);
    assert.equal(refused.json.error.code, 'REGISTRY_INVALID');
    assert.match(refused.json.error.message, /^restart refused: the next fleetd would not start: /);
    assert.ok(refused.json.error.message.includes(registryPath), refused.json.error.message);
    await runsOn();
    // the same by signal: nobody to answer, so it is logged
    process.kill(f.child.pid!, 'SIGUSR2');
    await waitFor(() => /SIGUSR2: restart refused/.test(f.output()), { timeoutMs: 10_000, what: 'the refusal of SIGUSR2 in the log' });
    await runsOn();
    assert.equal(await readFile(registryPath, 'utf8'), JSON.stringify(broken), 'the invalid file is left as it is');

    // a valid registry again, a manifest that is not
    await writeFile(registryPath, registryText);
    await writeFile(f.manifestPath, manifestText.replace('"agents"', '"agentz"'));
    const badManifest = await f.ctl('daemon', 'restart');
    assert.equal(badManifest.code, 1, badManifest.stdout);
    assert.equal(badManifest.json.error.code, 'MANIFEST_INVALID');
    await runsOn();

    // a valid manifest whose stateDir moved: the successor would adopt nothing
    const moved = JSON.parse(manifestText);
    moved.stateDir = join(dir, 'elsewhere');
    await writeFile(f.manifestPath, JSON.stringify(moved));
    const movedState = await f.ctl('daemon', 'restart');
    assert.equal(movedState.code, 1, movedState.stdout);
    assert.equal(movedState.json.error.code, 'REFUSED');
    assert.match(movedState.json.error.message, /stateDir is now .*elsewhere.*adopt none of the 2 running gateway/);
    await runsOn();

    // registry.json moved away: the successor would start with an empty registry (new tokens and ports)
    await writeFile(f.manifestPath, manifestText);
    await rename(registryPath, `${registryPath}.away`);
    const missing = await f.ctl('daemon', 'restart');
    assert.equal(missing.code, 1, missing.stdout);
    assert.equal(missing.json.error.code, 'REFUSED');
    assert.ok(missing.json.error.message.startsWith(`restart refused: ${registryPath} is missing`), missing.json.error.message);
    await runsOn();
  } finally {
    await stopFleetd(f).catch(() => undefined);
    await f.ctl('daemon', 'stop').catch(() => undefined);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('fleetctl daemon restart leaves every gateway running and the next fleetd adopts them, restart counts and last exits included; daemon stop stops them all', async () => {
  const dir = await tempDir();
  const f = await startFleetd(dir, twoAgents(), { waitRunning: 2 });
  const seen: number[] = [];
  try {
    // each agent has a history: alpha was killed and came back; beta was killed, came back, then the operator stopped it
    for (const address of ADDRESSES) {
      const [pid] = await fakePids(f.stateDir, address);
      seen.push(pid!);
      process.kill(pid!, 'SIGKILL');
      await waitForAgent(f, address, (a) => a.state === 'running' && a.restarts === 1);
      seen.push(...(await fakePids(f.stateDir, address)));
    }
    assert.equal((await f.ctl('stop', 'agent', 'acme/beta')).code, 0);
    const before = new Map((await status(f)).map((a) => [a.address, a]));
    assert.equal(before.get('acme/alpha')!.lastExit.signal, 'SIGKILL');
    const restarted = await f.ctl('daemon', 'restart');
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.equal(restarted.json.leaving, 'restart');
    assert.equal(restarted.json.gateways, 1);
    assert.equal(await f.exited, 0, 'the old fleetd exited 0');
    assert.equal(f.output().match(/"msg":"left running for the next fleetd to adopt"/g)?.length, 1, 'one line per gateway left running');
    // the successor (same command line) takes the lock and the socket, and adopts
    const health = await waitFor(async () => {
      const r = await f.ctl('status');
      // both listed: the successor answers while it reconciles, and lists an agent it did not
      // adopt (beta, stopped) only once its plan is applied (fleet.ts apply, after a registry write)
      return r.code === 0 && r.json.daemon.pid !== f.child.pid && r.json.agents.length === ADDRESSES.length && r.json.agents.find((a: { address: string }) => a.address === 'acme/alpha')?.state === 'running' ? r.json : undefined;
    }, { timeoutMs: 30_000, what: 'the next fleetd to answer with both agents, alpha running' });
    for (const a of health.agents) {
      const was = before.get(a.address)!;
      assert.equal(a.state, was.state, a.address);
      assert.equal(a.pid, was.pid, `${a.address}: same gateway (or none)`);
      assert.equal(a.restarts, 1, `${a.address}: its restart count is kept, running or stopped`);
      assert.deepEqual(a.lastExit, was.lastExit, `${a.address}: its last exit is kept`);
    }
    assert.equal(health.agents.find((a: { address: string }) => a.address === 'acme/beta').reason, 'stopped by the operator');
    const successor = health.daemon.pid as number;
    const stopped = await f.ctl('daemon', 'stop');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(alive(successor), false, 'fleetctl waited until fleetd exited');
    assert.deepEqual(seen.filter(alive), [], 'every gateway stopped');
  } finally {
    await stopFleetd(f).catch(() => undefined);
    // a successor `daemon restart` started is not our child, but holds our output pipe: a
    // failed assertion above must still stop it, or this test process never ends
    await f.ctl('daemon', 'stop').catch(() => undefined);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});
