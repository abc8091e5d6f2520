import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { firstUse } from './first-use.js';
import { withTempDir } from './temp-dir.js';

test('a first-use module whose file is gone: INTERNAL naming what, the file and daemon restart', async () => {
  await withTempDir(async (dir) => {
    const gone = join(dir, 'run-doctor-ABC123.js');
    await assert.rejects(firstUse('the doctor', () => import(pathToFileURL(gone).href)), (err: any) => {
      assert.equal(err.code, 'INTERNAL');
      assert.match(err.message, /^fleetd cannot load its code for the doctor: /);
      assert.ok(err.message.includes(gone), err.message);
      assert.match(err.message, /fleetctl daemon restart/);
      assert.equal(err.cause.code, 'ERR_MODULE_NOT_FOUND');
      return true;
    });
  });
});

test('a first-use module that is there loads; one that throws while loading passes its own error', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'ok.mjs'), 'export const answer = 42;\n');
    await writeFile(join(dir, 'bad.mjs'), 'throw new RangeError("broken at load");\n');
    assert.equal((await firstUse('a test', () => import(pathToFileURL(join(dir, 'ok.mjs')).href))).answer, 42);
    await assert.rejects(firstUse('a test', () => import(pathToFileURL(join(dir, 'bad.mjs')).href)), { name: 'RangeError', message: 'broken at load' });
  });
});
