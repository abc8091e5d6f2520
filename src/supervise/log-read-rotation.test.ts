import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openclawRotatedPath } from '../daemon/handlers/openclaw-logs.js';
import { withTempDir } from '../util/temp-dir.js';
import { waitFor } from '../util/wait-for.js';
import { followLog, tailLines } from './log-read.js';

test('OpenClaw names its rotations openclaw.1.log ... (the number before the extension)', () => {
  assert.equal(openclawRotatedPath('/h/logs/openclaw.log', 1), '/h/logs/openclaw.1.log');
  assert.equal(openclawRotatedPath('/h/logs/noext', 3), '/h/logs/noext.3');
});

test('a tail reaches into OpenClaw-named rotations, oldest lines first', () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'openclaw.log');
    await writeFile(join(dir, 'openclaw.2.log'), 'a\nb\n');
    await writeFile(join(dir, 'openclaw.1.log'), 'c\nd\n');
    await writeFile(file, 'e\n');
    assert.deepEqual(await tailLines(file, 4, { rotatedPath: openclawRotatedPath }), ['b', 'c', 'd', 'e']);
    assert.deepEqual(await tailLines(file, 4), ['e'], 'the default naming does not see them');
  }));

test('maxBytes bounds a tail of a log without line breaks', () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'openclaw.log');
    await writeFile(file, `${'x'.repeat(5000)}\nlast\n`);
    const [cut, last] = await tailLines(file, 10, { maxBytes: 100 });
    assert.equal(last, 'last');
    assert.match(cut!, /^\[fleetd: the start of this line is not shown: over 100 bytes read\] x+$/, 'the cut first line says so');
    await writeFile(file, 'y'.repeat(5000));
    const [only] = await tailLines(file, 1, { maxBytes: 100 });
    assert.equal(only, `[fleetd: the start of this line is not shown: over 100 bytes read] ${'y'.repeat(100)}`, 'a single endless line is cut to the bound, and says so');
  }));

test('follow goes on across an OpenClaw-style rotation without losing lines', () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'openclaw.log');
    await writeFile(file, '');
    let got = '';
    const controller = new AbortController();
    let ready = false;
    const done = followLog(file, (t) => (got += t), controller.signal, { pollMs: 20, rotatedPath: openclawRotatedPath, onReady: () => (ready = true) });
    await waitFor(() => ready, { timeoutMs: 5000 });
    await appendFile(file, 'one\n');
    await waitFor(() => got.includes('one'), { timeoutMs: 5000 });
    await appendFile(file, 'two\n');
    await rename(file, openclawRotatedPath(file, 1));
    await writeFile(file, 'three\n');
    await waitFor(() => got.includes('three'), { timeoutMs: 5000 });
    controller.abort();
    await done;
    assert.equal(got, 'one\ntwo\nthree\n');
  }));
