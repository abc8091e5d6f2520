// fleetd's writes inside an agent's home: created 0700/0600, unchanged files left alone,
// and a symlink planted anywhere on the way refused without writing through it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { withTempDir } from '../util/temp-dir.js';
import { removeHomeFiles, writeHomeFiles, type HomeTarget } from './home-write.js';

async function home(dir: string): Promise<HomeTarget> {
  const h = join(dir, 'home');
  await mkdir(join(h, 'workspace'), { recursive: true, mode: 0o700 });
  return { home: h, segments: ['workspace', '.fleetd', 'federation'], owned: 2 };
}

test('files land 0600 in folders fleetd creates 0700; unchanged files keep their inode; removal', () =>
  withTempDir(async (dir) => {
    const target = await home(dir);
    const folder = join(target.home, 'workspace', '.fleetd', 'federation');
    assert.deepEqual(await writeHomeFiles(target, [{ name: 'a.json', data: '{}\n' }, { name: 'b.md', data: '# b\n' }]), ['a.json', 'b.md']);
    assert.equal((await stat(join(target.home, 'workspace', '.fleetd'))).mode & 0o777, 0o700);
    assert.equal((await stat(folder)).mode & 0o777, 0o700);
    assert.equal((await stat(join(folder, 'a.json'))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(folder, 'b.md'), 'utf8'), '# b\n');
    const inode = (await stat(join(folder, 'a.json'))).ino;
    assert.deepEqual(await writeHomeFiles(target, [{ name: 'a.json', data: '{}\n' }, { name: 'b.md', data: '# b2\n' }]), ['b.md']);
    assert.equal((await stat(join(folder, 'a.json'))).ino, inode);
    assert.deepEqual((await readdir(folder)).sort(), ['a.json', 'b.md'], 'no temp file left');
    assert.deepEqual(await removeHomeFiles(target, ['a.json', 'gone.json']), ['a.json']);
    assert.deepEqual(await readdir(folder), ['b.md']);
    assert.deepEqual(await removeHomeFiles({ ...target, home: join(dir, 'no-home') }, ['b.md']), []);
  }));

test('a symlink in place of an owned folder, of the workspace or of the file is never written through', () =>
  withTempDir(async (dir) => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'a.json'), 'precious');
    // .fleetd is a link to a folder outside the home
    const t1 = await home(join(dir, 'one'));
    await symlink(outside, join(t1.home, 'workspace', '.fleetd'));
    await assert.rejects(writeHomeFiles(t1, [{ name: 'a.json', data: 'x' }]), (err: unknown) => err instanceof FleetError && /\.fleetd is a symlink or not a folder/.test(err.message));
    // the workspace itself is a link
    const t2 = await home(join(dir, 'two'));
    await mkdir(join(dir, 'two', 'elsewhere'));
    await (await import('node:fs/promises')).rm(join(t2.home, 'workspace'), { recursive: true });
    await symlink(join(dir, 'two', 'elsewhere'), join(t2.home, 'workspace'));
    await assert.rejects(writeHomeFiles(t2, [{ name: 'a.json', data: 'x' }]), /workspace is a symlink or not a folder/);
    assert.deepEqual(await readdir(join(dir, 'two', 'elsewhere')), []);
    // the file is a link: it is replaced by a real file, the target is untouched
    const t3 = await home(join(dir, 'three'));
    await writeHomeFiles(t3, [{ name: 'b.md', data: 'b' }]);
    const folder = join(t3.home, 'workspace', '.fleetd', 'federation');
    await symlink(join(outside, 'a.json'), join(folder, 'a.json'));
    await writeHomeFiles(t3, [{ name: 'a.json', data: 'mine' }]);
    assert.ok((await lstat(join(folder, 'a.json'))).isFile());
    assert.equal(await readFile(join(outside, 'a.json'), 'utf8'), 'precious');
  }));
