// The wrapper around npm's `semver`: the ranges npm reads, plus fleetd's rule that a
// prerelease never satisfies a range.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, maxSatisfying, parseVersion, satisfies } from './semver.js';
import { FleetError } from '../errors.js';

// [range, version, expected]
const TABLE: Array<[string, string, boolean]> = [
  // the OpenClaw 2026.9.6 engines range
  ['>=24.16.0 <25 || >=26.1.0', '24.21.0', true],
  ['>=24.16.0 <25 || >=26.1.0', '24.16.0', true],
  ['>=24.16.0 <25 || >=26.1.0', '24.15.9', false],
  ['>=24.16.0 <25 || >=26.1.0', '25.0.0', false],
  ['>=24.16.0 <25 || >=26.1.0', '25.9.0', false],
  ['>=24.16.0 <25 || >=26.1.0', '26.0.0', false],
  ['>=24.16.0 <25 || >=26.1.0', '26.1.0', true],
  ['>=24.16.0 <25 || >=26.1.0', '26.10.0', true],
  ['>=24.16.0 <25 || >=26.1.0', '20.20.2', false],
  ['>=24.16.0 <25 || >=26.1.0', '24.16.0-rc.1', false],
  ['>=24.16.0 <25 || >=26.1.0', '26.2.0-nightly.1', false],
  ['>=24.16.0 <25 || >=26.1.0', 'v24.21.0', true],
  // primitive comparators
  ['>1.2.3', '1.2.3', false],
  ['>1.2.3', '1.2.4', true],
  ['>=1.2.3', '1.2.3', true],
  ['<1.2.3', '1.2.2', true],
  ['<1.2.3', '1.2.3', false],
  ['<=1.2.3', '1.2.3', true],
  ['<=1.2.3', '1.2.4', false],
  ['=1.2.3', '1.2.3', true],
  ['=1.2.3', '1.2.4', false],
  ['1.2.3', '1.2.3', true],
  ['1.2.3', '1.2.30', false],
  ['>= 1.2.3', '1.2.3', true],
  ['>= 1.2.3 < 2', '1.9.9', true],
  ['>= 1.2.3 < 2', '2.0.0', false],
  // x-ranges
  ['*', '0.0.1', true],
  ['', '5.0.0', true],
  ['x', '1.0.0', true],
  ['1', '1.9.9', true],
  ['1', '2.0.0', false],
  ['1.x', '1.0.0', true],
  ['1.x', '0.9.9', false],
  ['1.2.x', '1.2.9', true],
  ['1.2.*', '1.3.0', false],
  ['1.2', '1.2.0', true],
  ['1.2', '1.3.0', false],
  ['>1', '1.9.9', false],
  ['>1', '2.0.0', true],
  ['>1.2', '1.2.9', false],
  ['>1.2', '1.3.0', true],
  ['>=1.x', '1.0.0', true],
  ['<1.2', '1.1.9', true],
  ['<1.2', '1.2.0', false],
  ['<=1.2', '1.2.9', true],
  ['<=1.2', '1.3.0', false],
  ['<=1', '1.99.0', true],
  ['<*', '1.0.0', false],
  ['>*', '1.0.0', false],
  // tilde
  ['~1.2.3', '1.2.3', true],
  ['~1.2.3', '1.2.9', true],
  ['~1.2.3', '1.3.0', false],
  ['~1.2.3', '1.2.2', false],
  ['~1.2', '1.2.0', true],
  ['~1.2', '1.3.0', false],
  ['~1', '1.9.0', true],
  ['~1', '2.0.0', false],
  ['~>1.2.3', '1.2.5', true],
  // caret
  ['^1.2.3', '1.2.3', true],
  ['^1.2.3', '1.99.0', true],
  ['^1.2.3', '2.0.0', false],
  ['^1.2.3', '1.2.2', false],
  ['^0.2.3', '0.2.9', true],
  ['^0.2.3', '0.3.0', false],
  ['^0.0.3', '0.0.3', true],
  ['^0.0.3', '0.0.4', false],
  ['^1.2', '1.2.0', true],
  ['^1.2', '2.0.0', false],
  ['^0.0', '0.0.9', true],
  ['^0.0', '0.1.0', false],
  ['^0', '0.9.9', true],
  ['^0', '1.0.0', false],
  ['^1.x', '1.5.0', true],
  // hyphen ranges
  ['1.2.3 - 2.3.4', '1.2.3', true],
  ['1.2.3 - 2.3.4', '2.3.4', true],
  ['1.2.3 - 2.3.4', '2.3.5', false],
  ['1.2.3 - 2', '2.9.9', true],
  ['1.2.3 - 2', '3.0.0', false],
  // OR of ANDs
  ['^18 || ^20 || >=22', '20.1.0', true],
  ['^18 || ^20 || >=22', '21.0.0', false],
  ['^18 || ^20 || >=22', '22.0.0', true],
  ['>=1.0.0 <1.0.0', '1.0.0', false],
  // prereleases never match, whatever the range says
  ['>=1.0.0-0', '1.0.0-rc.1', false],
  ['*', '1.0.0-alpha', false],
  // not a version
  ['*', 'latest', false],
  ['*', '1.2', false],
];

