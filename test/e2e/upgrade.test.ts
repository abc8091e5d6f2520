// Rollouts through the BUILT fleetd and fleetctl, on fake OpenClaw runtimes (real processes:
// test/fixtures/fake-openclaw.mjs runs the fake gateway after a "schema migration", and
// refuses a newer schema with exit 78 like OpenClaw). Covers --dry-run, order and
// maxParallel, the health gate, rollback with the old state restored, a reload that changes
// the pin, and a fleetd killed mid-rollout that resumes it at its next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../../src/util/wait-for.js';
import { installFakeRuntime } from '../support/fake-runtime.js';
import { agentHome, cleanup, ctlText, fakeInfo, fakeManifest, startFleetd, status, stopFleetd, tempDir, waitAllDead, waitForRunning, writeManifest, type Fleetd } from './harness.js';

/** The fake manifest, on managed (fake) runtimes pinned to `version`. */
function manifest(dir: string, version: string, agents: string[], upgrade: Record<string, unknown>): Record<string, unknown> {
  const base = fakeManifest({ acme: { agents: Object.fromEntries(agents.map((a) => [a, {}])) } });
  return { ...base, runtimesDir: join(dir, 'rt'), gateway: { openclaw: version, stopTimeoutMs: 3000 }, upgrade };
}

/** The schema the fake state of an agent was last written with (and by which version). */
async function stateSchema(f: Fleetd, address: string): Promise<{ schema: number; writer: string }> {
  return JSON.parse(await readFile(join(agentHome(f.stateDir, address), '.openclaw', 'state', 'fake-schema.json'), 'utf8'));
}

/** NDJSON lines of a fleetctl --json stream. */
function lines(stdout: string): any[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Every gateway pid an agent has had, from its fake-pids.json (for the final liveness check). */
async function gatewayPids(f: Fleetd, addresses: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const a of addresses) {
    const info = await fakeInfo(f.stateDir, a).catch(() => undefined);
    if (info) out.push(info.pid, info.helperPid, info.workerPid);
  }
  return out;
}

