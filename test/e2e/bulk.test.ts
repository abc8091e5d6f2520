// End to end: `fleetctl stop fleet F`, `stop --all`, `start fleet F`, `start --all` against
// the built fleetd with the fake gateway: every agent of the scope acted on (and no other),
// a line per agent as it ends (NDJSON with --json, then the result), whole process trees
// gone after a stop, the operator's wish kept across a fleetd restart, disabled agents
// skipped, an agent that cannot come back failing the run (exit 1) while the others start.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alive, cleanup, fakePids, fakeManifest, refuseMarker, run, startFleetd, status, stopFleetd, tempDir, waitAllDead, waitForRunning, writeSwitchableGateway, FLEETCTL, type Fleetd } from './harness.js';

/** fleetctl without --json (the human output). */
function human(f: Fleetd, ...args: string[]) {
  return run(process.execPath, [FLEETCTL, '--socket', f.socket, ...args]);
}

/** NDJSON lines of a --json bulk run. */
function lines(stdout: string): any[] {
  return stdout.trim().split('\n').map((line) => JSON.parse(line));
}

/** Living pids of every agent whose address matches `pick`, from their fake-pids.json. */
async function treePids(f: Fleetd, pick: (address: string) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (const a of await status(f)) if (pick(a.address) && a.pid) out.push(...(await fakePids(f.stateDir, a.address)));
  return out;
}

