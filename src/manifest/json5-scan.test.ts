import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import JSON5 from 'json5';
import { json5ErrorOffset, positionAt, scanJson5 } from './json5-scan.js';

const EOLS: Array<[string, string]> = [
  ['\\n', '\n'],
  ['\\r\\n', '\r\n'],
  ['\\r', '\r'],
  ['U+2028', '\u2028'],
  ['U+2029', '\u2029'],
];

/** Where JSON5.parse fails in `text`, as line:column the way an editor counts. */
function syntaxPosition(text: string): string {
  try {
    JSON5.parse(text);
  } catch (err) {
    const e = err as { lineNumber: number; columnNumber: number };
    const at = positionAt(text, json5ErrorOffset(text, e.lineNumber, e.columnNumber));
    return `${at.line}:${at.column}`;
  }
  throw new Error('expected a syntax error');
}

describe('positions', () => {
  test('a syntax error is located right whatever the line endings', () => {
    for (const [name, eol] of EOLS) {
      const lines = ['{', '  // a comment', '  version: 1,', '  fleets: @,', '}'];
      assert.equal(syntaxPosition(lines.join(eol)), '4:11', `${name}: invalid character`);
      assert.equal(syntaxPosition(['{', '  version: 1,', '  fleets: {'].join(eol) + eol), '4:1', `${name}: end of input on the empty last line`);
      assert.equal(syntaxPosition(['{', '  /* a', '  block */ version: 1 x', '}'].join(eol)), '3:23', `${name}: after a block comment`);
    }
  });

  test('columns count characters: a character outside the BMP is one column, a tab is one', () => {
    assert.equal(syntaxPosition('{\n  a: "\u{1F600}\u{1F600}", b: @ }'), '2:15', 'json5 itself says 2:17');
    assert.equal(syntaxPosition('{\n\ta: #}'), '2:5');
  });

  test('positionAt counts \\r\\n once, and the offset just past the end is the next column', () => {
    const text = 'ab\r\ncd\re\u2028f';
    assert.deepEqual(positionAt(text, 0), { line: 1, column: 1 });
    assert.deepEqual(positionAt(text, 4), { line: 2, column: 1 });
    assert.deepEqual(positionAt(text, 7), { line: 3, column: 1 });
    assert.deepEqual(positionAt(text, 9), { line: 4, column: 1 });
    assert.deepEqual(positionAt(text, text.length), { line: 4, column: 2 });
  });
});

describe('duplicate keys', () => {
  test('a key written twice is reported with both places, however it is quoted or escaped', () => {
    const text = '{\n  fleets: {},\n  version: 1,\n  "fleets": { a: 1 },\n}';
    assert.deepEqual(scanJson5(text).duplicates, [{ path: ['fleets'], first: { line: 2, column: 3 }, again: { line: 4, column: 3 } }]);
    const spelled = scanJson5("{ a: 1, 'a': 2, \"\\u0061\": 3, \\u0061: 4 }").duplicates;
    assert.deepEqual(
      spelled.map((d) => [d.path, d.again.column]),
      [
        [['a'], 9],
        [['a'], 17],
        [['a'], 30],
      ],
    );
  });

  test('nested and in arrays: the path names where; the same key in different objects is fine', () => {
    const text = '{ x: [ { a: 1 }, { a: 1, b: { c: 1, /* c: 2 */ "c": 2 } } ], y: { a: 1 }, s: "a: 1, a: 2" }';
    assert.deepEqual(
      scanJson5(text).duplicates.map((d) => d.path),
      [['x', 1, 'b', 'c']],
    );
    assert.deepEqual(scanJson5('{ a: { k: 1 }, b: { k: 1 }, c: [1, 2, 1] }').duplicates, []);
  });
});

describe('depth', () => {
  test('100 000 levels of objects or of arrays: found where it passes the limit, without recursion', () => {
    for (const [open, close] of [['{"a":', '}'], ['[', ']']] as const) {
      const text = `{ "config": ${open.repeat(100_000)}1${close.repeat(100_000)} }`;
      const found = scanJson5(text, 100).tooDeep!;
      assert.ok(found, open);
      assert.equal(found.path.length, 100);
      assert.equal(found.path[0], 'config');
      assert.deepEqual(found.at, { line: 1, column: 13 + 99 * open.length });
    }
  });

  test('exactly the limit is fine; brackets in strings and comments do not count', () => {
    const ok = `${'['.repeat(100)}${']'.repeat(100)}`;
    assert.equal(scanJson5(ok, 100).tooDeep, undefined);
    assert.ok(scanJson5(`[${ok}]`, 100).tooDeep);
    assert.equal(scanJson5(`{ a: "${'['.repeat(500)}", /* ${'{'.repeat(500)} */ b: 1 // ${'['.repeat(500)}\n}`, 3).tooDeep, undefined);
  });
});
