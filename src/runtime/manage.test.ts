import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, readdir, writeFile, symlink, cp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRuntime, type EnsureRuntimeOptions } from './install.js';
import { createNpmRunner } from './npm.js';
import { listRuntimes, pruneRuntimes, removeRuntime } from './manage.js';
import { lockPath, removeOwnedDir, versionOfEntry } from './layout.js';
import { defaultFakeConfig, writeFakeNpm } from '../../test/support/fake-npm.js';
import { FleetError } from '../errors.js';

/** A temp dir with a fake npm and three installed versions (2026.1.0, 2026.2.0 on the system Node, 2026.9.6 with a Node package). */
async function withThreeRuntimes(fn: (dir: string, runtimesDir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
  try {
    const runtimesDir = join(dir, 'rt');
    const fake = await writeFakeNpm(dir, defaultFakeConfig());
    const base: EnsureRuntimeOptions = {
      runtimesDir,
      version: '',
      npm: createNpmRunner(fake.command),
      platform: 'linux',
      arch: 'x64',
      systemNode: { version: process.versions.node, path: process.execPath },
      env: { PATH: process.env.PATH, HOME: dir },
    };
    for (const version of ['2026.9.6', '2026.1.0', '2026.2.0']) await ensureRuntime({ ...base, version });
    await fn(dir, runtimesDir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Captures the FleetError `promise` rejects with. */
async function fleetError(promise: Promise<unknown>): Promise<FleetError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof FleetError, `expected a FleetError, got ${String(err)}`);
  return err;
}

describe('listRuntimes', () => {
  test('lists complete runtimes in version order, with Node version, size and install time', async () => {
    await withThreeRuntimes(async (_dir, runtimesDir) => {
      await mkdir(join(runtimesDir, 'openclaw-2026.5.0'), { recursive: true }); // no marker
      await mkdir(join(runtimesDir, '.tmp-openclaw-2026.6.0-abcdef'), { recursive: true });
      await writeFile(join(runtimesDir, 'README'), 'not a runtime');
      const fake = await writeFakeNpm(_dir, defaultFakeConfig());
      const pinned = { runtimesDir, version: '2026.1.0+node-24.21.0', npm: createNpmRunner(fake.command), platform: 'linux', arch: 'x64', env: { PATH: process.env.PATH, HOME: _dir } };
      await ensureRuntime(pinned);
      const list = await listRuntimes(runtimesDir);
      // the LTS rule picks 26.10.0 for every range here; a pinned Node sorts after its unpinned sibling
      assert.deepEqual(list.map((r) => [r.version, r.openclaw, r.nodeVersion]), [
        ['2026.1.0', '2026.1.0', '26.10.0'],
        ['2026.1.0+node-24.21.0', '2026.1.0', '24.21.0'],
        ['2026.2.0', '2026.2.0', '26.10.0'],
        ['2026.9.6', '2026.9.6', '26.10.0'],
      ]);
      for (const r of list) {
        assert.equal(r.dir, join(runtimesDir, `openclaw-${r.version}`));
        assert.ok((r.sizeBytes ?? 0) > 0);
        assert.ok(!Number.isNaN(Date.parse(r.installedAt)));
      }
    });
  });

  test('a missing runtimes folder lists as empty, prunes nothing, removes NOT_FOUND', async () => {
    const missing = join(tmpdir(), 'fleetd-does-not-exist-3f9a');
    assert.deepEqual(await listRuntimes(missing), []);
    assert.deepEqual(await pruneRuntimes(missing, new Set()), []);
    assert.equal((await fleetError(removeRuntime(missing, '2026.9.6'))).code, 'NOT_FOUND');
    assert.equal(existsSync(missing), false, 'nothing was created');
  });
});

describe('removeRuntime', () => {
  test('removes one version, then says NOT_FOUND', async () => {
    await withThreeRuntimes(async (_dir, runtimesDir) => {
      await removeRuntime(runtimesDir, '2026.2.0');
      assert.deepEqual((await listRuntimes(runtimesDir)).map((r) => r.version), ['2026.1.0', '2026.9.6']);
      assert.deepEqual((await readdir(runtimesDir)).sort(), ['openclaw-2026.1.0', 'openclaw-2026.9.6'], 'no trash or lock left');
      const err = await fleetError(removeRuntime(runtimesDir, '2026.2.0'));
      assert.equal(err.code, 'NOT_FOUND');
      assert.match(err.message, /fleetctl runtime list/);
      assert.equal((await fleetError(removeRuntime(runtimesDir, '../rt'))).code, 'USAGE');
    });
  });

  test('waits for the version lock, and gives up with TIMEOUT', async () => {
    await withThreeRuntimes(async (_dir, runtimesDir) => {
      await mkdir(lockPath(runtimesDir, '2026.1.0'));
      const err = await fleetError(removeRuntime(runtimesDir, '2026.1.0', { lockTimeoutMs: 200 }));
      assert.equal(err.code, 'TIMEOUT');
      assert.ok(existsSync(join(runtimesDir, 'openclaw-2026.1.0')));
    });
  });
});

describe('pruneRuntimes', () => {
  test('removes what no agent uses, keeps the rest, and cleans dead leftovers', async () => {
    await withThreeRuntimes(async (_dir, runtimesDir) => {
      await mkdir(join(runtimesDir, '.tmp-openclaw-2026.9.6-dead01', 'node_modules'), { recursive: true });
      await mkdir(join(runtimesDir, '.trash-openclaw-2026.7.0-dead02'), { recursive: true });
      const removed = await pruneRuntimes(runtimesDir, new Set(['2026.9.6']));
      assert.deepEqual(removed, ['2026.1.0', '2026.2.0']);
      assert.deepEqual(await readdir(runtimesDir), ['openclaw-2026.9.6']);
      assert.deepEqual(await pruneRuntimes(runtimesDir, new Set(['2026.9.6'])), [], 'nothing more to do');
    });
  });

  test('skips a version whose lock is held (an install or removal is under way)', async () => {
    await withThreeRuntimes(async (_dir, runtimesDir) => {
      await mkdir(lockPath(runtimesDir, '2026.1.0'));
      const removed = await pruneRuntimes(runtimesDir, new Set());
      assert.deepEqual(removed, ['2026.2.0', '2026.9.6']);
      assert.ok(existsSync(join(runtimesDir, 'openclaw-2026.1.0')));
    });
  });

  test('refuses a symlinked runtime folder and leaves its target alone', async () => {
    await withThreeRuntimes(async (dir, runtimesDir) => {
      // someone moved 2026.1.0 elsewhere and linked it back
      const outside = join(dir, 'elsewhere');
      await cp(join(runtimesDir, 'openclaw-2026.1.0'), outside, { recursive: true });
      await rm(join(runtimesDir, 'openclaw-2026.1.0'), { recursive: true });
      await symlink(outside, join(runtimesDir, 'openclaw-2026.1.0'));

      const err = await fleetError(pruneRuntimes(runtimesDir, new Set(['2026.9.6'])));
      assert.equal(err.code, 'REFUSED');
      assert.match(err.message, /openclaw-2026\.1\.0 is a symlink/);
      assert.deepEqual((err.details as { removed: string[] }).removed, ['2026.2.0'], 'the others were still pruned');
      assert.ok(existsSync(join(outside, 'fleetd-runtime.json')), 'the symlink target is untouched');
      assert.ok(existsSync(join(runtimesDir, 'openclaw-2026.9.6')));
      assert.equal((await fleetError(removeRuntime(runtimesDir, '2026.1.0'))).code, 'REFUSED');
      assert.deepEqual((await listRuntimes(runtimesDir)).map((r) => r.version), ['2026.9.6'], 'a symlink is not listed');
    });
  });
});

describe('removeOwnedDir', () => {
  test('only removes runtime-shaped names that resolve inside the folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
    try {
      await mkdir(join(dir, 'keep'));
      for (const name of ['keep', '..', '../keep', 'openclaw-1.2.3/../../keep', '']) {
        assert.equal((await fleetError(removeOwnedDir(join(dir, 'rt-missing-is-fine'), name))).code, 'REFUSED', name);
      }
      assert.ok(existsSync(join(dir, 'keep')));
      await mkdir(join(dir, 'rt'));
      assert.equal(await removeOwnedDir(join(dir, 'rt'), 'openclaw-1.2.3'), false, 'absent is not an error');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('versionOfEntry reads final, temp and trash names', () => {
    const table: Array<[string, ReturnType<typeof versionOfEntry>]> = [
      ['openclaw-2026.9.6', { version: '2026.9.6', kind: 'final' }],
      ['openclaw-2026.10.1-beta.2', { version: '2026.10.1-beta.2', kind: 'final' }],
      ['.tmp-openclaw-2026.9.6-AbC123', { version: '2026.9.6', kind: 'temp' }],
      ['.tmp-openclaw-2026.10.1-beta.2-AbC123', { version: '2026.10.1-beta.2', kind: 'temp' }],
      ['.trash-openclaw-2026.9.6-xyz789', { version: '2026.9.6', kind: 'trash' }],
      ['.tmp-openclaw-2026.9.6', undefined],
      ['.openclaw-2026.9.6.lock', undefined],
      ['openclaw-latest', undefined],
      ['openclaw-', undefined],
      ['fleetd-runtime.json', undefined],
    ];
    for (const [name, expected] of table) assert.deepEqual(versionOfEntry(name), expected, name);
  });
});
