import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appliedHash, canonicalJson, changedParts, changeReason, stableHash } from './hash.js';
import type { GatewayLaunch } from '../manifest/schema.js';

const launch: GatewayLaunch = { kind: 'command', command: ['openclaw', 'gateway', 'run'] };

test('canonical JSON sorts keys at every level and keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: null } }), '{"a":{"c":null,"d":[2,1]},"b":1}');
  assert.equal(stableHash({ x: 1, y: 2 }), stableHash({ y: 2, x: 1 }));
  assert.notEqual(stableHash([1, 2]), stableHash([2, 1]));
});

test('applied hash is stable under key order and names the part that changed', () => {
  const a = appliedHash({ config: { gateway: { port: 1, mode: 'local' } }, env: { A: '1', B: '2' }, launch });
  const same = appliedHash({ config: { gateway: { mode: 'local', port: 1 } }, env: { B: '2', A: '1' }, launch });
  assert.equal(a, same);
  assert.match(a, /^[0-9a-f]{32}\.[0-9a-f]{32}\.[0-9a-f]{32}$/);
  assert.deepEqual(changedParts(a, same), []);
  const config = appliedHash({ config: { gateway: { mode: 'local', port: 2 } }, env: { A: '1', B: '2' }, launch });
  assert.deepEqual(changedParts(a, config), ['config']);
  const env = appliedHash({ config: { gateway: { mode: 'local', port: 1 } }, env: { A: '1', B: '3' }, launch });
  assert.deepEqual(changedParts(a, env), ['env']);
  const pinned = appliedHash({ config: { gateway: { mode: 'local', port: 1 } }, env: { A: '1', B: '2' }, launch: { kind: 'openclaw', version: '2026.9.6' } });
  assert.deepEqual(changedParts(a, pinned), ['launch']);
  assert.equal(changeReason(['config', 'env']), 'openclaw.json changed, environment changed');
});

test('a malformed previous hash counts as everything changed', () => {
  const now = appliedHash({ config: {}, env: {}, launch });
  assert.deepEqual(changedParts('legacy', now), ['config', 'env', 'launch']);
});
