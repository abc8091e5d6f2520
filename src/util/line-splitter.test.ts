import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLineSplitter } from './line-splitter.js';

/** Feeds `chunks` and returns the lines and overflow reports. */
function split(chunks: Array<string | Buffer>, maxBytes = 16): { lines: string[]; tooLong: number[] } {
  const lines: string[] = [];
  const tooLong: number[] = [];
  const s = createLineSplitter(maxBytes, { line: (l) => lines.push(l), tooLong: (n) => tooLong.push(n) });
  for (const c of chunks) s.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return { lines, tooLong };
}

test('lines cut anywhere, several per chunk, and multi-byte characters cut between chunks come out whole', () => {
  const euro = Buffer.from('€\n');
  assert.deepEqual(split(['a', 'b\nc', 'd\n\ne\n', euro.subarray(0, 1), euro.subarray(1)]).lines, ['ab', 'cd', '', 'e', '€']);
  assert.deepEqual(split(['no line break yet']).lines, [], 'an unfinished line is held');
});

test('a line longer than the bound is reported once and skipped to its line break; the next line is fine', () => {
  assert.deepEqual(split(['x'.repeat(10), 'y'.repeat(10), 'z'.repeat(100), '\nok\n']), { lines: ['ok'], tooLong: [20] });
  assert.deepEqual(split([`${'x'.repeat(40)}\nok\n`]), { lines: ['ok'], tooLong: [40] }, 'also when it ends in the same chunk');
  assert.deepEqual(split(['x'.repeat(16), '\n']), { lines: ['x'.repeat(16)], tooLong: [] }, 'exactly the bound is fine');
});

test('the caller may reuse its buffer: held bytes are copied', () => {
  const lines: string[] = [];
  const s = createLineSplitter(64, { line: (l) => lines.push(l), tooLong: () => undefined });
  const buf = Buffer.from('abc');
  s.push(buf);
  buf.write('XYZ');
  s.push(Buffer.from('\n'));
  assert.deepEqual(lines, ['abc']);
});