test('fleetctl upgrade: dry run, gated batches of maxParallel, and a failing target rolled back with its old state', { timeout: 120_000 }, async () => {
  const dir = await tempDir();
  const seen: number[] = [];
  await installFakeRuntime(join(dir, 'rt'), '1.0.0', { schema: 1 });
  await installFakeRuntime(join(dir, 'rt'), '2.0.0', { schema: 2, handoff: true, preflight: true });
  await installFakeRuntime(join(dir, 'rt'), '3.0.0', { schema: 3, gateway: 'not-ready' });
  const agents = ['acme/a', 'acme/b', 'acme/c'];
  const f = await startFleetd(dir, manifest(dir, '1.0.0', ['a', 'b', 'c'], { maxParallel: 2, readyTimeoutMs: 4000 }), { waitRunning: 3 });
  try {
    const before = await status(f);
    seen.push(...(await gatewayPids(f, agents)));

    // --dry-run: the plan, nothing changed
    const dry = await f.ctl('upgrade', 'acme', '--to', '2.0.0', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    const plan = lines(dry.stdout).at(-1).result;
    assert.equal(plan.dryRun, true);
    assert.deepEqual(plan.rollout.agents.map((a: any) => [a.address, a.batch, a.from, a.to]), [['acme/a', 0, '1.0.0', '2.0.0'], ['acme/b', 0, '1.0.0', '2.0.0'], ['acme/c', 1, '1.0.0', '2.0.0']]);
    assert.deepEqual((await status(f)).map((a) => [a.pid, a.runtime]), before.map((a) => [a.pid, 'openclaw@1.0.0']));
    assert.deepEqual((await f.ctl('upgrade', 'status')).json.overrides, []);

    // the rollout: a and b together, then c; each through the gate
    const up = await f.ctl('upgrade', 'acme', '--to', '2.0.0');
    assert.equal(up.code, 0, up.stderr);
    const events = lines(up.stdout);
    const result = events.at(-1).result;
    assert.equal(result.rollout.state, 'succeeded', JSON.stringify(result.rollout.failure));
    assert.match(result.persist, /set fleets\.acme\.gateway\.openclaw: "2\.0\.0" in .*fleets\.json5/);
    const steps = events.filter((e) => e.progress).map((e) => `${e.progress.address} ${e.progress.phase}`);
    assert.ok(steps.indexOf('acme/b starting') < steps.indexOf('acme/a done') || steps.indexOf('acme/a starting') < steps.indexOf('acme/b done'), 'a and b overlap');
    assert.ok(steps.indexOf('acme/c preflight') > Math.max(steps.indexOf('acme/a done'), steps.indexOf('acme/b done')), `c waits for the first batch: ${steps.join(', ')}`);
    const after = await waitForRunning(f, 3);
    for (const a of after) {
      assert.equal(a.runtime, 'openclaw@2.0.0');
      assert.notEqual(a.pid, before.find((b) => b.address === a.address)!.pid);
      assert.deepEqual(await stateSchema(f, a.address), { schema: 2, writer: '2.0.0' });
      assert.equal((await readdir(join(f.stateDir, 'agents', 'acme', a.agent, 'snapshots'))).length, 1, 'one snapshot taken before its restart');
    }
    seen.push(...(await gatewayPids(f, agents)));

    // 3.0.0 migrates the state, then never becomes ready: rolled back, old state restored
    const bad = await f.ctl('upgrade', 'acme/b', '--to', '3.0.0');
    assert.equal(bad.code, 1, 'a failed rollout exits 1');
    assert.equal(bad.stderr, '', '--json: the result says it, nothing on stderr');
    const failed = lines(bad.stdout).at(-1).result.rollout;
    assert.equal(failed.state, 'failed');
    assert.deepEqual([failed.failure.address, failed.failure.phase, failed.failure.rolledBack], ['acme/b', 'verifying', true]);
    assert.match(failed.failure.cause, /3\.0\.0 failed at verifying: not ready within the deadline \(last: \/readyz 503.*\); state restored from snapshot .*; 2\.0\.0 is running again/);
    const b = (await waitForRunning(f, 3)).find((a) => a.address === 'acme/b');
    assert.equal(b.runtime, 'openclaw@2.0.0');
    assert.deepEqual(await stateSchema(f, 'acme/b'), { schema: 2, writer: '2.0.0' }, 'without the restore, 2.0.0 would refuse schema 3 with exit 78');
    const snapshots = await readdir(join(f.stateDir, 'agents', 'acme', 'b', 'snapshots'));
    const replaced = snapshots.map((s) => join(f.stateDir, 'agents', 'acme', 'b', 'snapshots', s, 'replaced', 'state', 'fake-schema.json')).find((p) => existsSync(p));
    assert.ok(replaced && JSON.parse(await readFile(replaced, 'utf8')).schema === 3, 'the state 3.0.0 left is kept next to the snapshot');

    const st = (await f.ctl('upgrade', 'status')).json;
    assert.equal(st.rollout.state, 'failed');
    assert.deepEqual(st.overrides.map((o: any) => [o.scope, o.openclaw]).sort(), [['acme', '2.0.0'], ['acme/b', '3.0.0']]);
    seen.push(...(await gatewayPids(f, agents)));

    // back to 1.0.0: its gateway refuses the schema 2.0.0 migrated to (exit 78), so the gate fails and c stays on 2.0.0 ...
    const down = await f.ctl('upgrade', 'acme/c', '--to', '1.0.0');
    assert.equal(down.code, 1);
    assert.match(lines(down.stdout).at(-1).result.rollout.failure.cause, /1\.0\.0 failed at verifying: failed: .*exit(ed with)? (code )?78/);
    assert.equal((await waitForRunning(f, 3)).find((a) => a.address === 'acme/c').runtime, 'openclaw@2.0.0');
    seen.push(...(await gatewayPids(f, agents)));
    // ... and with --restore it gets the state 1.0.0 left back, and runs
    const restored = await f.ctl('upgrade', 'acme/c', '--to', '1.0.0', '--restore');
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(lines(restored.stdout).at(-1).result.rollout.state, 'succeeded');
    assert.equal((await waitForRunning(f, 3)).find((a) => a.address === 'acme/c').runtime, 'openclaw@1.0.0');
    assert.deepEqual(await stateSchema(f, 'acme/c'), { schema: 1, writer: '1.0.0' });
    const none = await f.ctl('upgrade', 'acme/a', '--to', '3.0.0', '--restore');
    assert.equal(none.code, 1);
    assert.match(lines(none.stdout).at(-1).error.message, /no snapshot of acme\/a with the state 3\.0\.0 left/);
    assert.equal(none.stderr, '', '--json: the error is the last NDJSON line, nothing on stderr');
    const log = await f.ctl('events', '-n', '500');
    assert.ok(lines(log.stdout).some((e) => e.type === 'rollout.step' && e.address === 'acme/b' && e.phase === 'rolled-back'));
    seen.push(...(await gatewayPids(f, agents)));
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('a reload that changes the pin is a rollout; fleetd killed mid-rollout restores the unverified agent and resumes', { timeout: 120_000 }, async () => {
  const dir = await tempDir();
  const seen: number[] = [];
  await installFakeRuntime(join(dir, 'rt'), '1.0.0', { schema: 1 });
  await installFakeRuntime(join(dir, 'rt'), '2.0.0', { schema: 2, gateway: 'slow-start:2500' });
  const agents = ['acme/a', 'acme/b'];
  const settings = { maxParallel: 1, readyTimeoutMs: 20_000 };
  let f = await startFleetd(dir, manifest(dir, '1.0.0', ['a', 'b'], settings), { waitRunning: 2 });
  try {
    seen.push(...(await gatewayPids(f, agents)));
    await writeManifest(dir, manifest(dir, '2.0.0', ['a', 'b'], settings));
    const dry = await f.ctl('reload', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal((await f.ctl('upgrade', 'status')).json.rollout, null, 'a dry run starts no rollout');
    const reload = await f.ctl('reload');
    assert.equal(reload.code, 0, reload.stderr);
    assert.deepEqual(reload.json.actions, [], 'no restart by the reload itself: the rollout restarts them one at a time');
    // a is on 2.0.0 but not yet verified (its gateway takes 2.5 s to listen): kill fleetd now
    await waitFor(
      async () => {
        const r = (await f.ctl('upgrade', 'status')).json?.rollout;
        return r?.agents.find((x: any) => x.address === 'acme/a')?.phase === 'verifying' && existsSync(join(agentHome(f.stateDir, 'acme/a'), 'fake-pids.json')) ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'acme/a to be verified on 2.0.0' },
    );
    await waitFor(async () => (await stateSchema(f, 'acme/a')).schema === 2, { timeoutMs: 10_000, what: 'the new runtime to migrate a' });
    // another pin for agents the rollout is moving: refused, nothing changed
    await writeManifest(dir, manifest(dir, '1.0.0', ['a', 'b'], settings));
    const fight = await f.ctl('reload');
    assert.equal(fight.code, 1);
    assert.match(fight.json.error.message, /rollout \S+ is moving acme\/a \(rollout: 2\.0\.0, manifest: 1\.0\.0\), acme\/b .*wait for it to finish/);
    await writeManifest(dir, manifest(dir, '2.0.0', ['a', 'b'], settings));
    seen.push(...(await gatewayPids(f, agents)));
    f.child.kill('SIGKILL');
    await f.exited;

    // the next fleetd: a's snapshot is restored, the rollout resumes and completes
    f = await startFleetd(dir, manifest(dir, '2.0.0', ['a', 'b'], settings));
    const done = await waitFor(
      async () => {
        const r = (await f.ctl('upgrade', 'status')).json?.rollout;
        return r && (r.state === 'succeeded' || r.state === 'failed') ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the resumed rollout to finish' },
    );
    assert.equal(done.state, 'succeeded', JSON.stringify(done.failure));
    assert.equal(done.source, 'reload');
    assert.deepEqual(done.agents.map((a: any) => [a.address, a.phase]), [['acme/a', 'done'], ['acme/b', 'done']]);
    assert.match(f.output(), /acme\/a: was starting on 2\.0\.0 when fleetd stopped, not yet verified: snapshot restored, back on 1\.0\.0, will be tried again/);
    for (const a of await waitForRunning(f, 2)) {
      assert.equal(a.runtime, 'openclaw@2.0.0');
      assert.deepEqual(await stateSchema(f, a.address), { schema: 2, writer: '2.0.0' });
    }
    seen.push(...(await gatewayPids(f, agents)));
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('fleetctl upgrade of agents that run a fixed gateway.command: refused as not upgradable (dry run too), nothing changed', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const seen: number[] = [];
  const agents = ['acme/a', 'acme/b'];
  const f = await startFleetd(dir, fakeManifest({ acme: { agents: { a: {}, b: {} } } }), { waitRunning: 2 });
  try {
    const before = await status(f);
    seen.push(...(await gatewayPids(f, agents)));
    const dry = await ctlText(f, 'upgrade', 'acme', '--to', '2.0.0', '--dry-run');
    assert.equal(dry.code, 1, dry.stdout);
    assert.doesNotMatch(dry.stdout, /nothing to do/);
    assert.match(dry.stderr, /not upgradable: acme\/a, acme\/b run a fixed gateway\.command, not an OpenClaw version/);
    assert.match(dry.stderr, /set fleets\.acme\.gateway\.openclaw: "2\.0\.0" in .*fleets\.json5 and run fleetctl reload/);
    for (const target of ['acme', 'acme/b']) {
      const up = await f.ctl('upgrade', target, '--to', '2.0.0');
      assert.equal(up.code, 1, up.stdout);
      assert.equal(lines(up.stdout).at(-1).error.code, 'REFUSED');
    }
    assert.deepEqual((await f.ctl('upgrade', 'status')).json.overrides, []);
    assert.deepEqual((await status(f)).map((a) => [a.address, a.pid, a.runtime]), before.map((a) => [a.address, a.pid, a.runtime]));
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});
