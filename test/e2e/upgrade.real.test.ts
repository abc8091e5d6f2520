// Rollouts against REAL OpenClaw, through the built fleetd and fleetctl, one agent (one
// real gateway at a time; the runtimes are cached like the rest of the real suite):
//   2026.9.5 (state schema 17) -> 2026.9.6 (schema 18): preflight says migration-required,
//     the gate (/startupz started, /readyz 200) passes, the agent runs 9.6 on schema 18;
//   back to 2026.9.5: 9.5's own preflight refuses schema 18 before the agent is touched;
//     with --restore it gets the state 9.5 left and passes the gate on 9.5;
//   forced failure: 9.6 with a ready deadline no gateway meets: rolled back, the agent runs
//     9.5 with its old state (schema 17: without the restore 9.5 would refuse it with exit
//     78), and the report names the cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { defaultRuntimeCacheDir } from '../../src/runtime/cache-dir.js';
import { ensureRuntime } from '../../src/runtime/install.js';
import type { ProcRef } from '../../src/supervise/proc.js';
import { waitFor } from '../../src/util/wait-for.js';
import { cleanup, startFleetd, status, stopFleetd, tempDir, writeManifest, type Fleetd } from './harness.js';
import { FIRST_START_TIMEOUT_MS, httpRequest, realManifest, trackTrees, waitRefsDead } from './real-harness.js';

const OLD = '2026.9.5';
const NEW = '2026.9.6';
const ADDRESS = 'acme/solo';
const BOOT_MS = 240_000;

