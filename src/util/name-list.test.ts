import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nameList } from './name-list.js';

test('names joined, at most max of them, then how many more; a word for none', () => {
  assert.equal(nameList(['a', 'b']), 'a, b');
  assert.equal(nameList(['a', 'b', 'c', 'd', 'e']), 'a, b, c, d, e');
  assert.equal(nameList(['a', 'b', 'c', 'd', 'e', 'f', 'g']), 'a, b, c, d, e and 2 more');
  assert.equal(nameList(['a', 'b', 'c'], 2), 'a, b and 1 more');
  assert.equal(nameList([]), '(none)');
  assert.equal(nameList([], 5, 'nothing'), 'nothing');
});
