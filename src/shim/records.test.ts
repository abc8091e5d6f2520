import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { readExitRecord, readShimRecord, removeRunFiles, runDirFiles } from './records.js';
import { withTempDir } from '../util/temp-dir.js';

test("a run dir's records are read and its files removed without waiting for a turn of the event loop", async () => {
  // A restart's spawn waits for the previous run's cleanup (read shim.json, remove the files):
  // a busy daemon must not make it wait behind other work once per file operation.
  await withTempDir(async (runDir) => {
    const files = runDirFiles(runDir);
    await writeFile(files.record, '{"protocol": "not a record"}\n', { mode: 0o600 });
    await writeFile(files.exit, 'not json', { mode: 0o600 });
    await writeFile(files.socket, '', { mode: 0o600 });
    let turned = false;
    setImmediate(() => (turned = true));
    const record = await readShimRecord(runDir);
    const exit = await readExitRecord(runDir);
    await removeRunFiles(runDir);
    assert.equal(turned, false, 'read and removed in the caller\'s turn');
    assert.equal(record.state, 'invalid');
    assert.ok(exit.state === 'invalid' && exit.message.includes('not JSON'), JSON.stringify(exit));
    assert.deepEqual(await readdir(runDir), [], 'shim.json, exit.json and the socket file are gone');
    assert.deepEqual(await readShimRecord(runDir), { state: 'absent' });
    await removeRunFiles(runDir); // missing files are fine
  });
});
