// The build never leaves a running checkout without dist/: scripts/build.mjs compiles into a
// staging folder and moves each file into dist/ with one rename. While it runs, fleetctl
// from the same checkout keeps answering (here: `status` against a running fleetd, in a
// loop, until the build has finished). The native parts (scripts/build-native.mjs): an explicit
// CC that does not run fails the build, CC unset and no `cc` builds without them (a warning),
// and an expected failure ends in one line without a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMemoryAddon } from '../../src/daemon/memory-reclaim.js';
import { fakeManifest, REPO, run, withFleetd, fakePids, type CtlResult } from './harness.js';

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

/** `env` over this process's environment; a key set to undefined is removed. */
function envWith(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete out[key];
  return out;
}

/**
 * Runs scripts/build-native.mjs's buildNativeShim(out) (or `builder`) in a child, inside runBuild as
 * the build scripts run it, with `env` over this environment (node by its absolute path, so PATH
 * may lack it); its result on stdout, its warnings or error line on stderr, its exit code.
 */
function buildNative(env: Record<string, string | undefined>, out: string, builder: 'buildNativeShim' | 'buildMemoryAddon' = 'buildNativeShim'): Promise<CtlResult> {
  const script = `import(${JSON.stringify(join(REPO, 'scripts', 'build-native.mjs'))}).then((m) => m.runBuild(() => console.log(JSON.stringify(m.${builder}(${JSON.stringify(out)})))))`;
  return run(process.execPath, ['-e', script], { env: envWith(env) });
}

/** A line of a Node stack trace ("    at main (file:///...)"). */
const STACK_FRAME = /^\s+at /m;

/** What the build says, and how it ends, for an explicit CC that does not run. */
function assertBadCc(r: CtlResult, cc: string, why: string, label: string): void {
  assert.equal(r.code, 1, `${label}: ${r.stderr}`);
  assert.equal(r.stdout, '', label);
  assert.equal(r.stderr, `build: CC is set to \`${cc}\` but it does not run (${why}); unset CC to build without native parts, or point it at a C compiler\n`, label);
}

