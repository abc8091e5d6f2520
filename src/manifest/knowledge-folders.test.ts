// The disk half of the knowledge rules, on real folders: missing, not a folder, overlapping
// the state dir (located errors); relative and symlinked folders made canonical.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import JSON5 from 'json5';
import { FleetError } from '../errors.js';
import { withTempDir } from '../util/temp-dir.js';
import { loadManifest } from './load.js';

async function write(dir: string, knowledge: Record<string, string>): Promise<string> {
  const file = join(dir, 'fleets.json5');
  await writeFile(file, JSON5.stringify({ version: 1, knowledge, fleets: { acme: { agents: { korax: { knowledge: Object.keys(knowledge) } } } } }));
  return file;
}

test('relative knowledge folders resolve next to the manifest; a symlinked one becomes its real folder', () =>
  withTempDir(async (dir) => {
    await mkdir(join(dir, 'notes'));
    await mkdir(join(dir, 'real-docs'));
    await symlink(join(dir, 'real-docs'), join(dir, 'docs'));
    const m = await loadManifest(await write(dir, { notes: './notes', docs: join(dir, 'docs') }));
    assert.deepEqual(m.knowledge, { docs: join(dir, 'real-docs'), notes: join(dir, 'notes') });
  }));

test('a missing folder, a file, and a folder holding the state dir are refused, each located', () =>
  withTempDir(async (dir) => {
    await writeFile(join(dir, 'file.md'), 'x');
    const file = await write(dir, { gone: './gone', file: './file.md', all: '.', state: './fleetd-state/sub' });
    await mkdir(join(dir, 'fleetd-state', 'sub'), { recursive: true });
    const err = await loadManifest(file).then(
      () => assert.fail('expected MANIFEST_INVALID'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof FleetError);
    assert.equal(err.code, 'MANIFEST_INVALID');
    assert.deepEqual((err.details as { problems: string[] }).problems, [
      `${file}: knowledge.all: "${dir}" overlaps fleetd's state dir ${join(dir, 'fleetd-state')}, which holds every agent's tokens; use a folder outside it`,
      `${file}: knowledge.file: "${join(dir, 'file.md')}" is not a folder; knowledge must be a folder of files to index`,
      `${file}: knowledge.gone: folder "${join(dir, 'gone')}" does not exist; create it or correct the path`,
      `${file}: knowledge.state: "${join(dir, 'fleetd-state', 'sub')}" overlaps fleetd's state dir ${join(dir, 'fleetd-state')}, which holds every agent's tokens; use a folder outside it`,
    ]);
  }));
