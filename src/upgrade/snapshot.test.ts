// Snapshots of an agent's .openclaw: what is copied (databases through the copier, their
// sidecars not; tmp/ and cache/ not; symlinks as symlinks, never followed), modes kept,
// a restore swaps the whole folder and keeps what it replaced, retention.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { withTempDir } from '../util/temp-dir.js';
import { listSnapshots, pruneSnapshots, readSnapshot, restoreSnapshot, takeSnapshot } from './snapshot.js';
import { agentPaths } from '../provision/home.js';
import { SQLITE_HEADER } from './sqlite-copy.js';

/** An .openclaw tree like a gateway leaves it, with a secret outside it that a symlink points at. */
async function fakeState(dir: string): Promise<{ openclawDir: string; secret: string }> {
  const openclawDir = join(dir, 'home', '.openclaw');
  await mkdir(join(openclawDir, 'state'), { recursive: true, mode: 0o700 });
  await mkdir(join(openclawDir, 'agents', 'main', 'agent'), { recursive: true });
  await mkdir(join(openclawDir, 'tmp', 'openclaw-0'), { recursive: true });
  await mkdir(join(openclawDir, 'cache'), { recursive: true });
  await writeFile(join(openclawDir, 'openclaw.json'), '{ gateway: { port: 1 } }', { mode: 0o600 });
  await writeFile(join(openclawDir, 'state', 'openclaw.sqlite'), `${SQLITE_HEADER}state-v1`, { mode: 0o600 });
  await writeFile(join(openclawDir, 'state', 'openclaw.sqlite-wal'), 'wal frames');
  await writeFile(join(openclawDir, 'state', 'openclaw.sqlite-shm'), 'shm');
  await writeFile(join(openclawDir, 'agents', 'main', 'agent', 'openclaw-agent.sqlite'), `${SQLITE_HEADER}agent-v1`);
  await writeFile(join(openclawDir, 'notes.db'), 'not a database, only named like one');
  await writeFile(join(openclawDir, 'tmp', 'openclaw-0', 'gateway.lock.sqlite'), `${SQLITE_HEADER}lock`);
  await writeFile(join(openclawDir, 'cache', 'big'), 'rebuildable');
  const secret = join(dir, 'outside-secret');
  await writeFile(secret, 'do not copy me');
  await symlink(secret, join(openclawDir, 'link-to-secret'));
  return { openclawDir, secret };
}

