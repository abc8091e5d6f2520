// The build never leaves a running checkout without dist/: scripts/build.mjs compiles into a
// staging folder and moves each file into dist/ with one rename. While it runs, fleetctl
// from the same checkout keeps answering (here: `status` against a running fleetd, in a
// loop, until the build has finished).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fakeManifest, REPO, withFleetd, fakePids } from './harness.js';

test('fleetctl status keeps working while `npm run build` rebuilds dist/', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { korax: {} } } }), { waitRunning: 1 }, async (f, seen) => {
    seen.push(...(await fakePids(f.stateDir, 'acme/korax')));
    const build = spawn(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buildErr = '';
    build.stderr.on('data', (d) => (buildErr += d));
    const done = new Promise<number | null>((resolve) => build.on('exit', (code) => resolve(code)));
    let finished = false;
    void done.then(() => (finished = true));
    let calls = 0;
    while (!finished) {
      const r = await f.ctl('status');
      calls += 1;
      assert.equal(r.code, 0, `fleetctl status failed during the build (call ${calls}): ${r.stderr}`);
      assert.equal(r.json.agents[0].address, 'acme/korax');
      assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND/);
    }
    assert.equal(await done, 0, buildErr);
    assert.ok(calls >= 1);
    const after = await f.ctl('status');
    assert.equal(after.code, 0, after.stderr);
  });
});
