import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatConfigPath, jsonEqual, mergeConfig, type ConfigChange } from './config-merge.js';

const token = 'a'.repeat(64);
const managed = { gateway: { mode: 'local', port: 20000, bind: 'loopback', auth: { mode: 'token', token } } };

/** Changes as `kind path` strings, for compact assertions. */
const kinds = (changes: ConfigChange[]) => changes.map((c) => `${c.kind} ${c.path.join('.')}`);

test('a key OpenClaw added survives; the file is unchanged when nothing else moved', () => {
  const applied = { ...managed, agents: { defaults: { workspace: '/w' } } };
  const current = { ...managed, agents: { defaults: { workspace: '/w', heartbeat: { every: '2h' } } }, meta: { lastTouchedVersion: '2026.9.6' } };
  const r = mergeConfig({ current, lastApplied: applied, desired: applied });
  assert.deepEqual(r.config, current);
  assert.equal(r.changed, false);
  assert.deepEqual(r.changes, []);
  assert.deepEqual(
    r.openclaw.map((k) => k.path.join('.')),
    ['agents.defaults.heartbeat', 'meta'],
  );
});

test('table: desired keys win; overrides of OpenClaw values are reported; dropped keys go unless OpenClaw changed them', () => {
  const rows: Array<{ name: string; current?: object; applied?: object; desired: object; config: object; changes: string[] }> = [
    {
      name: 'manifest changed a value OpenClaw left alone: update',
      current: { a: 1 },
      applied: { a: 1 },
      desired: { a: 2 },
      config: { a: 2 },
      changes: ['update a'],
    },
    {
      name: 'OpenClaw changed a manifest value: the manifest wins, reported',
      current: { a: 5 },
      applied: { a: 1 },
      desired: { a: 1 },
      config: { a: 1 },
      changes: ['override a'],
    },
    {
      name: 'OpenClaw set a key the manifest now sets for the first time: override',
      current: { a: 5 },
      applied: {},
      desired: { a: 1 },
      config: { a: 1 },
      changes: ['override a'],
    },
    {
      name: 'OpenClaw deleted a manifest key: restored, reported',
      current: {},
      applied: { a: 1 },
      desired: { a: 1 },
      config: { a: 1 },
      changes: ['override a'],
    },
    {
      name: 'new manifest key: update',
      current: {},
      applied: {},
      desired: { a: 1 },
      config: { a: 1 },
      changes: ['update a'],
    },
    {
      name: 'manifest dropped a key OpenClaw left alone: removed',
      current: { a: 1, b: 2 },
      applied: { a: 1, b: 2 },
      desired: { a: 1 },
      config: { a: 1 },
      changes: ['remove b'],
    },
    {
      name: 'manifest dropped a key OpenClaw changed since: kept',
      current: { a: 1, b: 3 },
      applied: { a: 1, b: 2 },
      desired: { a: 1 },
      config: { a: 1, b: 3 },
      changes: ['keep b'],
    },
    {
      name: 'manifest dropped an object OpenClaw added to: only fleetd\'s part goes',
      current: { x: { mine: 1, theirs: 2 } },
      applied: { x: { mine: 1 } },
      desired: {},
      config: { x: { theirs: 2 } },
      changes: ['remove x.mine'],
    },
    {
      name: 'manifest dropped an object OpenClaw left alone: the whole object goes',
      current: { x: { mine: 1 } },
      applied: { x: { mine: 1 } },
      desired: {},
      config: {},
      changes: ['remove x'],
    },
    {
      name: 'arrays are values, not merged element by element',
      current: { list: [1, 2, 3] },
      applied: { list: [1, 2] },
      desired: { list: [1, 2] },
      config: { list: [1, 2] },
      changes: ['override list'],
    },
    {
      name: 'no last-applied record (first start, older fleetd): the file\'s keys are OpenClaw\'s, desired keys win',
      current: { a: 9, b: 2 },
      desired: { a: 1 },
      config: { a: 1, b: 2 },
      changes: ['override a'],
    },
    {
      name: 'no file yet: the desired config',
      desired: { a: 1, b: { c: 2 } },
      config: { a: 1, b: { c: 2 } },
      changes: ['update a', 'update b'],
    },
    {
      name: 'an object where OpenClaw wrote a scalar: the desired object replaces it',
      current: { a: 'x' },
      applied: { a: { b: 1 } },
      desired: { a: { b: 1 } },
      config: { a: { b: 1 } },
      changes: ['override a'],
    },
    {
      name: 'null is a value',
      current: { a: null },
      applied: { a: 1 },
      desired: { a: 1 },
      config: { a: 1 },
      changes: ['override a'],
    },
  ];
  for (const row of rows) {
    const r = mergeConfig({ current: row.current as never, lastApplied: row.applied as never, desired: row.desired as never });
    assert.deepEqual(r.config, row.config, row.name);
    assert.deepEqual(kinds(r.changes), row.changes, row.name);
  }
});

test('gateway.auth is fleetd\'s as a whole: a key OpenClaw added under it is overridden, not kept', () => {
  const current = { gateway: { ...managed.gateway, auth: { mode: 'token', token, password: 'hunter2' }, controlUi: { enabled: true } } };
  const r = mergeConfig({ current, lastApplied: managed, desired: managed });
  assert.deepEqual(r.config, { gateway: { ...managed.gateway, controlUi: { enabled: true } } });
  assert.deepEqual(kinds(r.changes), ['override gateway.auth']);
});

test('reported values: the override carries what OpenClaw had and what replaces it', () => {
  const r = mergeConfig({ current: { gateway: { bind: 'lan' } }, lastApplied: { gateway: { bind: 'loopback' } }, desired: { gateway: { bind: 'loopback' } } });
  assert.deepEqual(r.changes, [{ kind: 'override', path: ['gateway', 'bind'], openclaw: 'lan', desired: 'loopback' }]);
});

test('key order: the file\'s order is kept, new desired keys come last', () => {
  const r = mergeConfig({ current: { z: 1, a: 2 }, lastApplied: { z: 1 }, desired: { b: 3, z: 1 } });
  assert.deepEqual(Object.keys(r.config), ['z', 'a', 'b']);
});

test('inputs are not mutated and the result shares nothing with them', () => {
  const current = { a: { b: [1] }, own: { x: 1 } };
  const desired = { a: { b: [1] }, n: { m: 1 } };
  const copy = JSON.parse(JSON.stringify({ current, desired }));
  const r = mergeConfig({ current, lastApplied: undefined, desired });
  (r.config['n'] as { m: number }).m = 5;
  (r.config['own'] as { x: number }).x = 5;
  assert.deepEqual({ current, desired }, copy);
});

test('a "__proto__" key from JSON5 stays an ordinary key', () => {
  const current = JSON.parse('{"__proto__": {"polluted": true}}');
  const r = mergeConfig({ current, lastApplied: undefined, desired: { a: 1 } });
  assert.equal(Object.hasOwn(r.config, '__proto__'), true);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('jsonEqual ignores key order; formatConfigPath quotes odd keys', () => {
  assert.equal(jsonEqual({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 }), true);
  assert.equal(jsonEqual([1, 2], [2, 1]), false);
  assert.equal(jsonEqual(undefined, null), false);
  assert.equal(formatConfigPath(['channels', 'telegram', 'bot token']), 'channels.telegram."bot token"');
});
