// Sizes, limit validation and precedence (pure, table-driven).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cpuQuotaUs, describeLimits, formatSize, limitProblem, parseSize, resolveLimits } from './limits.js';

describe('parseSize / formatSize', () => {
  const ok: Array<[string | number, number]> = [
    ['1.5G', 1610612736],
    ['1.5g', 1610612736],
    ['512M', 536870912],
    ['64MiB', 67108864],
    ['64Mi', 67108864],
    ['2 G', 2147483648],
    ['1024K', 1048576],
    ['1T', 1099511627776],
    ['1048576', 1048576],
    ['4096B', 4096],
    [1048576, 1048576],
  ];
  for (const [text, bytes] of ok) test(`${JSON.stringify(text)} = ${bytes}`, () => assert.equal(parseSize(text), bytes));
  for (const bad of ['', 'G', '5i', '5iB', '1.5X', '512MB', '-1G', '1e9', '1,5G', '1..5G', 1.5, -1, Number.MAX_VALUE]) {
    test(`${JSON.stringify(bad)} is not a size`, () => assert.equal(parseSize(bad as string | number), undefined));
  }
  test('formatSize reads back to the same bytes', () => {
    assert.equal(formatSize(1610612736), '1.5G');
    assert.equal(formatSize(67108864), '64M');
    assert.equal(formatSize(1536 * 1024), '1.5M');
    assert.equal(formatSize(1000), '1000');
    assert.equal(formatSize(100 * 1024 * 1024 + 1), '104857601');
    for (const n of [16777216, 1073741824, 3 * 1024 ** 3 + 512 * 1024 ** 2]) assert.equal(parseSize(formatSize(n)), n);
  });
});

describe('limitProblem', () => {
  const rows: Array<['memory' | 'cpu' | 'pids', unknown, RegExp | undefined]> = [
    ['memory', '1.5G', undefined],
    ['memory', 'max', undefined],
    ['memory', '8M', /at least 16M/],
    ['memory', '1.5X', /expected a size such as "1.5G"/],
    ['memory', true, /expected a size/],
    ['cpu', 1.5, undefined],
    ['cpu', 0.001, /between 0.01 and 4096/],
    ['cpu', '2', /expected a number of CPU cores/],
    ['pids', 512, undefined],
    ['pids', 0, /between 1 and/],
    ['pids', 1.5, /whole number/],
  ];
  for (const [key, value, expected] of rows) {
    test(`${key}: ${JSON.stringify(value)}`, () => {
      const problem = limitProblem(key, value);
      if (expected === undefined) assert.equal(problem, undefined);
      else assert.match(problem ?? '', expected);
    });
  }
});

describe('resolveLimits', () => {
  test('agent wins key by key over fleet and defaults; "max" lifts an inherited limit', () => {
    const limits = resolveLimits([{ memory: '2G', cpu: 2, pids: 1024 }, { cpu: 1 }, { memory: '1.5G', pids: 'max' }]);
    assert.deepEqual(limits, { memoryBytes: 1610612736, memoryText: '1.5G', cpu: 1 });
  });
  test('no level, no limit', () => assert.deepEqual(resolveLimits([undefined, {}, undefined]), {}));
  test('bytes as a number are shown in the short form', () => assert.equal(resolveLimits([{ memory: 67108864 }]).memoryText, '64M'));
  test('an invalid value (a manifest the rules would refuse) throws, naming it', () => {
    assert.throws(() => resolveLimits([{ memory: 'lots' }]), /limits\.memory: expected a size/);
  });
  test('describeLimits and cpuQuotaUs', () => {
    assert.equal(describeLimits(resolveLimits([{ memory: '1.5g', cpu: 1.5, pids: 512 }])), 'memory 1.5G, 1.5 CPUs, 512 pids');
    assert.equal(describeLimits({}), 'no limits');
    assert.equal(cpuQuotaUs(1.5), 150000);
    assert.equal(cpuQuotaUs(0.01), 1000);
  });
});
