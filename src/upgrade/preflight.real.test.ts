// The tools around a rollout, against the REAL OpenClaw runtime (cached like the rest of
// the real suite): capability probes, the target's database preflight on a copy taken
// while the gateway runs, a snapshot, a database a newer writer marked (the gateway then
// refuses it with exit 78), the restore that brings the old state back (it boots again),
// and the restart handoff a gateway leaves when asked to restart without OPENCLAW_NO_RESPAWN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { defaultRuntimeCacheDir } from '../runtime/cache-dir.js';
import { createCapabilityProbe } from '../runtime/capabilities.js';
import { consumeRestartHandoff } from '../runtime/handoff.js';
import { ensureRuntime } from '../runtime/install.js';
import type { Runtime } from '../runtime/types.js';
import { withTempDir } from '../util/temp-dir.js';
import { makeRealHome, startRealGateway, waitStarted } from '../../test/support/real-gateway.js';
import { trackTrees, waitRefsDead } from '../../test/e2e/real-harness.js';
import type { ProcRef } from '../supervise/proc.js';
import { preflightState, STATE_DB } from './preflight.js';
import { restoreSnapshot, takeSnapshot } from './snapshot.js';
import { copySqlite } from './sqlite-copy.js';

const VERSION = '2026.9.6';

/** PRAGMA user_version of a database, read (or set) with the runtime's node:sqlite. */
async function userVersion(runtime: Runtime, db: string, set?: number): Promise<number> {
  const script = `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1]);${set === undefined ? '' : ` db.exec('PRAGMA user_version = ${set}');`} console.log(db.prepare('PRAGMA user_version').get().user_version); db.close();`;
  const { stdout } = await execa(runtime.node, ['-e', script, db], { env: { PATH: '/usr/bin:/bin' }, extendEnv: false });
  return Number(stdout.trim());
}

test('probe, preflight, snapshot, refuse, restore and handoff on the real runtime', { timeout: 20 * 60_000 }, () =>
  withTempDir(async (dir) => {
    const runtime = await ensureRuntime({ runtimesDir: defaultRuntimeCacheDir(), version: VERSION });
    const caps = await createCapabilityProbe().get(runtime);
    assert.deepEqual(caps.restartHandoff, { offered: true, protocolVersion: 1, operations: ['consume'] });
    assert.equal(caps.databasePreflight.offered, true);
    assert.equal(caps.agentPreflight.offered, true);

    // 1. a gateway that may restart itself through a handoff (no OPENCLAW_NO_RESPAWN)
    const seen = new Map<string, ProcRef>();
    const h = await makeRealHome(dir, runtime, { noRespawn: false });
    const first = startRealGateway(runtime, h);
    try {
      await waitStarted(first, h.port);
      trackTrees(seen, [first.pid]);
      const db = join(h.openclawDir, STATE_DB);
      assert.ok(existsSync(`${db}-wal`), 'a running gateway keeps its state database in WAL mode');

      // the target's preflight on a copy taken while the gateway runs
      const live = await preflightState({ target: runtime, offered: true, openclawDir: h.openclawDir, workDir: dir });
      assert.equal(live.status, 'exact', live.detail);
      assert.equal(live.ok, true);
      assert.match(live.detail, /state schema \d+ -> 2026\.9\.6 supports \d+: exact/);

      // a consistent standalone copy: no sidecars, readable, same schema
      const copy = join(dir, 'copy.sqlite');
      const { pages } = await copySqlite({ node: runtime.node, source: db, target: copy });
      assert.ok(pages > 0);
      assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('copy.sqlite')), ['copy.sqlite']);
      assert.equal(await userVersion(runtime, copy), await userVersion(runtime, db));

      // `openclaw gateway restart` under an external supervisor: the gateway writes a handoff and exits 0
      const restart = execa(runtime.node, [runtime.entry, 'gateway', 'restart', '--json'], { env: h.env, extendEnv: false, cwd: h.home, reject: false, timeout: 120_000 });
      assert.equal(await first.exited, 0, first.output().slice(-1500));
      restart.kill('SIGKILL'); // it waits for a replacement that only fleetd would start
      const outcome = await consumeRestartHandoff({ runtime, env: h.env, cwd: h.home, expectedPid: first.pid });
      assert.deepEqual(outcome, { restart: true, reason: 'restart requested by OpenClaw (gateway.restart, operator-restart)' });
      const twice = await consumeRestartHandoff({ runtime, env: h.env, cwd: h.home, expectedPid: first.pid });
      assert.equal(twice.restart, false, 'a handoff is consumed once');
    } finally {
      await first.stop();
    }

    // 2. snapshot the stopped state, then let "a newer writer" mark the database
    const snapshotsDir = join(dir, 'agents', 'test', 'gateway', 'snapshots');
    const snap = await takeSnapshot({ address: 'test/gateway', openclawDir: h.openclawDir, snapshotsDir, node: runtime.node, runtime: runtime.key });
    assert.ok(snap.databases.includes(STATE_DB), snap.databases.join(','));
    const schema = await userVersion(runtime, join(h.openclawDir, STATE_DB));
    await userVersion(runtime, join(h.openclawDir, STATE_DB), 99);
    const refused = await preflightState({ target: runtime, offered: true, openclawDir: h.openclawDir, workDir: dir });
    assert.deepEqual([refused.ok, refused.status], [false, 'incompatible'], refused.detail);
    assert.match(refused.detail, /state schema 99 -> 2026\.9\.6 supports/);
    const second = startRealGateway(runtime, h);
    assert.equal(await second.exited, 78, `a newer schema is refused with EX_CONFIG:\n${second.output().slice(-1500)}`);

    // 3. the restore brings back the state the gateway accepts
    await restoreSnapshot({ openclawDir: h.openclawDir, snapshotsDir, id: snap.id });
    assert.equal(await userVersion(runtime, join(h.openclawDir, STATE_DB)), schema);
    const third = startRealGateway(runtime, h);
    try {
      await waitStarted(third, h.port);
      trackTrees(seen, [third.pid]);
    } finally {
      assert.equal(await third.stop(), 0);
    }
    await waitRefsDead(seen.values());
  }),
);
