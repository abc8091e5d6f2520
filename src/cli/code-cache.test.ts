// fleetctl's code cache (code-cache.ts): made by one run, used by the next, and never able to
// run code other than the bundle's own: a changed bundle (even of the same length, which is
// all V8 itself checks) or a damaged cache means a plain compile of what is on disk.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO } from '../../test/support/paths.js';
import { prng } from '../../test/support/prng.js';

const LOADER = fileURLToPath(new URL('./code-cache.js', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetd-cc-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs runBundle(bundle, cache, options) in a fresh Node with `args` after it; its stdout lines and the cache use (last line of stderr). */
function run(loader: string, bundle: string, cache: string, options: object = {}, args: string[] = []): Promise<{ out: string; use: string; code: number }> {
  const script = `import { runBundle } from ${JSON.stringify(loader)}; process.stderr.write(runBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cache)}, ${JSON.stringify(options)}) + '\\n');`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script, '--', 'fleetctl', ...args], (err, stdout, stderr) => {
      resolve({ out: stdout, use: stderr.trim().split('\n').at(-1) ?? '', code: err ? Number(err.code ?? 1) : 0 });
    });
  });
}

/** A small CommonJS bundle that prints its version and what Node gave it. */
const bundleText = (version: string) => `const path = require('node:path');\nfunction greet() { return 'bundle ${version} ' + path.basename(__filename) + ' ' + typeof module.exports; }\nconsole.log(greet());\n`;

test('a cache made by one run is used by the next; a missing one is a plain compile', async () => {
  const bundle = join(dir, 'b.cjs');
  const cache = join(dir, 'b.cjs.cache');
  await writeFile(bundle, bundleText('v1'));
  const first = await run(LOADER, bundle, cache, { produceTo: cache });
  assert.deepEqual([first.out, first.use], ['bundle v1 b.cjs object\n', 'absent']);
  const made = await readFile(cache);
  assert.equal(made.subarray(0, 4).toString(), 'FCC2');
  assert.deepEqual(made.subarray(4, 36), createHash('sha256').update(bundle).update('\0').update(bundleText('v1')).digest());
  assert.deepEqual(made.subarray(36, 68), createHash('sha256').update(made.subarray(68)).digest());
  assert.equal((await stat(cache)).mode & 0o777, 0o644);
  const second = await run(LOADER, bundle, cache);
  assert.deepEqual([second.out, second.use], ['bundle v1 b.cjs object\n', 'used']);
});

test('a changed bundle of the same length runs as written: the old cache is stale, not used', async () => {
  const bundle = join(dir, 'b.cjs');
  const cache = join(dir, 'b.cjs.cache');
  await writeFile(bundle, bundleText('v1'));
  await run(LOADER, bundle, cache, { produceTo: cache });
  await writeFile(bundle, bundleText('v2'));
  assert.equal(bundleText('v1').length, bundleText('v2').length);
  const r = await run(LOADER, bundle, cache);
  assert.deepEqual([r.out, r.use], ['bundle v2 b.cjs object\n', 'stale']);
});

test('a cache is for one path: the build makes it for where the bundle will be; a moved bundle compiles afresh', async () => {
  // V8 names the path a cache was made under in stack traces, whatever path runs it
  const where = (version: string) => `\nfunction where() { return new Error('x').stack.split('\\n')[1].trim(); }\nconsole.log('${version} ' + where());\n`;
  const stage = join(dir, 'stage');
  const final = join(dir, 'final');
  await mkdir(stage);
  await mkdir(final);
  await writeFile(join(stage, 'b.cjs'), where('v1'));
  const made = await run(LOADER, join(stage, 'b.cjs'), '', { produceTo: join(stage, 'b.cjs.cache'), finalPath: join(final, 'b.cjs') });
  assert.equal(made.out, `v1 at where (${join(final, 'b.cjs')}:2:27)\n`);
  for (const name of ['b.cjs', 'b.cjs.cache']) await rename(join(stage, name), join(final, name));
  const used = await run(LOADER, join(final, 'b.cjs'), join(final, 'b.cjs.cache'));
  assert.deepEqual([used.out, used.use], [`v1 at where (${join(final, 'b.cjs')}:2:27)\n`, 'used']);
  const moved = join(dir, 'moved');
  await rename(final, moved);
  const again = await run(LOADER, join(moved, 'b.cjs'), join(moved, 'b.cjs.cache'));
  assert.deepEqual([again.out, again.use], [`v1 at where (${join(moved, 'b.cjs')}:2:27)\n`, 'stale']);
});

test('a damaged cache is never an error and never runs other code: one changed byte anywhere in its V8 data, or a broken header', async () => {
  // V8 does not checksum a code cache: a changed byte deep in it crashed fleetctl or printed other text
  const bundle = join(dir, 'b.cjs');
  const cache = join(dir, 'b.cjs.cache');
  await writeFile(bundle, bundleText('v1'));
  await run(LOADER, bundle, cache, { produceTo: cache });
  const made = await readFile(cache);
  const random = prng(14);
  const offsets = [68, 69, 100, made.length - 1, ...Array.from({ length: 12 }, () => 68 + Math.floor(random() * (made.length - 68)))];
  for (const offset of offsets) {
    const damaged = Buffer.from(made);
    damaged[offset] = (damaged[offset]! + 1 + Math.floor(random() * 254)) & 0xff;
    await writeFile(cache, damaged);
    const r = await run(LOADER, bundle, cache);
    assert.deepEqual([r.out, r.use, r.code], ['bundle v1 b.cjs object\n', 'damaged', 0], `byte ${offset} of ${made.length}`);
  }
  // a payload V8 itself refuses (its own header), with a matching digest: rejected, still runs
  const payload = Buffer.from(made.subarray(68));
  for (let i = 0; i < 16; i++) payload[i] = (payload[i]! + 1) & 0xff;
  await writeFile(cache, Buffer.concat([made.subarray(0, 36), createHash('sha256').update(payload).digest(), payload]));
  const rejected = await run(LOADER, bundle, cache);
  assert.deepEqual([rejected.out, rejected.use], ['bundle v1 b.cjs object\n', 'rejected']);
  for (const junk of [Buffer.alloc(0), Buffer.from('FCC2'), Buffer.concat([Buffer.from('FCC1'), made.subarray(4)]), Buffer.from('not a cache at all, but long enough to hold a header ...........................')]) {
    await writeFile(cache, junk);
    const r = await run(LOADER, bundle, cache);
    assert.deepEqual([r.out, r.use], ['bundle v1 b.cjs object\n', 'stale']);
  }
});

test('the build ships a cache that the built fleetctl uses', async () => {
  const bundle = join(REPO, 'dist', 'fleetctl.cjs');
  const r = await run(join(REPO, 'dist', 'cli', 'code-cache.js'), bundle, `${bundle}.cache`, {}, ['--version']);
  assert.equal(r.code, 0);
  assert.match(r.out, /^\d+\.\d+\.\d+/);
  assert.equal(r.use, 'used');
});
