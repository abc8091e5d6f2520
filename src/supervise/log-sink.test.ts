import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openLogSink, REDACTED } from './log-sink.js';
import { withTempDir } from '../util/temp-dir.js';

const TOKEN = '0123456789abcdef0123456789abcdeffedcba9876543210fedcba9876543210';


describe('openLogSink', () => {
  test('stdout and stderr are redacted independently, chunk by chunk, on disk', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'logs', 'gateway.log');
      const seen: string[] = [];
      const sink = openLogSink({ file, maxBytes: 1 << 20, maxFiles: 3, secrets: [TOKEN], onText: (_s, t) => seen.push(t) });
      const out = sink.stream('stdout');
      const err = sink.stream('stderr');
      out.write(Buffer.from(`out ${TOKEN.slice(0, 30)}`));
      err.write(Buffer.from(`err ${TOKEN.slice(0, 10)}`));
      out.write(Buffer.from(`${TOKEN.slice(30)}\n`));
      err.write(Buffer.from(`${TOKEN.slice(10)}\n`));
      out.end();
      err.end();
      sink.note(`exited; token ${TOKEN}`);
      sink.close();
      const text = await readFile(file, 'utf8');
      // the two streams interleave on disk, each redacted on its own: a piece of 8+ characters
      // goes at once, the rest of a cut token joins the marker already written
      assert.ok(!text.includes(TOKEN.slice(0, 8)));
      assert.equal(text.split(REDACTED).length - 1, 3);
      assert.match(text, /^out <redacted>err <redacted>\n\n/);
      assert.match(text, /\[fleetd \d{4}-\d\d-\d\dT[^\]]+\] exited; token <redacted>\n$/);
      assert.ok(!seen.join('').includes(TOKEN.slice(0, 10)), 'onText gets redacted text only');
      assert.equal((await stat(file)).mode & 0o777, 0o600);
    }));

  test('multi-byte characters cut between chunks survive', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'g.log');
      const sink = openLogSink({ file, maxBytes: 1 << 20, maxFiles: 2, secrets: [TOKEN] });
      const s = sink.stream('stdout');
      const bytes = Buffer.from('héllo → wörld\n');
      for (let i = 0; i < bytes.length; i++) s.write(bytes.subarray(i, i + 1));
      s.end();
      sink.close();
      assert.equal(await readFile(file, 'utf8'), 'héllo → wörld\n');
    }));

  test('rotation keeps at most maxFiles files, each within maxBytes, newest content last', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'gateway.log');
      await writeFile(`${file}.7`, 'left over from a larger maxFiles\n');
      const sink = openLogSink({ file, maxBytes: 200, maxFiles: 3, secrets: [TOKEN] });
      const s = sink.stream('stdout');
      const lines: string[] = [];
      for (let i = 0; i < 100; i++) {
        const line = `line ${String(i).padStart(3, '0')} ${'x'.repeat(i % 17)}\n`;
        lines.push(line);
        s.write(line);
      }
      s.end();
      sink.close();
      const names = (await readdir(dir)).sort();
      assert.deepEqual(names, ['gateway.log', 'gateway.log.1', 'gateway.log.2']);
      for (const name of names) assert.ok((await stat(join(dir, name))).size <= 200, `${name} within maxBytes`);
      const kept = (await readFile(`${file}.2`, 'utf8')) + (await readFile(`${file}.1`, 'utf8')) + (await readFile(file, 'utf8'));
      assert.ok(kept.length > 300);
      assert.ok(lines.join('').endsWith(kept), 'the three files hold the most recent output, in order');
    }));

  test('maxFiles 1 truncates instead of rotating; a line longer than maxBytes is cut', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'gateway.log');
      const sink = openLogSink({ file, maxBytes: 50, maxFiles: 1, secrets: [] });
      const s = sink.stream('stderr');
      s.write('a'.repeat(120) + '\n');
      s.end();
      sink.close();
      assert.deepEqual(await readdir(dir), ['gateway.log']);
      assert.equal(await readFile(file, 'utf8'), 'a'.repeat(20) + '\n');
    }));

  test('a disk that refuses writes (ENOSPC) loses the text, counts it, and the sink keeps going', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'gateway.log');
      await symlink('/dev/full', file); // every write: ENOSPC
      const errors: string[] = [];
      const sink = openLogSink({ file, maxBytes: 1 << 20, maxFiles: 3, secrets: [], onError: (err) => errors.push((err as NodeJS.ErrnoException).code ?? '?') });
      const s = sink.stream('stdout');
      for (let i = 0; i < 10; i++) s.write(`line ${i}\n`);
      s.end();
      const stats = sink.stats();
      sink.close();
      assert.equal(stats.writtenBytes, 0);
      assert.equal(stats.droppedBytes, 70);
      assert.equal(stats.failures, 10);
      assert.deepEqual([...new Set(errors)], ['ENOSPC']);
    }));

  test('a log file that cannot be opened is tried again a second later, not at every write', () =>
    withTempDir(async (dir) => {
      const logs = join(dir, 'logs');
      await writeFile(logs, 'a file where the folder should be');
      let clock = 1_000_000;
      const sink = openLogSink({ file: join(logs, 'gateway.log'), maxBytes: 1 << 20, maxFiles: 3, secrets: [], now: () => clock });
      const s = sink.stream('stdout');
      s.write('lost 1\n');
      s.write('lost 2\n');
      assert.deepEqual(sink.stats(), { writtenBytes: 0, droppedBytes: 14, failures: 1 }, 'one failed open, not one per write');
      await rm(logs);
      s.write('lost 3\n');
      assert.equal(sink.stats().droppedBytes, 21, 'within a second: not tried again');
      clock += 1000;
      s.write('kept\n');
      s.end();
      sink.close();
      assert.equal(await readFile(join(logs, 'gateway.log'), 'utf8'), 'kept\n');
      assert.deepEqual(sink.stats(), { writtenBytes: 5, droppedBytes: 21, failures: 1 });
    }));
});
