// writeFileAtomic under kill -9: a real child process rewrites a file in a loop and is
// SIGKILLed at an arbitrary moment, many times; the file is always the old or the new
// content, whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTempDir } from './temp-dir.js';
import { writeFileAtomic } from './atomic-write.js';

const MODULE = fileURLToPath(new URL('./atomic-write.js', import.meta.url));
const content = (which: 'A' | 'B') => JSON.stringify({ which, pad: which.repeat(256 * 1024) });
const A = content('A');
const B = content('B');

/** Starts a writer that alternates A and B into `file`, printing a line per write. */
function startWriter(file: string) {
  const code = `
    import { writeFileAtomic } from ${JSON.stringify(MODULE)};
    const content = (which) => JSON.stringify({ which, pad: which.repeat(256 * 1024) });
    const [a, b] = [content('A'), content('B')];
    for (let i = 0; ; i++) { await writeFileAtomic(${JSON.stringify(file)}, i % 2 ? b : a); process.stdout.write('w\\n'); }
  `;
  return spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
}

test('a writer killed with SIGKILL at any moment leaves the old file or the new one, never a torn one', () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'registry.json');
    await writeFile(file, A);
    for (let round = 0; round < 12; round++) {
      const child = startWriter(file);
      const target = 3 + ((round * 7) % 11); // kill after a varying number of completed writes...
      let writes = 0;
      await new Promise<void>((resolve) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          writes += chunk.toString().split('\n').length - 1;
          if (writes >= target && child.exitCode === null && !child.killed) {
            child.kill('SIGKILL'); // ...and so somewhere inside the next one
            resolve();
          }
        });
      });
      await new Promise((resolve) => child.once('exit', resolve));
      const text = await readFile(file, 'utf8');
      assert.ok(text === A || text === B, `round ${round}: torn file of ${text.length} bytes`);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
    }
  }));

test('a failed write leaves the old file and no temp file behind', () =>
  withTempDir(async (dir) => {
    const target = join(dir, 'taken');
    await mkdir(target); // rename onto a directory fails
    await assert.rejects(writeFileAtomic(target, 'x'));
    assert.deepEqual(await readdir(dir), ['taken']);
    const file = join(dir, 'f.json');
    await writeFileAtomic(file, 'old', { mode: 0o640 });
    assert.equal((await stat(file)).mode & 0o777, 0o640);
    await writeFileAtomic(file, 'new');
    assert.equal(await readFile(file, 'utf8'), 'new');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual((await readdir(dir)).sort(), ['f.json', 'taken']);
  }));
