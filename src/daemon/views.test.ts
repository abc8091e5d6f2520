// Status views memoized per agent: rebuilt whenever anything they show changed (the runner's
// status, nested fields too; the reading; the registry entry; the declaration; the last
// launch's runtime), always equal to a view built anew; uptime follows the clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredAgent, RegistryEntry } from '../plan/types.js';
import type { RunnerStatus } from '../supervise/types.js';
import type { Agent } from './agent.js';
import { agentViews, agentViewsJson, createViewMemo } from './views.js';
import { sameData } from '../util/same-data.js';
import { cachedMatcher, stringifyRedacted } from '../supervise/redact.js';
import { createStatusReadings, stateKey, type StatusReading, type StatusReadings } from './status-readings.js';

/** The parts of an Agent a view reads. */
interface FakeAgent {
  address: string;
  desired: DesiredAgent;
  entry: Readonly<RegistryEntry> | undefined;
  isolation: Agent['isolation'];
  runtimeVersions: Agent['runtimeVersions'];
  current: RunnerStatus;
  status(): RunnerStatus;
}

function fakeAgent(): FakeAgent {
  const desired = { address: 'acme/a', fleet: 'acme', agent: 'a', source: 'manifest', enabled: true, config: {}, env: {}, launch: { kind: 'openclaw', version: '2026.9.6' } } as unknown as DesiredAgent;
  const current: RunnerStatus = { address: 'acme/a', state: 'running', reason: 'healthy', since: 1000, pid: 42, port: 18000, spawnedAt: 900, runningSince: 1000, restarts: 0, lastExit: null, health: { live: true, ready: true, failing: [] } as unknown as RunnerStatus['health'], nextStartAt: null };
  return {
    address: 'acme/a',
    desired,
    entry: { desired: 'running', port: 18000 } as unknown as RegistryEntry,
    isolation: undefined,
    runtimeVersions: { openclaw: '2026.9.6', node: '24.0.0' },
    current,
    status() {
      return structuredClone(this.current);
    },
  };
}

/** Readings whose one reading (if any) is `reading`, shown for its key. */
function readingsOf(box: { reading: StatusReading | undefined }): StatusReadings {
  const r = createStatusReadings({ subjects: () => [], treeReader: async () => () => null });
  return { ...r, asked: () => undefined, shown: (_address, key) => (box.reading?.key === key ? box.reading : undefined) };
}

test('a memoized view equals one built anew after every kind of change, and is reused while nothing changed', () => {
  const agent = fakeAgent();
  const box: { reading: StatusReading | undefined } = { reading: undefined };
  const readings = readingsOf(box);
  const memo = createViewMemo();
  let now = 5000;
  const both = () => {
    const ctx = { stateDir: '/state', now, readings };
    const memoized = agentViews([agent as unknown as Agent], { ...ctx, memo })[0]!;
    const fresh = agentViews([agent as unknown as Agent], ctx)[0]!;
    assert.deepEqual(memoized, fresh);
    return memoized;
  };
  const first = both();
  assert.equal(first.uptimeMs, 4100);
  now = 6000;
  const again = both();
  assert.equal(again.uptimeMs, 5100, 'uptime follows the clock');
  assert.equal(again.health, first.health, 'nothing changed: the memoized view serves');
  const changes: Array<[string, () => void, (v: ReturnType<typeof both>) => unknown, unknown]> = [
    ['reason', () => (agent.current.reason = 'still healthy'), (v) => v.reason, 'still healthy'],
    ['health (nested)', () => ((agent.current.health as { ready: boolean }).ready = false), (v) => v.health.ready, false],
    ['health failing (array)', () => ((agent.current.health as unknown as { failing: string[] }).failing = ['x']), (v) => (v.health as unknown as { failing: string[] }).failing, ['x']],
    ['restarts', () => (agent.current.restarts = 1), (v) => v.restarts, 1],
    ['lastExit', () => (agent.current.lastExit = { code: 1, signal: null, at: 5500, runtimeMs: 10 } as RunnerStatus['lastExit']), (v) => v.lastExit?.code, 1],
    ['state and pid', () => Object.assign(agent.current, { state: 'starting', since: 6000, pid: 43, spawnedAt: 6000, runningSince: null }), (v) => [v.state, v.pid, v.healthyForMs], ['starting', 43, null]],
    ['a reading in this state', () => (box.reading = { key: stateKey(agent.current), at: 0, tree: { rssBytes: 4096, cpuSeconds: 1 }, cgroup: null }), (v) => v.rssBytes, 4096],
    ['a newer reading', () => (box.reading = { key: stateKey(agent.current), at: 1, tree: { rssBytes: 8192, cpuSeconds: 2 }, cgroup: null }), (v) => v.rssBytes, 8192],
    ['a new state (the reading is of the old one)', () => Object.assign(agent.current, { state: 'running', since: 6100, runningSince: 6100 }), (v) => [v.state, v.rssBytes], ['running', null]],
    ['registry entry replaced', () => (agent.entry = { desired: 'stopped', port: 18000 } as unknown as RegistryEntry), (v) => v.desired, 'stopped'],
    ['declaration replaced', () => (agent.desired = { ...agent.desired, enabled: false }), (v) => v.enabled, false],
    ['runtime of the launch', () => (agent.runtimeVersions = { openclaw: '2026.10.1', node: '24.0.0' }), (v) => v.openclaw, '2026.10.1'],
  ];
  for (const [what, change, shown, expected] of changes) {
    change();
    assert.deepEqual(shown(both()), expected, what);
  }
});

