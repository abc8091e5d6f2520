import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepMerge } from './merge.js';

const table: Array<{ name: string; layers: Array<Record<string, unknown>>; want: Record<string, unknown> }> = [
  { name: 'no layers', layers: [], want: {} },
  { name: 'disjoint keys', layers: [{ a: 1 }, { b: 2 }], want: { a: 1, b: 2 } },
  { name: 'scalar replaces scalar', layers: [{ a: 1 }, { a: 2 }], want: { a: 2 } },
  { name: 'objects merge recursively', layers: [{ a: { x: 1, y: { p: 1 } } }, { a: { y: { q: 2 } } }], want: { a: { x: 1, y: { p: 1, q: 2 } } } },
  { name: 'arrays replace, never concatenate', layers: [{ a: [1, 2, 3] }, { a: [9] }], want: { a: [9] } },
  { name: 'object replaces scalar', layers: [{ a: 1 }, { a: { b: 1 } }], want: { a: { b: 1 } } },
  { name: 'scalar replaces object', layers: [{ a: { b: 1 } }, { a: 'x' }], want: { a: 'x' } },
  { name: 'null replaces object', layers: [{ a: { b: 1 } }, { a: null }], want: { a: null } },
  { name: 'array replaces object', layers: [{ a: { b: 1 } }, { a: [1] }], want: { a: [1] } },
  { name: 'three layers, last wins', layers: [{ a: 1, b: { c: 1 } }, { a: 2, b: { d: 2 } }, { a: 3, b: { c: 3 } }], want: { a: 3, b: { c: 3, d: 2 } } },
  { name: 'false and 0 are values, not gaps', layers: [{ a: true, b: 5 }, { a: false, b: 0 }], want: { a: false, b: 0 } },
];

for (const row of table) {
  test(`deepMerge: ${row.name}`, () => {
    assert.deepEqual(deepMerge(...row.layers), row.want);
  });
}

test('deepMerge does not mutate or alias its inputs', () => {
  const base = { a: { list: [1, { x: 1 }] } };
  const top = { a: { more: { y: 1 } } };
  const out = deepMerge(base, top);
  (out['a'] as { list: unknown[] }).list.push(2);
  ((out['a'] as { more: { y: number } }).more).y = 99;
  assert.deepEqual(base, { a: { list: [1, { x: 1 }] } });
  assert.deepEqual(top, { a: { more: { y: 1 } } });
});

test('deepMerge copies a "__proto__" key as data, never as a prototype', () => {
  const evil = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
  const out = deepMerge({}, evil);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.ok(Object.prototype.hasOwnProperty.call(out, '__proto__'));
  assert.equal(out['a'], 1);
});
