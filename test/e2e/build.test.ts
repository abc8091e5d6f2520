// The build never leaves a running checkout without dist/: scripts/build.mjs compiles into a
// staging folder and moves each file into dist/ with one rename. While it runs, fleetctl
// from the same checkout keeps answering (here: `status` against a running fleetd, in a
// loop, until the build has finished).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMemoryAddon } from '../../src/daemon/memory-reclaim.js';
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

/** Runs scripts/build-native.mjs's buildNativeShim(out) (or `builder`) in a child with CC set; its result and warnings. */
function buildNative(cc: string, out: string, builder: 'buildNativeShim' | 'buildMemoryAddon' = 'buildNativeShim'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const script = `import(${JSON.stringify(join(REPO, 'scripts', 'build-native.mjs'))}).then((m) => console.log(JSON.stringify(m.${builder}(${JSON.stringify(out)}))))`;
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

test('the memory addon builds with CC as words and loads; without a compiler the build warns and goes on; a failed compile fails it, leaving nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-cc-'));
  try {
    const built = await buildNative('cc -O1 -fvisibility=hidden', join(dir, 'a', 'fleetd-memory.node'), 'buildMemoryAddon');
    assert.equal(built.code, 0, built.stderr);
    assert.equal(built.stdout.trim(), 'true', built.stderr);
    const loaded = loadMemoryAddon(join(dir, 'a', 'fleetd-memory.node'));
    assert.ok('addon' in loaded && loaded.addon.lowMemoryAvailable(), JSON.stringify(loaded));

    const missing = await buildNative('/nonexistent/cc', join(dir, 'b', 'fleetd-memory.node'), 'buildMemoryAddon');
    assert.equal(missing.code, 0);
    assert.equal(missing.stdout.trim(), 'false');
    assert.match(missing.stderr, /no C compiler: \/nonexistent\/cc not found; the memory addon is not built/);

    // a compiler that cannot build it (here: a header that is not there)
    const failing = await buildNative('cc -include /nonexistent/fleetd-missing.h', join(dir, 'c', 'fleetd-memory.node'), 'buildMemoryAddon');
    assert.notEqual(failing.code, 0, 'a failed compile fails the build');
    assert.match(failing.stderr, /fleetd-missing\.h/, 'the compiler says why');
    assert.match(failing.stderr, /compiling the memory addon failed \(cc -include \/nonexistent\/fleetd-missing.h exited 1\)/);
    assert.deepEqual(await readdir(join(dir, 'c')), [], 'no half-written file left');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