test('the native shim build takes CC as words (a compiler with arguments, as make does)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-cc-'));
  try {
    const withFlags = await buildNative({ CC: 'cc -DFLEETD_BUILD_TEST -O1' }, join(dir, 'a', 'fleetd-shim'));
    assert.equal(withFlags.code, 0, withFlags.stderr);
    assert.equal(withFlags.stdout.trim(), 'true', withFlags.stderr);
    assert.ok((await stat(join(dir, 'a', 'fleetd-shim'))).mode & 0o100);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a CC that is set but does not run fails the build, naming CC, in one line: both builders build nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-cc-'));
  try {
    await writeFile(join(dir, 'not-executable'), '');
    for (const builder of ['buildNativeShim', 'buildMemoryAddon'] as const) {
      const out = join(dir, builder, 'out');
      assertBadCc(await buildNative({ CC: '/nonexistent/cc' }, out, builder), '/nonexistent/cc', 'not found', `${builder}, missing`);
      assertBadCc(await buildNative({ CC: ' false ' }, out, builder), 'false', '`false --version` exited 1', `${builder}, exits 1`);
      assertBadCc(await buildNative({ CC: join(dir, 'not-executable') }, out, builder), join(dir, 'not-executable'), `\`${join(dir, 'not-executable')} --version\` failed: EACCES`, `${builder}, not executable`);
      assert.deepEqual(await readdir(dir), ['not-executable'], `${builder} made nothing`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('CC unset (or blank) and no `cc` that runs on PATH: both builders warn, build nothing, and the build goes on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-cc-'));
  try {
    const bin = join(dir, 'bin'); // PATH: no cc in it (node runs by its absolute path)
    await mkdir(bin);
    const cases = [
      { CC: undefined, builder: 'buildNativeShim', says: 'no C compiler: cc not found; the native shim is not built and fleetd will run the Node shim' },
      { CC: '  ', builder: 'buildMemoryAddon', says: 'no C compiler: cc not found; the memory addon is not built' },
    ] as const;
    for (const { CC, builder, says } of cases) {
      const r = await buildNative({ CC, PATH: bin }, join(dir, 'out', builder), builder);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'false', r.stderr);
      assert.match(r.stderr, new RegExp(`^build: ${says.replace(/[()]/g, '\\$&')}`));
    }
    // a `cc` that is there but does not run
    await writeFile(join(bin, 'cc'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const broken = await buildNative({ CC: undefined, PATH: bin }, join(dir, 'out', 'broken'), 'buildMemoryAddon');
    assert.equal(broken.code, 0, broken.stderr);
    assert.equal(broken.stdout.trim(), 'false');
    assert.match(broken.stderr, /^build: the C compiler does not run: `cc --version` exited 1; the memory addon is not built/);
    assert.deepEqual(await readdir(dir), ['bin'], 'nothing built');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the memory addon builds with CC as words and loads; a failed compile fails it in one line (no stack), leaving nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-cc-'));
  try {
    const built = await buildNative({ CC: 'cc -O1 -fvisibility=hidden' }, join(dir, 'a', 'fleetd-memory.node'), 'buildMemoryAddon');
    assert.equal(built.code, 0, built.stderr);
    assert.equal(built.stdout.trim(), 'true', built.stderr);
    const loaded = loadMemoryAddon(join(dir, 'a', 'fleetd-memory.node'));
    assert.ok('addon' in loaded && loaded.addon.lowMemoryAvailable(), JSON.stringify(loaded));

    // a compiler that cannot build it (here: a header that is not there)
    const failing = await buildNative({ CC: 'cc -include /nonexistent/fleetd-missing.h' }, join(dir, 'c', 'fleetd-memory.node'), 'buildMemoryAddon');
    assert.equal(failing.code, 1, 'a failed compile fails the build');
    assert.match(failing.stderr, /fleetd-missing\.h/, 'the compiler says why');
    assert.match(failing.stderr, /\nbuild: compiling the memory addon failed \(cc -include \/nonexistent\/fleetd-missing.h exited 1\)\n$/, 'one line of its own, last');
    assert.doesNotMatch(failing.stderr, STACK_FRAME);
    assert.deepEqual(await readdir(join(dir, 'c')), [], 'no half-written file left');

    // a "compiler" that exits 0 and writes nothing (/bin/true; a broken wrapper)
    const silent = await buildNative({ CC: 'true' }, join(dir, 'd', 'fleetd-memory.node'), 'buildMemoryAddon');
    assert.equal(silent.code, 1, silent.stderr);
    assert.match(silent.stderr, /^build: compiling the memory addon failed \(true exited 0 but wrote no \S+fleetd-memory\.node\.\d+\.tmp\)\n$/);
    assert.doesNotMatch(silent.stderr, STACK_FRAME);
    assert.deepEqual(await readdir(join(dir, 'd')), [], 'nothing left');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Files in the repository root whose name starts with `prefix` (build.mjs's staging folders: `.dist-build-`). */
async function rootEntries(prefix: string): Promise<string[]> {
  return (await readdir(REPO)).filter((name) => name.startsWith(prefix));
}

test('npm run build and npm run build:test refuse a CC that does not run before compiling anything, in one line', async () => {
  // build-tests.mjs from a copy of scripts/ in a temp root (with the checkout's node_modules):
  // run here, a regression would remove the .test-build/ these tests run from
  const root = await mkdtemp(join(tmpdir(), 'fleetd-build-'));
  try {
    await mkdir(join(root, 'scripts'));
    for (const name of ['build-native.mjs', 'build-tests.mjs']) await copyFile(join(REPO, 'scripts', name), join(root, 'scripts', name));
    await symlink(join(REPO, 'node_modules'), join(root, 'node_modules'));
    await mkdir(join(root, '.test-build'));
    await writeFile(join(root, '.test-build', 'kept'), '');
    const tests = await run(process.execPath, [join(root, 'scripts', 'build-tests.mjs')], { env: envWith({ CC: '/nonexistent/cc' }) });
    assertBadCc(tests, '/nonexistent/cc', 'not found', 'build-tests.mjs');
    assert.deepEqual(await readdir(join(root, '.test-build')), ['kept'], 'the test build is left as it was');

    const before = await rootEntries('.dist-build-');
    const build = await run(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { env: envWith({ CC: 'false' }) });
    assertBadCc(build, 'false', '`false --version` exited 1', 'build.mjs');
    assert.deepEqual(await rootEntries('.dist-build-'), before, 'no staging folder made');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('npm run build: a failed compile of the native shim ends in one line (no stack), dist/ unchanged and no staging folder left', async () => {
  const shim = join(REPO, 'dist', 'shim', 'fleetd-shim');
  const main = join(REPO, 'dist', 'fleetd', 'main.js');
  const mtimes = async () => [(await stat(shim).catch(() => undefined))?.mtimeMs, (await stat(main)).mtimeMs];
  const before = { mtimes: await mtimes(), staging: await rootEntries('.dist-build-') };
  const build = await run(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { env: envWith({ CC: 'cc -include /nonexistent/fleetd-missing.h' }), timeoutMs: 300_000 });
  assert.equal(build.code, 1, build.stderr);
  assert.match(build.stderr, /fleetd-missing\.h/, 'the compiler says why');
  assert.match(build.stderr, /\nbuild: compiling the native shim failed \(cc -include \/nonexistent\/fleetd-missing.h exited 1\)\n$/, 'one line of its own, last');
  assert.doesNotMatch(build.stderr, STACK_FRAME);
  assert.deepEqual(await mtimes(), before.mtimes, 'dist/ unchanged');
  assert.deepEqual(await rootEntries('.dist-build-'), before.staging, 'the staging folder removed');
});
