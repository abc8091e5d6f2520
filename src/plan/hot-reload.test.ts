import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reloadModeOf, reloadWay, runningHash } from './hot-reload.js';

test('reloadModeOf: hybrid unless the config says otherwise', () => {
  assert.equal(reloadModeOf({}), 'hybrid');
  assert.equal(reloadModeOf({ gateway: { port: 1 } }), 'hybrid');
  assert.equal(reloadModeOf({ gateway: { reload: { mode: 'off' } } }), 'off');
  assert.equal(reloadModeOf({ gateway: { reload: 'off' } }), 'hybrid', 'not the documented shape: OpenClaw would refuse it; judged as default');
  assert.equal(reloadModeOf({ gateway: { reload: { mode: 3 } } }), 'hybrid');
});

test('reloadWay: in place only for a config-only change of a running gateway that watches its file', () => {
  const table: Array<[Parameters<typeof reloadWay>, string]> = [
    [['running', ['config'], {}], 'reconfigure'],
    [['reconfiguring', ['config'], {}], 'reconfigure'],
    [['running', ['env'], {}], 'restart'],
    [['running', ['launch'], {}], 'restart'],
    [['running', ['config', 'env'], {}], 'restart'],
    [['starting', ['config'], {}], 'restart'],
    [['backoff', ['config'], {}], 'restart'],
    [['running', ['config'], { gateway: { reload: { mode: 'off' } } }], 'restart'],
    [['running', ['config'], { gateway: { reload: { mode: 'hybrid' } } }], 'reconfigure'],
  ];
  for (const [args, way] of table) assert.equal(reloadWay(...args).way, way, JSON.stringify(args));
  const off = reloadWay('running', ['config'], { gateway: { reload: { mode: 'off' } } });
  assert.ok(off.way === 'restart' && off.why?.includes('gateway.reload.mode'));
});

test('runningHash: a config applied in place counts for live restore, a record claiming another env or launch does not', () => {
  const spawn = 'c1'.padEnd(32, '0') + '.' + 'e1'.padEnd(32, '0') + '.' + 'l1'.padEnd(32, '0');
  const hot = 'c2'.padEnd(32, '0') + '.' + 'e1'.padEnd(32, '0') + '.' + 'l1'.padEnd(32, '0');
  const otherEnv = 'c2'.padEnd(32, '0') + '.' + 'e2'.padEnd(32, '0') + '.' + 'l1'.padEnd(32, '0');
  assert.equal(runningHash(spawn, undefined), spawn);
  assert.equal(runningHash(spawn, spawn), spawn);
  assert.equal(runningHash(spawn, hot), hot);
  assert.equal(runningHash(spawn, otherEnv), spawn, 'only openclaw.json can change in place');
  assert.equal(runningHash(spawn, 'garbage'), spawn);
});
