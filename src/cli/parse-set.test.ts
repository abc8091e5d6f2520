import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FleetError } from '../errors.js';
import { parseEnv, parseEnvRefs, parseSets } from './parse-set.js';

/** Asserts a USAGE FleetError whose message matches. */
function assertUsage(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof FleetError && err.code === 'USAGE' && message.test(err.message));
}

describe('parseSets', () => {
  const good: [string, string[], Record<string, unknown>][] = [
    ['nothing', [], {}],
    ['boolean', ['browser.enabled=false'], { browser: { enabled: false } }],
    ['quoted string with slash', ['agents.defaults.model.primary="anthropic/claude-sonnet-4-6"'], { agents: { defaults: { model: { primary: 'anthropic/claude-sonnet-4-6' } } } }],
    ['single-quoted JSON5 string', ["a='x'"], { a: 'x' }],
    ['number and null', ['a.n=42', 'a.z=null'], { a: { n: 42, z: null } }],
    ['JSON5 object and array', ['hooks={enabled: true, list: [1, 2,],}'], { hooks: { enabled: true, list: [1, 2] } }],
    ['siblings merge', ['a.b.c=1', 'a.b.d=2', 'a.e=3'], { a: { b: { c: 1, d: 2 }, e: 3 } }],
    ['value containing =', ['a="x=y"'], { a: 'x=y' }],
    ['similar prefixes do not clash', ['a.b=1', 'a.bc=2'], { a: { b: 1, bc: 2 } }],
  ];
  for (const [name, pairs, expected] of good) {
    test(name, () => assert.deepEqual(parseSets(pairs), expected));
  }

  const bad: [string, string[], RegExp][] = [
    ['bare word is not JSON5', ['model=anthropic'], /--set model=anthropic: "anthropic" is not a JSON5 value.*quote strings/],
    ['empty value', ['a='], /"" is not a JSON5 value/],
    ['no =', ['browser.enabled'], /expected KEY=VALUE/],
    ['empty key', ['=1'], /expected KEY=VALUE/],
    ['empty segment', ['a..b=1'], /invalid key/],
    ['prototype key', ['__proto__.x=1'], /invalid key/],
    ['parent then child', ['a=1', 'a.b=2'], /--set a\.b conflicts with --set a/],
    ['child then parent', ['a.b=2', 'a=1'], /--set a conflicts with --set a\.b/],
    ['same key twice', ['a.b=1', 'a.b=2'], /conflicts/],
  ];
  for (const [name, pairs, message] of bad) {
    test(`usage error: ${name}`, () => assertUsage(() => parseSets(pairs), message));
  }
});

describe('parseEnv', () => {
  test('keeps values verbatim, including = and empty', () => {
    assert.deepEqual(parseEnv(['A=1', 'B_2=x=y', 'C=']), { A: '1', B_2: 'x=y', C: '' });
  });
  test('bad name', () => assertUsage(() => parseEnv(['1A=x']), /not a valid environment variable name/));
  test('missing =', () => assertUsage(() => parseEnv(['A']), /--env "A": expected KEY=VALUE/));
  test('duplicate', () => assertUsage(() => parseEnv(['A=1', 'A=2']), /--env A is given twice/));
});

describe('parseEnvRefs', () => {
  test('--env-file paths become absolute from the cwd; --env-credential takes a credential id', () => {
    assert.deepEqual(parseEnvRefs({ A: 'x' }, ['KEY=/etc/fleetd/k', 'REL=secrets/r'], ['CRED=anthropic'], '/home/op'), {
      A: 'x',
      KEY: { file: '/etc/fleetd/k' },
      REL: { file: '/home/op/secrets/r' },
      CRED: { credential: 'anthropic' },
    });
  });
  test('a name given by two flags', () => assertUsage(() => parseEnvRefs({ A: 'x' }, ['A=/f'], [], '/'), /--env-file A is given twice/));
  test('a bad credential id', () => assertUsage(() => parseEnvRefs({}, [], ['C=../x'], '/'), /not a systemd credential name/));
});