describe('satisfies', () => {
  for (const [range, version, expected] of TABLE) {
    test(`${JSON.stringify(version)} ${expected ? 'is' : 'is not'} in ${JSON.stringify(range)}`, () => {
      assert.equal(satisfies(version, range), expected);
    });
  }

  test('a bad range throws RUNTIME_FAILED naming the range', () => {
    for (const bad of ['>=abc', '>=1.2.3.4', '!1.2.3', '>=1.2.3 <', '1.2.3 - ']) {
      assert.throws(() => satisfies('1.2.3', bad), (err: unknown) => {
        assert.ok(err instanceof FleetError, `${bad}: not a FleetError`);
        assert.equal(err.code, 'RUNTIME_FAILED');
        assert.match(err.message, /invalid semver range/);
        return true;
      }, bad);
    }
  });
});

describe('compareVersions', () => {
  const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0', '10.0.0'];
  test('orders the semver spec example list', () => {
    for (let i = 0; i + 1 < ordered.length; i++) {
      const a = parseVersion(ordered[i]!)!;
      const b = parseVersion(ordered[i + 1]!)!;
      assert.equal(compareVersions(a, b), -1, `${ordered[i]} < ${ordered[i + 1]}`);
      assert.equal(compareVersions(b, a), 1, `${ordered[i + 1]} > ${ordered[i]}`);
      assert.equal(compareVersions(a, a), 0);
    }
  });

  test('parseVersion rejects partial and garbage versions', () => {
    for (const bad of ['1', '1.2', '1.2.x', 'latest', '1.2.3-', '1.2.3.4', ' ']) {
      assert.equal(parseVersion(bad), undefined, bad);
    }
    const rc = parseVersion('v24.16.0-rc.1')!;
    assert.deepEqual([rc.major, rc.minor, rc.patch, [...rc.prerelease]], [24, 16, 0, ['rc', 1]]);
  });
});

describe('maxSatisfying', () => {
  test('picks the highest release in range, skipping prereleases and junk', () => {
    const versions = ['20.20.2', '24.16.0-rc.1', '24.16.0', '24.21.0', '25.9.0', '26.0.0', '26.1.0', '26.10.0', '26.9.0', '27.0.0-nightly', 'nonsense'];
    assert.equal(maxSatisfying(versions, '>=24.16.0 <25 || >=26.1.0'), '26.10.0');
    assert.equal(maxSatisfying(versions, '>=24.16.0 <25'), '24.21.0');
    assert.equal(maxSatisfying(versions, '^25'), '25.9.0');
    assert.equal(maxSatisfying(versions, '>=30'), undefined);
    assert.equal(maxSatisfying([], '*'), undefined);
  });
});