test('status as JSON: the views redacted as a whole answer was, each unchanged view\'s text kept until the view or the secrets change', () => {
  const agent = fakeAgent();
  const readings = readingsOf({ reading: undefined });
  const memo = createViewMemo();
  const leaked = 'abcdefghij0123456789';
  let secrets: string[] = ['some-other-token-0000'];
  const matcher = cachedMatcher(() => secrets);
  agent.current.reason = `gateway said: bad token ${leaked}`;
  let now = 5000;
  const answer = () => {
    const ctx = { stateDir: '/state', now, readings, memo };
    const json = agentViewsJson([agent as unknown as Agent], ctx, matcher());
    // what the server sent before: the views, serialized and redacted as one document
    assert.deepEqual(JSON.parse(json), JSON.parse(stringifyRedacted(agentViews([agent as unknown as Agent], { stateDir: '/state', now, readings }), matcher())));
    return JSON.parse(json)[0] as ReturnType<typeof agentViews>[number];
  };
  assert.equal(answer().reason, `gateway said: bad token ${leaked}`);
  const kept = memo.get(agent as unknown as Agent)!.json;
  assert.ok(kept, 'the text of the view is kept');
  now = 6000;
  assert.equal(answer().uptimeMs, 5100, 'uptime follows the clock');
  assert.equal(memo.get(agent as unknown as Agent)!.json, kept, 'nothing changed: the kept text serves');
  secrets = [...secrets, leaked];
  assert.equal(answer().reason, 'gateway said: bad token <redacted>', 'a secret added since the text was kept is redacted');
  secrets = ['some-other-token-0000'];
  assert.equal(answer().reason, `gateway said: bad token ${leaked}`, 'a secret removed is shown again');
  agent.current.reason = 'healthy';
  assert.equal(answer().reason, 'healthy', 'a changed view gets a new text');
});

test('sameData: deep equality of plain data', () => {
  assert.ok(sameData({ a: 1, b: [1, { c: null }] }, { a: 1, b: [1, { c: null }] }));
  assert.ok(!sameData({ a: 1, b: [1, { c: null }] }, { a: 1, b: [1, { c: 0 }] }));
  assert.ok(!sameData({ a: 1 }, { a: 1, b: undefined }));
  assert.ok(!sameData({ a: 1, b: undefined }, { a: 1, c: undefined }));
  assert.ok(!sameData([1], { 0: 1 }));
  assert.ok(!sameData(null, {}));
});

