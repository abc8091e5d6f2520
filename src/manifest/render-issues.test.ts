// The building blocks of problem lines: paths, values, suggestions, known keys.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeValue, editDistance, formatPath, formatProblem, knownKeysAt, suggestKey, valueAt } from './render-issues.js';
import { manifestSchema } from './schema.js';

describe('formatPath', () => {
  const rows: Array<[Array<string | number>, string]> = [
    [[], '(top level)'],
    [['version'], 'version'],
    [['fleets', 'acme', 'agents', 'korax'], 'fleets.acme.agents.korax'],
    [['gateway', 'command', 0], 'gateway.command[0]'],
    [['fleets', 'acme corp'], 'fleets["acme corp"]'],
    [['defaults', 'config', 'a.b'], 'defaults.config["a.b"]'],
    [['fleets', ''], 'fleets[""]'],
  ];
  for (const [path, expected] of rows) test(expected, () => assert.equal(formatPath(path), expected));
  test('formatProblem puts the file first', () => {
    assert.equal(formatProblem('f.json5', { path: ['a', 'b'], message: 'bad' }), 'f.json5: a.b: bad');
  });
});

describe('describeValue', () => {
  const rows: Array<[unknown, string]> = [
    [undefined, 'nothing (the key is missing)'],
    [null, 'null'],
    ['x', '"x"'],
    ['a'.repeat(80), JSON.stringify(`${'a'.repeat(57)}...`)],
    [3, '3'],
    [false, 'false'],
    [[], 'an empty array'],
    [[1], 'an array of 1 item'],
    [[1, 2], 'an array of 2 items'],
    [{ a: 1 }, 'an object'],
  ];
  for (const [value, expected] of rows) test(expected, () => assert.equal(describeValue(value), expected));
});

describe('suggestions', () => {
  test('editDistance', () => {
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('stopTimeout', 'stopTimeoutMs'), 2);
    assert.equal(editDistance('same', 'same'), 0);
  });
  test('suggestKey picks the closest key within 2 edits, ignoring case', () => {
    const known = ['command', 'openclaw', 'env', 'stopTimeoutMs'];
    assert.equal(suggestKey('stopTimeout', known), 'stopTimeoutMs');
    assert.equal(suggestKey('STOPTIMEOUTMS', known), 'stopTimeoutMs');
    assert.equal(suggestKey('envs', known), 'env');
    assert.equal(suggestKey('banana', known), undefined);
  });
});

describe('knownKeysAt walks the schema through defaults and records', () => {
  test('top level, nested objects, record values', () => {
    assert.ok(knownKeysAt(manifestSchema, []).includes('fleets'));
    assert.deepEqual(knownKeysAt(manifestSchema, ['ports']), ['base', 'blockSize', 'max']);
    assert.deepEqual(knownKeysAt(manifestSchema, ['fleets', 'any']), ['defaults', 'gateway', 'upgrade', 'user', 'agents']);
    assert.deepEqual(knownKeysAt(manifestSchema, ['fleets', 'any', 'agents', 'x']), ['enabled', 'config', 'env', 'gateway', 'limits', 'memory', 'user', 'calls', 'knowledge', 'description']);
    assert.deepEqual(knownKeysAt(manifestSchema, ['fleets', 'any', 'agents', 'x', 'gateway']), ['openclaw', 'node']);
    assert.deepEqual(knownKeysAt(manifestSchema, ['version']), []);
    assert.deepEqual(knownKeysAt(manifestSchema, ['nope', 'deeper']), []);
  });
  test('valueAt reads raw input and tolerates missing parts', () => {
    const raw = { a: { b: [10, { c: 'x' }] } };
    assert.equal(valueAt(raw, ['a', 'b', 1, 'c']), 'x');
    assert.equal(valueAt(raw, ['a', 'zz', 'c']), undefined);
    assert.equal(valueAt(null, ['a']), undefined);
  });
});