describe('snapshots', () => {
  test('take: databases through the copier without sidecars, no tmp/cache, symlinks not followed, private folder', () =>
    withTempDir(async (dir) => {
      const { openclawDir, secret } = await fakeState(dir);
      const snapshotsDir = join(agentPaths(join(dir, 'state'), 'acme', 'korax').supervisorDir, 'snapshots');
      const copied: string[] = [];
      const info = await takeSnapshot({
        address: 'acme/korax',
        openclawDir,
        snapshotsDir,
        node: '/unused',
        runtime: '2026.9.5',
        copyDatabase: async (source, target) => {
          copied.push(source);
          await writeFile(target, `${await readFile(source, 'utf8')}+consolidated`);
        },
      });
      assert.deepEqual(info.databases.sort(), ['agents/main/agent/openclaw-agent.sqlite', 'state/openclaw.sqlite']);
      assert.deepEqual(copied.sort(), [join(openclawDir, 'agents/main/agent/openclaw-agent.sqlite'), join(openclawDir, 'state/openclaw.sqlite')]);
      const copy = join(snapshotsDir, info.id, 'state');
      assert.deepEqual((await readdir(copy)).sort(), ['agents', 'link-to-secret', 'notes.db', 'openclaw.json', 'state']);
      assert.deepEqual(await readdir(join(copy, 'state')), ['openclaw.sqlite'], 'sidecars folded into the copy');
      assert.equal(await readFile(join(copy, 'state', 'openclaw.sqlite'), 'utf8'), `${SQLITE_HEADER}state-v1+consolidated`);
      assert.equal(await readFile(join(copy, 'notes.db'), 'utf8'), 'not a database, only named like one');
      assert.equal(await readlink(join(copy, 'link-to-secret')), secret, 'a symlink stays a symlink');
      assert.equal((await lstat(join(copy, 'link-to-secret'))).isSymbolicLink(), true);
      assert.equal((await stat(join(copy, 'openclaw.json'))).mode & 0o777, 0o600);
      assert.equal((await stat(join(dir, 'state', 'agents'))).mode & 0o777, 0o700);
      assert.equal((await stat(snapshotsDir)).mode & 0o777, 0o700);
      assert.deepEqual(await readSnapshot(snapshotsDir, info.id), info);
      assert.deepEqual([info.hadState, info.runtime, info.files], [true, '2026.9.5', 4]);
    }));

  test('as root, owners are kept both ways (a tenant\'s files stay the tenant\'s after a restore)', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root');
    return withTempDir(async (dir) => {
      const { openclawDir } = await fakeState(dir);
      const { chown } = await import('node:fs/promises');
      await chown(join(openclawDir, 'openclaw.json'), 12345, 12346);
      const snapshotsDir = join(dir, 'snaps');
      const info = await takeSnapshot({ address: 'a/b', openclawDir, snapshotsDir, node: '/unused', runtime: null, copyDatabase: (s, d) => copyFile(s, d) });
      const copied = await stat(join(snapshotsDir, info.id, 'state', 'openclaw.json'));
      assert.deepEqual([copied.uid, copied.gid], [12345, 12346]);
      assert.equal((await stat(join(snapshotsDir, info.id))).uid, 0, 'the snapshot folder itself is fleetd\'s');
      await restoreSnapshot({ openclawDir, snapshotsDir, id: info.id });
      const back = await stat(join(openclawDir, 'openclaw.json'));
      assert.deepEqual([back.uid, back.gid], [12345, 12346]);
    });
  });

  test('a .openclaw that is a symlink is refused, and leaves no snapshot behind', () =>
    withTempDir(async (dir) => {
      await mkdir(join(dir, 'elsewhere'));
      await mkdir(join(dir, 'home'));
      await symlink(join(dir, 'elsewhere'), join(dir, 'home', '.openclaw'));
      const snapshotsDir = join(dir, 'snaps');
      await assert.rejects(takeSnapshot({ address: 'a/b', openclawDir: join(dir, 'home', '.openclaw'), snapshotsDir, node: '/unused', runtime: null }), /not a real folder/);
      assert.deepEqual(await listSnapshots(snapshotsDir), []);
    }));

  test('restore: the whole folder is swapped back; what it replaced is kept in the snapshot', () =>
    withTempDir(async (dir) => {
      const { openclawDir } = await fakeState(dir);
      const snapshotsDir = join(dir, 'snaps');
      const copyDatabase = (s: string, t: string) => copyFile(s, t);
      const info = await takeSnapshot({ address: 'a/b', openclawDir, snapshotsDir, node: '/unused', runtime: '1.0.0', copyDatabase });
      // the new version migrates the database, writes a WAL and a file of its own
      await writeFile(join(openclawDir, 'state', 'openclaw.sqlite'), `${SQLITE_HEADER}state-v2`);
      await writeFile(join(openclawDir, 'state', 'openclaw.sqlite-wal'), 'v2 frames');
      await writeFile(join(openclawDir, 'new-in-v2.json'), '{}');
      await restoreSnapshot({ openclawDir, snapshotsDir, id: info.id });
      assert.equal(await readFile(join(openclawDir, 'state', 'openclaw.sqlite'), 'utf8'), `${SQLITE_HEADER}state-v1`);
      assert.equal(existsSync(join(openclawDir, 'state', 'openclaw.sqlite-wal')), false, 'no stale WAL of the new version next to the old database');
      assert.equal(existsSync(join(openclawDir, 'new-in-v2.json')), false);
      assert.equal(await readFile(join(openclawDir, 'openclaw.json'), 'utf8'), '{ gateway: { port: 1 } }');
      assert.equal((await stat(join(openclawDir, 'openclaw.json'))).mode & 0o777, 0o600);
      const replaced = join(snapshotsDir, info.id, 'replaced');
      assert.equal(await readFile(join(replaced, 'state', 'openclaw.sqlite'), 'utf8'), `${SQLITE_HEADER}state-v2`, 'nothing is lost');
      assert.deepEqual((await readdir(join(snapshotsDir, info.id))).sort(), ['replaced', 'snapshot.json', 'state'], 'no staging folder left');
      // restoring twice is fine (the second replaces the first restore)
      await restoreSnapshot({ openclawDir, snapshotsDir, id: info.id });
      assert.equal(await readFile(join(openclawDir, 'state', 'openclaw.sqlite'), 'utf8'), `${SQLITE_HEADER}state-v1`);
    }));

  test('an agent without state yet: the restore removes what the new version created', () =>
    withTempDir(async (dir) => {
      const openclawDir = join(dir, 'home', '.openclaw');
      await mkdir(join(dir, 'home'));
      const snapshotsDir = join(dir, 'snaps');
      const info = await takeSnapshot({ address: 'a/b', openclawDir, snapshotsDir, node: '/unused', runtime: null });
      assert.equal(info.hadState, false);
      await mkdir(openclawDir);
      await writeFile(join(openclawDir, 'openclaw.json'), '{}');
      await restoreSnapshot({ openclawDir, snapshotsDir, id: info.id });
      assert.equal(existsSync(openclawDir), false);
    }));

  test('incomplete or unknown snapshots are NOT_FOUND; retention keeps the newest and protected ones', () =>
    withTempDir(async (dir) => {
      const openclawDir = join(dir, 'home', '.openclaw');
      await mkdir(openclawDir, { recursive: true });
      const snapshotsDir = join(dir, 'snaps');
      let t = Date.UTC(2026, 0, 1);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await takeSnapshot({ address: 'a/b', openclawDir, snapshotsDir, node: '/unused', runtime: null, now: () => (t += 1000) })).id);
      await mkdir(join(snapshotsDir, '2027-01-01T00-00-00-000Z-abcdef')); // no snapshot.json: a crash mid-copy
      await assert.rejects(readSnapshot(snapshotsDir, '2027-01-01T00-00-00-000Z-abcdef'), /missing or incomplete/);
      await assert.rejects(readSnapshot(snapshotsDir, '../etc'), /not a snapshot id/);
      const deleted = await pruneSnapshots(snapshotsDir, 3, [ids[0]!]);
      assert.deepEqual(deleted, [ids[1], ids[2]]);
      assert.deepEqual(await listSnapshots(snapshotsDir), [ids[0], ids[3], ids[4], '2027-01-01T00-00-00-000Z-abcdef']);
    }));
});