// A reading's figures are kept beside the view's text, not in it: a refresh of the readings
// (once a second while status is polled) made every view and its redacted text again.
test('status with isolation: a new reading changes the figures and keeps the redacted text; the answer is still the views redacted whole', () => {
  const agent = fakeAgent();
  const cgroup = { version: 1, name: 'acme@a', dirs: ['/sys/fs/cgroup/memory/fleetd/agents/acme@a'], procsFiles: [], usage: () => assert.fail('a status request read the cgroup itself') };
  agent.isolation = { spec: { limits: { memoryText: '1G', memoryBytes: 1024 ** 3, pids: 64 }, merge: false }, cgroup } as unknown as Agent['isolation'];
  const box: { reading: StatusReading | undefined } = { reading: undefined };
  const readings = readingsOf(box);
  const memo = createViewMemo();
  const leaked = 'abcdefghij0123456789';
  const matcher = cachedMatcher(() => [leaked]);
  agent.current.reason = `gateway said: bad token ${leaked}`;
  const self = agent as unknown as Agent;
  const answer = () => {
    const json = agentViewsJson([self], { stateDir: '/state', now: 5000, readings, memo }, matcher());
    assert.deepEqual(JSON.parse(json), JSON.parse(stringifyRedacted(agentViews([self], { stateDir: '/state', now: 5000, readings }), matcher())), 'as the views redacted as one document');
    assert.deepEqual(agentViews([self], { stateDir: '/state', now: 5000, readings, memo }), agentViews([self], { stateDir: '/state', now: 5000, readings }), 'memoized objects equal ones built anew');
    return JSON.parse(json)[0] as ReturnType<typeof agentViews>[number];
  };
  const reading = (at: number, memory: number, cpuUsec: number, pids: number): StatusReading => ({
    key: stateKey(agent.current),
    at,
    tree: { rssBytes: memory + 4096, cpuSeconds: cpuUsec / 1e6 },
    cgroup: { memory: { current: memory, limit: 1024 ** 3, peak: memory * 2 }, cpuUsageUsec: cpuUsec, cpuLimit: null, pids: { current: pids, limit: 64 }, oom: { oomKills: 0, limitHits: 0 } },
  });
  const first = answer();
  assert.equal(first.reason, 'gateway said: bad token <redacted>');
  assert.equal(first.rssBytes, null);
  assert.deepEqual(first.isolation?.memory, { currentBytes: null, limitBytes: 1024 ** 3, peakBytes: null, source: 'none', text: 'unknown' });
  assert.deepEqual(first.isolation?.limits, { memory: '1G', cpu: null, pids: 64 });
  const kept = memo.get(self)!.json;
  box.reading = reading(1, 2 * 1024 ** 2, 1_500_000, 3);
  const second = answer();
  assert.equal(second.rssBytes, 2 * 1024 ** 2 + 4096);
  assert.equal(second.cpuSeconds, 1.5);
  assert.deepEqual(second.isolation?.memory, { currentBytes: 2 * 1024 ** 2, limitBytes: 1024 ** 3, peakBytes: 4 * 1024 ** 2, source: 'cgroup', text: '2M / 1G (0 %)' });
  assert.equal(second.isolation?.cpuSeconds, 1.5);
  assert.deepEqual(second.isolation?.pids, { current: 3, limit: 64 });
  assert.equal(second.isolation?.cgroup, '/sys/fs/cgroup/memory/fleetd/agents/acme@a');
  assert.equal(memo.get(self)!.json, kept, 'a new reading keeps the view\'s redacted text');
  const figures = memo.get(self)!.figures;
  answer();
  assert.equal(memo.get(self)!.figures, figures, 'the same reading: the same figures');
  box.reading = reading(2, 3 * 1024 ** 2, 2_000_000, 4);
  assert.equal(answer().isolation?.pids.current, 4);
  assert.equal(memo.get(self)!.json, kept);
  Object.assign(agent.current, { state: 'stopped', pid: null, since: 7000, runningSince: null, spawnedAt: null });
  const stopped = answer();
  assert.equal(stopped.isolation?.memory.text, 'not running', 'a new state: no reading of it yet');
  assert.equal(stopped.rssBytes, null);
  assert.notEqual(memo.get(self)!.json, kept, 'a changed view gets a new text');
});
