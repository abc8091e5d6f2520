import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../util/wait-for.js';
import { followLog, MAX_LINE_CHARS, tailLines } from './log-read.js';
import { openLogSink } from './log-sink.js';
import { withTempDir } from '../util/temp-dir.js';


const numbered = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}`);

describe('tailLines', () => {
  test('reads the last lines of the current file, reaching into rotated files', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'gateway.log');
      const sink = openLogSink({ file, maxBytes: 120, maxFiles: 4, secrets: [] });
      const s = sink.stream('stdout');
      for (const line of numbered(0, 40)) s.write(`${line}\n`);
      s.end();
      sink.close();
      assert.deepEqual(await tailLines(file, 3), ['line 37', 'line 38', 'line 39']);
      const many = await tailLines(file, 25);
      assert.deepEqual(many, numbered(15, 40), 'spans the current file and rotated ones');
      const all = await tailLines(file, 1000);
      assert.deepEqual(all, numbered(40 - all.length, 40), 'whatever is kept, in order, without gaps');
      assert.deepEqual(await tailLines(file, 0), []);
    }));

  test('a last line without a line break counts; a missing file is empty', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'g.log');
      assert.deepEqual(await tailLines(file, 5), []);
      await writeFile(file, 'a\nb\nc');
      assert.deepEqual(await tailLines(file, 2), ['b', 'c']);
    }));

  test('long files are read backwards in blocks', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'g.log');
      await writeFile(file, numbered(0, 20000).join('\n') + '\n');
      assert.deepEqual(await tailLines(file, 2), ['line 19998', 'line 19999']);
      assert.equal((await tailLines(file, 15000))[0], 'line 5000');
    }));

  test('a rotated set without a single line break: the answer is bounded and says it is cut (issue 9 item 5)', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'gateway.log');
      for (const [i, path] of [file, `${file}.1`, `${file}.2`, `${file}.3`, `${file}.4`].entries()) await writeFile(path, String(i).repeat(2 * 1024 * 1024 + 100_000));
      for (const n of [1, 3, 100_000]) {
        const lines = await tailLines(file, n);
        assert.equal(lines.length, 1, `-n ${n}: one (cut) line`);
        assert.ok(lines[0]!.length < MAX_LINE_CHARS + 200, `-n ${n}: ${lines[0]!.length} characters`);
        assert.match(lines[0]!, /^\[fleetd: \d+ characters of this line not shown\] 0+$/);
      }
      // smaller bounds: the cap on bytes read says so on the first line
      const small = await tailLines(file, 3, { maxBytes: 1000, maxLineChars: 5000 });
      assert.deepEqual(small, [`[fleetd: the start of this line is not shown: over 1000 bytes read] ${'0'.repeat(1000)}`]);
    }));

  test('one huge line among ordinary ones keeps its end; the ordinary ones are whole', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'g.log');
      await writeFile(file, `first\n${'x'.repeat(300)}END\nlast\n`);
      assert.deepEqual(await tailLines(file, 3, { maxLineChars: 100 }), ['first', `[fleetd: 203 characters of this line not shown] ${'x'.repeat(97)}END`, 'last']);
    }));
});

describe('followLog', () => {
  test('follows new output across rotations until aborted', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'gateway.log');
      await writeFile(file, 'old line before following\n');
      const sink = openLogSink({ file, maxBytes: 100, maxFiles: 3, secrets: [] });
      const s = sink.stream('stdout');
      let got = '';
      const controller = new AbortController();
      let ready = false;
      const following = followLog(file, (t) => (got += t), controller.signal, { pollMs: 10, onReady: () => (ready = true) });
      await waitFor(() => ready, { timeoutMs: 3000 });
      const expected: string[] = [];
      // Write in bursts; each burst rotates at least once (more than maxBytes), waiting for
      // the follower to catch up in between so no burst rotates the file more than twice.
      for (let burst = 0; burst < 6; burst++) {
        for (const line of numbered(burst * 5, burst * 5 + 5)) {
          s.write(`${line} ${'-'.repeat(10)}\n`);
          expected.push(`${line} ${'-'.repeat(10)}`);
        }
        await waitFor(() => got.includes(`${expected.at(-1)}\n`), { timeoutMs: 3000, what: `burst ${burst}` });
      }
      controller.abort();
      await following;
      assert.deepEqual(got.trimEnd().split('\n'), expected, 'everything, once, in order, nothing from before');
      s.end();
      sink.close();
    }));

  test('fromStart reads the current file first; a file that appears later is picked up', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'g.log');
      let got = '';
      const controller = new AbortController();
      const following = followLog(file, (t) => (got += t), controller.signal, { pollMs: 10, fromStart: true });
      await writeFile(file, 'first\n');
      await waitFor(() => got === 'first\n', { timeoutMs: 3000 });
      await appendFile(file, 'second\n');
      await waitFor(() => got === 'first\nsecond\n', { timeoutMs: 3000 });
      controller.abort();
      await following;
    }));
});
