import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstat, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { withTempDir } from './temp-dir.js';
import { clearStaleSocket, connectUnixSocket, listenUnixSocket, MAX_SOCKET_PATH_BYTES, socketAnswers } from './unix-socket.js';
import { waitFor } from './wait-for.js';

test('a socket nobody listens on is removed, a live one is left alone, a regular file is refused', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 's.sock');
    assert.equal(await clearStaleSocket(path), 'absent');
    const live = createServer();
    const previous = process.umask(0o000);
    try {
      await listenUnixSocket(live, path);
    } finally {
      process.umask(previous);
    }
    assert.equal((await stat(path)).mode & 0o777, 0o600, '0600 whatever the umask');
    assert.equal(await clearStaleSocket(path), 'live');
    assert.ok(await socketAnswers(path));
    await new Promise<void>((resolve) => live.close(() => resolve()));

    // A stale socket: its owner was SIGKILLed, the file stays.
    const stale = join(dir, 'stale.sock');
    const owner = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => owner.stdout!.once('data', resolve));
    owner.kill('SIGKILL');
    await new Promise((resolve) => owner.once('exit', resolve));
    assert.ok((await lstat(stale)).isSocket());
    await waitFor(async () => !(await socketAnswers(stale)), { timeoutMs: 2000 });
    assert.equal(await clearStaleSocket(stale), 'removed');
    await assert.rejects(lstat(stale));

    const file = join(dir, 'plain');
    await writeFile(file, 'not a socket');
    await assert.rejects(clearStaleSocket(file), (err: FleetError) => err.code === 'CONFLICT' && err.message.includes('is not a socket'));
  }));

test('a socket path longer than the kernel takes is bound and reached where it says, not at a truncated path', () =>
  withTempDir(async (dir) => {
    const deep = join(dir, 'a'.repeat(60), 'b'.repeat(60));
    await mkdir(deep, { recursive: true });
    const path = join(deep, 'x.sock');
    assert.ok(Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES);
    const server = createServer((c) => {
      c.on('error', () => undefined); // the liveness probe hangs up at once
      c.end('hi');
    });
    await listenUnixSocket(server, path);
    assert.ok((await lstat(path)).isSocket());
    assert.deepEqual(await readdir(join(dir, 'a'.repeat(60))), ['b'.repeat(60)], 'nothing bound at a cut path');
    const got = await new Promise<string>((resolve, reject) => {
      const c = connectUnixSocket(path);
      let text = '';
      c.on('data', (d: Buffer) => (text += d.toString()));
      c.on('end', () => resolve(text));
      c.on('error', reject);
    });
    assert.equal(got, 'hi');
    assert.equal(await clearStaleSocket(path), 'live');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await assert.rejects(lstat(path), 'closing the server removed its file');
  }));
