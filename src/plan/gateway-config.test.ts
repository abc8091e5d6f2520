import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGatewayConfig, renderGatewayConfig } from './gateway-config.js';

const home = '/state/fleets/acme/korax';
const token = 'a'.repeat(64);

test('managed keys win over every manifest value', () => {
  const config = {
    gateway: { mode: 'remote', port: 1, bind: 'lan', auth: { mode: 'password', password: 'hunter2' }, controlUi: { enabled: true } },
    logging: { file: '/tmp/shared.log', level: 'debug' },
    agents: { defaults: { workspace: '/elsewhere', model: 'x' }, list: [{ id: 'main' }] },
    browser: { enabled: true },
  };
  const out = buildGatewayConfig({ config, home, port: 20100, token, blockSize: 100 });
  assert.deepEqual(out, {
    gateway: { mode: 'local', port: 20100, bind: 'loopback', auth: { mode: 'token', token }, controlUi: { enabled: true } },
    logging: { file: `${home}/logs/openclaw.log`, level: 'debug' },
    agents: { defaults: { workspace: `${home}/workspace`, model: 'x' }, list: [{ id: 'main' }] },
    browser: { enabled: false },
  });
});

test('managed keys replace a scalar where an object belongs', () => {
  const out = buildGatewayConfig({ config: { gateway: 'nope', agents: ['x'] }, home, port: 20000, token, blockSize: 120 });
  assert.deepEqual(out['gateway'], { mode: 'local', port: 20000, bind: 'loopback', auth: { mode: 'token', token } });
  assert.deepEqual(out['agents'], { defaults: { workspace: `${home}/workspace` } });
});

test('browser is forced off with blockSize 100', () => {
  const out = buildGatewayConfig({ config: { browser: { enabled: true, headless: true } }, home, port: 20000, token, blockSize: 100 });
  assert.deepEqual(out['browser'], { enabled: false, headless: true });
});

test('browser is left alone with blockSize 120', () => {
  const on = buildGatewayConfig({ config: { browser: { enabled: true } }, home, port: 20000, token, blockSize: 120 });
  assert.deepEqual(on['browser'], { enabled: true });
  const unset = buildGatewayConfig({ config: {}, home, port: 20000, token, blockSize: 120 });
  assert.equal(unset['browser'], undefined);
});

test('the input fragment is not mutated', () => {
  const config = { gateway: { auth: { mode: 'password', password: 'p' } } };
  buildGatewayConfig({ config, home, port: 20000, token, blockSize: 100 });
  assert.deepEqual(config, { gateway: { auth: { mode: 'password', password: 'p' } } });
});

test('rendered openclaw.json is JSON with a final newline', () => {
  const out = buildGatewayConfig({ config: {}, home, port: 20000, token, blockSize: 100 });
  const text = renderGatewayConfig(out);
  assert.ok(text.endsWith('}\n'));
  assert.deepEqual(JSON.parse(text), out);
});

test('every key the manifest loader calls managed is written by fleetd', async () => {
  const { MANAGED_CONFIG_KEYS } = await import('../manifest/rules.js');
  const out = buildGatewayConfig({ config: {}, home, port: 20000, token, blockSize: 120 });
  for (const dotted of MANAGED_CONFIG_KEYS) {
    let node: unknown = out;
    for (const key of dotted.split('.')) node = (node as Record<string, unknown> | undefined)?.[key];
    assert.notEqual(node, undefined, dotted);
  }
});