describe('stop/start of a fleet and of every agent', () => {
  let dir: string;
  let f: Fleetd;
  const seen = new Set<number>();
  const remember = (pids: number[]) => pids.forEach((p) => seen.add(p));

  before(async () => {
    dir = await tempDir();
    const command = await writeSwitchableGateway(dir);
    const manifest = fakeManifest(
      { acme: { agents: { a: {}, b: {}, c: {} } }, beta: { agents: { x: {}, off: { enabled: false } } } },
      { startConcurrency: 2, gateway: { command, stopTimeoutMs: 3000 } },
    );
    f = await startFleetd(dir, manifest, { waitRunning: 4 });
    remember(await treePids(f, () => true));
  });

  after(async () => {
    if (f) assert.equal(await stopFleetd(f), 0);
    await waitAllDead([...seen]);
    await cleanup(dir);
  });

  test('stop fleet: every agent of that fleet, whole trees gone, NDJSON lines then the result; other fleets untouched', async () => {
    const acme = await treePids(f, (a) => a.startsWith('acme/'));
    const beta = await treePids(f, (a) => a.startsWith('beta/'));
    assert.equal(acme.length, 9);
    const r = await f.ctl('stop', 'fleet', 'acme');
    assert.equal(r.code, 0, r.stderr);
    const events = lines(r.stdout);
    const progress = events.filter((e) => e.progress).map((e) => e.progress);
    assert.deepEqual(progress.map((p) => p.address).sort(), ['acme/a', 'acme/b', 'acme/c']);
    assert.ok(progress.every((p) => p.step === 'stopped' && /^pid \d+ stopped$/.test(p.reason)), JSON.stringify(progress));
    const result = events.at(-1).result;
    assert.equal(result.action, 'stop');
    assert.equal(result.scope, 'fleet acme');
    assert.deepEqual(result.done.sort(), ['acme/a', 'acme/b', 'acme/c']);
    assert.deepEqual(result.failed, []);
    // answered only once every tree is down: helpers in their own sessions included
    assert.deepEqual(acme.filter(alive), []);
    assert.ok(beta.every(alive), 'beta kept running');
    const agents = await status(f);
    for (const a of agents.filter((x) => x.fleet === 'acme')) {
      assert.equal(a.state, 'stopped');
      assert.equal(a.desired, 'stopped');
    }
    assert.equal(agents.find((a) => a.address === 'beta/x').state, 'running');
  });

  test('start fleet: every agent of it running again (a line per agent), human output and summary', async () => {
    const r = await human(f, 'start', 'fleet', 'acme');
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.trim().split('\n').sort();
    assert.equal(out.length, 3);
    for (const [i, name] of ['a', 'b', 'c'].entries()) assert.match(out[i]!, new RegExp(`^started acme/${name}: running as pid \\d+$`));
    assert.match(r.stderr, /^start fleet acme: 3 started, 0 failed$/m);
    const agents = await status(f);
    assert.ok(agents.filter((a) => a.fleet === 'acme').every((a) => a.state === 'running' && a.desired === 'running'));
    remember(await treePids(f, () => true));
  });

  test('an unknown fleet is NOT_FOUND (exit 1); usage errors exit 2 before connecting', async () => {
    const r = await f.ctl('stop', 'fleet', 'nosuch');
    assert.equal(r.code, 1);
    assert.equal(r.json.error.code, 'NOT_FOUND');
    assert.match(r.json.error.message, /no fleet nosuch/);
    const s = await f.ctl('start', 'fleet', 'nosuch');
    assert.equal(s.json.error.code, 'NOT_FOUND');
    for (const args of [['stop'], ['start'], ['stop', '--all', 'agent', 'acme/a'], ['start', '--all', 'fleet', 'acme'], ['stop', 'fleet', 'Acme'], ['stop', '--all', '--timeout', 'soon']]) {
      const u = await run(process.execPath, [FLEETCTL, '--socket', join(dir, 'no-such.sock'), ...args]);
      assert.equal(u.code, 2, `${args.join(' ')}: ${u.stderr}`);
    }
    assert.equal((await status(f)).filter((a) => a.state === 'running').length, 4, 'nothing was stopped');
  });

  test('stop --all: every agent stopped, no gateway process left, fleetd keeps answering; they stay stopped across a fleetd restart', async () => {
    const all = await treePids(f, () => true);
    remember(all);
    const r = await f.ctl('stop', '--all', '--timeout', '2000');
    assert.equal(r.code, 0, r.stderr);
    const result = lines(r.stdout).at(-1).result;
    assert.equal(result.scope, 'all');
    // beta/off (disabled) was never running: already stopped, not stopped by this command
    assert.deepEqual(result.done.sort(), ['acme/a', 'acme/b', 'acme/c', 'beta/x']);
    assert.deepEqual(result.already, ['beta/off']);
    assert.deepEqual(result.steps.find((s: any) => s.address === 'beta/off'), { address: 'beta/off', step: 'stopped', reason: 'was already stopped', already: true });
    const again = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'stop', '--all']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.stdout.trimEnd().split('\n').sort(), ['already stopped acme/a', 'already stopped acme/b', 'already stopped acme/c', 'already stopped beta/off', 'already stopped beta/x']);
    assert.equal(again.stderr, 'stop all: 0 stopped, 5 already stopped, 0 failed\n');
    assert.deepEqual(all.filter(alive), []);
    assert.ok((await status(f)).every((a) => a.state === 'stopped' && a.pid === null));

    assert.equal(await stopFleetd(f), 0);
    f = await startFleetd(dir, JSON.parse(await readFile(f.manifestPath, 'utf8')));
    const agents = await status(f);
    assert.ok(agents.every((a) => a.state === 'stopped'), JSON.stringify(agents.map((a) => [a.address, a.state])));
  });

  test('start --all: disabled agents skipped, an agent that cannot come back fails the run (exit 1) while the others run', async () => {
    await writeFile(refuseMarker(dir, 'acme/b'), '');
    try {
      const r = await f.ctl('start', '--all');
      assert.equal(r.code, 1);
      const result = lines(r.stdout).at(-1).result;
      assert.deepEqual(result.done.sort(), ['acme/a', 'acme/c', 'beta/x']);
      assert.deepEqual(result.skipped, [{ address: 'beta/off', reason: 'disabled in the manifest' }]);
      assert.equal(result.failed.length, 1);
      assert.equal(result.failed[0].address, 'acme/b');
      assert.match(result.failed[0].reason, /^failed: .*code 78/);
      assert.equal(r.stderr, '', '--json: the result says it, nothing on stderr');
      const text = await human(f, 'start', 'fleet', 'acme');
      assert.equal(text.code, 1);
      assert.match(text.stderr, /1 agent\(s\) failed to start, first acme\/b/);
      await waitForRunning(f, 3);
      remember(await treePids(f, () => true));
    } finally {
      await rm(refuseMarker(dir, 'acme/b'), { force: true });
    }
  });

  test('start --all --no-wait answers once the launches began; they come up after', async () => {
    const stopped = await f.ctl('stop', 'fleet', 'acme');
    assert.equal(stopped.code, 0, stopped.stderr);
    const r = await f.ctl('start', '--all', '--no-wait');
    assert.equal(r.code, 0, r.stderr);
    const result = lines(r.stdout).at(-1).result;
    const byAddress = Object.fromEntries(result.steps.map((s: any) => [s.address, s.step]));
    assert.equal(byAddress['beta/x'], 'started', 'already running');
    assert.deepEqual(result.already, ['beta/x']);
    assert.ok(!result.done.includes('beta/x'), 'not counted as started by this command');
    for (const a of ['acme/a', 'acme/b', 'acme/c']) assert.ok(['starting', 'started'].includes(byAddress[a]), `${a}: ${byAddress[a]}`);
    await waitForRunning(f, 4);
    remember(await treePids(f, () => true));
  });
});
