import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeAgent, formatExit, formatHealth, formatMemory, formatReason, statusRow } from './agent-view.js';
import { formatBytes, renderTable } from './format.js';
import { formatDurationCompact as formatDuration } from '../util/duration.js';
import { agentView } from '../../test/support/cli/canned.js';

describe('formatDuration', () => {
  const table: [number | null, string][] = [
    [null, '-'],
    [-1, '-'],
    [0, '0ms'],
    [850, '850ms'],
    [1000, '1s'],
    [59_999, '59s'],
    [60_000, '1m00s'],
    [192_000, '3m12s'],
    [3_600_000, '1h00m'],
    [7_500_000, '2h05m'],
    [86_400_000, '1d00h'],
    [273_600_000, '3d04h'],
  ];
  for (const [ms, expected] of table) test(`${ms} -> ${expected}`, () => assert.equal(formatDuration(ms), expected));
});

describe('formatBytes', () => {
  const table: [number | null, string][] = [
    [null, '-'],
    [0, '0B'],
    [512, '512B'],
    [1536, '1.5KiB'],
    [87.3 * 1024 * 1024, '87.3MiB'],
    [512 * 1024 * 1024, '512MiB'],
    [1024 ** 3, '1.0GiB'],
  ];
  for (const [bytes, expected] of table) test(`${bytes} -> ${expected}`, () => assert.equal(formatBytes(bytes), expected));
});

describe('renderTable', () => {
  test('aligns columns, last column unpadded, no trailing blanks', () => {
    const text = renderTable(['A', 'BB', 'C'], [['xxx', 'y', ''], ['z', 'wwww', 'last']]);
    assert.equal(text, 'A    BB    C\nxxx  y\nz    wwww  last\n');
  });
});

describe('agent view', () => {
  test('health words', () => {
    assert.equal(formatHealth({ live: true, ready: true }), 'ready');
    // live, and /readyz said 503: unready (its failing checks are in the reason)
    assert.equal(formatHealth({ live: true, ready: false }), 'unready');
    // live, no usable /readyz answer (not an OpenClaw, or it did not answer in time)
    assert.equal(formatHealth({ live: true, ready: null }), 'live');
    assert.equal(formatHealth({ live: false, ready: false }), 'down');
    assert.equal(formatHealth({ live: null, ready: null }), '-');
  });
  test('last exit', () => {
    assert.equal(formatExit(null), '-');
    assert.equal(formatExit({ code: 1, signal: null, at: 0, runtimeMs: 1 }), '1');
    assert.equal(formatExit({ code: null, signal: 'SIGKILL', at: 0, runtimeMs: 1 }), 'SIGKILL');
  });
  test('reason shows failing probes and the backoff countdown', () => {
    const agent = agentView('acme/k', { state: 'backoff', reason: 'exited with code 1', nextStartAt: 10_000, health: { live: null, ready: null, failing: ['discord'] } });
    assert.equal(formatReason(agent, 6_000), 'exited with code 1; readiness failing: discord; next start in 4 s');
  });
  test('status row', () => {
    assert.deepEqual(statusRow(agentView('acme/k'), 0), ['acme/k', 'running', '4242', '18800', '1h02m', '1h01m', '0', '-', 'ready', '512MiB', '-', '-', 'ready']);
  });
  test('memory: the cgroup\'s figure against the limit, else the tree RSS, else -', () => {
    const iso = (source: 'cgroup' | 'tree-rss', currentBytes: number | null, limit: string | null) => ({
      cgroup: source === 'cgroup' ? '/sys/fs/cgroup/x' : null,
      user: null,
      limits: { memory: limit, cpu: null, pids: null },
      memory: { currentBytes, limitBytes: null, peakBytes: null, source, text: '' },
      cpuSeconds: null,
      pids: { current: null, limit: null },
      oomKills: null,
      merge: 'off',
    });
    assert.equal(formatMemory(agentView('acme/k', { isolation: iso('cgroup', 300 * 1024 * 1024, '1.5G') })), '300MiB/1.5G');
    assert.equal(formatMemory(agentView('acme/k', { isolation: iso('cgroup', 300 * 1024 * 1024, null) })), '300MiB');
    assert.equal(formatMemory(agentView('acme/k', { isolation: iso('tree-rss', null, '1G') })), '512MiB/1G', 'no cgroup: the tree RSS');
    assert.equal(formatMemory(agentView('acme/k', { rssBytes: null })), '-');
    // stopped: no process, whatever its cgroup still charges (page cache of its last run)
    assert.equal(formatMemory(agentView('acme/k', { state: 'stopped', pid: null, rssBytes: null, isolation: iso('cgroup', 40 * 1024, '1G') })), '-');
  });
  test('one-line summary', () => {
    assert.equal(describeAgent(agentView('acme/k', { reason: 'started' })), 'acme/k: running, pid 4242, port 18800, ready; started');
  });
});
