// The build never leaves a running checkout without dist/: scripts/build.mjs compiles into a
// staging folder and moves each file into dist/ with one rename. While it runs, fleetctl
// from the same checkout keeps answering (here: `status` against a running fleetd, in a
// loop, until the build has finished).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

/** Runs scripts/build-native.mjs's buildNativeShim(out) in a child with CC set; its result and warnings. */
function buildNative(cc: string, out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const script = `import(${JSON.stringify(join(REPO, 'scripts', 'build-native.mjs'))}).then((m) => console.log(JSON.stringify(m.buildNativeShim(${JSON.stringify(out)}))))`;
    const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, CC: cc }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the native shim build takes CC as words (a compiler with arguments, as make does) and names why it builds none', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-cc-'));
  try {
    const withFlags = await buildNative('cc -DFLEETD_BUILD_TEST -O1', join(dir, 'a', 'fleetd-shim'));
    assert.equal(withFlags.code, 0, withFlags.stderr);
    assert.equal(withFlags.stdout.trim(), 'true', withFlags.stderr);
    assert.ok((await stat(join(dir, 'a', 'fleetd-shim'))).mode & 0o100);

    const missing = await buildNative('/nonexistent/cc', join(dir, 'b', 'fleetd-shim'));
    assert.equal(missing.stdout.trim(), 'false');
    assert.match(missing.stderr, /no C compiler: \/nonexistent\/cc not found; the native shim is not built/);

    const broken = await buildNative('false', join(dir, 'c', 'fleetd-shim'));
    assert.equal(broken.stdout.trim(), 'false');
    assert.match(broken.stderr, /the C compiler does not run: `false --version` exited 1/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