/** NDJSON lines of a fleetctl --json stream. */
function lines(stdout: string): any[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test(`rolling ${OLD} <-> ${NEW} on a real gateway, with the health gate, preflight, --restore and a forced failure rolled back`, { timeout: 30 * 60_000 }, async () => {
  // both runtimes in the shared cache (installed once per machine, minutes the first time)
  const runtimesDir = defaultRuntimeCacheDir();
  const [oldRt, newRt] = [await ensureRuntime({ runtimesDir, version: OLD }), await ensureRuntime({ runtimesDir, version: NEW })];
  const dir = await tempDir();
  const seen = new Map<string, ProcRef>();
  const base = realManifest({ acme: { agents: { solo: {} } } }, { gateway: { openclaw: OLD, stopTimeoutMs: 30_000 } }); // one random port base for both versions of the file
  const manifest = (readyTimeoutMs: number) => ({ ...base, upgrade: { maxParallel: 1, readyTimeoutMs } });
  let f: Fleetd | undefined;
  const agent = async () => (await status(f!)).find((a) => a.address === ADDRESS);
  const ready = () =>
    waitFor(async () => {
      const a = await agent();
      return a?.state === 'running' && a.health.ready === true ? a : undefined;
    }, { timeoutMs: BOOT_MS, intervalMs: 1000, what: `${ADDRESS} running and ready` });
  const db = () => join(f!.stateDir, 'fleets', 'acme', 'solo', '.openclaw', 'state', 'openclaw.sqlite');
  /** The schema of the agent's state database (read-only, with the runtime's node:sqlite). */
  const schema = async () => {
    const script = "const { DatabaseSync } = require('node:sqlite'); const d = new DatabaseSync(process.argv[1], { readOnly: true }); console.log(d.prepare('PRAGMA user_version').get().user_version); d.close();";
    return Number((await execa(newRt.node, ['-e', script, db()], { env: { PATH: '/usr/bin:/bin' }, extendEnv: false })).stdout.trim());
  };
  const upgrade = async (...args: string[]) => {
    const r = await f!.ctl('upgrade', ADDRESS, ...args);
    const last = lines(r.stdout).at(-1);
    return { code: r.code, stderr: r.stderr, result: last?.result, error: last?.error, steps: lines(r.stdout).filter((l) => l.progress).map((l) => l.progress.message) };
  };
  try {
    f = await startFleetd(dir, manifest(180_000));
    const first = await waitFor(async () => {
      const a = await agent();
      return a?.state === 'running' && a.health.ready === true ? a : undefined;
    }, { timeoutMs: FIRST_START_TIMEOUT_MS, intervalMs: 1000, what: `${ADDRESS} on ${OLD}` });
    trackTrees(seen, [first.pid]);
    assert.equal(first.runtime, `openclaw@${OLD}`);
    assert.equal(first.openclaw, OLD, 'status names the OpenClaw version it runs');
    assert.match(first.node, /^\d+\.\d+\.\d+$/, 'and the Node version of its runtime');
    assert.equal(await schema(), 17, `${OLD} writes state schema 17`);

    // 1. up: the target's preflight, then the gate
    const up = await upgrade('--to', NEW);
    assert.equal(up.code, 0, `${up.stderr}\n${up.steps.join('\n')}`);
    assert.equal(up.result.rollout.state, 'succeeded');
    assert.match(up.result.rollout.agents[0].preflight, /state schema 17 -> 2026\.9\.6 supports 18: migration-required/);
    assert.ok(up.steps.some((s) => /on 2026\.9\.6 \(\/startupz started, \/readyz 200\)/.test(s)), up.steps.join('\n'));
    const onNew = await ready();
    trackTrees(seen, [onNew.pid]);
    assert.equal(onNew.runtime, `openclaw@${NEW}`);
    assert.equal(onNew.openclaw, NEW);
    assert.notEqual(onNew.pid, first.pid);
    const startupz = await httpRequest(`http://127.0.0.1:${onNew.port}/startupz`);
    assert.match(startupz.body, /"status":"started","version":"2026\.9\.6"/);
    assert.equal(await schema(), 18, `${NEW} migrated the state to schema 18`);

    // 2. back without the old state: 9.5's own preflight refuses schema 18; nothing touched
    const refused = await upgrade('--to', OLD);
    assert.equal(refused.code, 1);
    assert.equal(refused.result.rollout.failure.phase, 'preflight');
    assert.match(refused.result.rollout.failure.cause, /preflight of 2026\.9\.5 refused its state \(incompatible\): state schema 18 -> 2026\.9\.5 supports 17.*not touched and still runs 2026\.9\.6.*--restore/);
    assert.equal((await agent()).pid, onNew.pid, 'the agent was not restarted');

    // 3. back with --restore: the state 9.5 left, through the same gate
    const back = await upgrade('--to', OLD, '--restore');
    assert.equal(back.code, 0, `${back.stderr}\n${back.steps.join('\n')}`);
    assert.equal(back.result.rollout.state, 'succeeded');
    const onOld = await ready();
    trackTrees(seen, [onOld.pid]);
    assert.equal(onOld.runtime, `openclaw@${OLD}`);
    assert.equal(await schema(), 17, 'the state 9.5 left');

    // 4. forced failure: a ready deadline no real gateway meets; the rollback restores the state
    await writeManifest(dir, manifest(1000));
    const reload = await f.ctl('reload');
    assert.equal(reload.code, 0, reload.stderr);
    const failed = await upgrade('--to', NEW);
    assert.equal(failed.code, 1);
    const r = failed.result.rollout;
    assert.deepEqual([r.state, r.failure.address, r.failure.phase, r.failure.rolledBack], ['failed', ADDRESS, 'verifying', true]);
    assert.match(r.failure.cause, /2026\.9\.6 failed at verifying: not ready within the deadline .*state restored from snapshot .*; 2026\.9\.5 is running again/);
    assert.equal(failed.stderr, '', '--json: the result says it, nothing on stderr');
    const rolledBack = await ready();
    trackTrees(seen, [rolledBack.pid]);
    assert.equal(rolledBack.runtime, `openclaw@${OLD}`);
    assert.equal(rolledBack.openclaw, OLD, 'the rolled-back agent runs the old version again');
    assert.equal(await schema(), 17, 'old state: without the restore 2026.9.5 would refuse the schema 9.6 migrated to');
    const snapshots = join(f.stateDir, 'agents', 'acme', 'solo', 'snapshots');
    assert.ok((await readdir(snapshots)).length >= 1);
    const held = (await f.ctl('upgrade', 'status')).json.held;
    assert.deepEqual(held.map((h: any) => [h.address, h.from, h.to]), [[ADDRESS, OLD, NEW]], 'held on 9.5 until another version is wanted');
    assert.ok(oldRt.dir !== newRt.dir);
  } finally {
    if (f) await stopFleetd(f);
    await waitRefsDead(seen.values());
    await cleanup(dir);
  }
});
