import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { FleetError } from '../errors.js';
import { ID_RULE } from '../manifest/ids.js';
import { parseFilter, requireAddress, requireFleet, requireVersion } from './address.js';
import { resolveSocket, SYSTEM_SOCKET } from './socket-path.js';

function usage(fn: () => unknown): FleetError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FleetError && err.code === 'USAGE', String(err));
    return err;
  }
  assert.fail('expected a usage error');
}

describe('addresses', () => {
  test('valid address', () => assert.deepEqual(requireAddress('acme/korax-2'), { fleet: 'acme', agent: 'korax-2' }));
  for (const bad of ['acme', 'Acme/korax', 'acme/korax/x', '/korax', 'acme/', 'acme/-x', `acme/${'a'.repeat(41)}`, '']) {
    test(`invalid address ${JSON.stringify(bad)} states the id rule`, () => {
      const err = usage(() => requireAddress(bad));
      assert.ok(err.message.includes(ID_RULE), err.message);
      assert.ok(err.message.includes(JSON.stringify(bad)), err.message);
    });
  }
  test('fleet ids', () => {
    assert.equal(requireFleet('acme'), 'acme');
    assert.match(usage(() => requireFleet('ACME')).message, /not a fleet id/);
  });
  test('status filter: fleet or address', () => {
    assert.deepEqual(parseFilter('acme'), { fleet: 'acme' });
    assert.deepEqual(parseFilter('acme/korax'), { fleet: 'acme', agent: 'korax' });
    usage(() => parseFilter('acme/'));
    usage(() => parseFilter('a_b'));
  });
  test('runtime versions', () => {
    assert.equal(requireVersion('2026.10.1-beta.2'), '2026.10.1-beta.2');
    assert.equal(requireVersion('2026.9.6+node-24.21.0'), '2026.9.6+node-24.21.0');
    assert.match(usage(() => requireVersion('2026.9.6+node-24')).message, /exact OpenClaw version/);
    assert.match(usage(() => requireVersion('latest')).message, /exact OpenClaw version/);
  });
});

describe('resolveSocket', () => {
  const none = () => false;
  test('--socket wins over everything', () => {
    assert.equal(resolveSocket({ flag: '/x.sock', env: { FLEETD_SOCKET: '/y.sock' }, cwd: '/w', exists: () => true }), '/x.sock');
  });
  test('then FLEETD_SOCKET', () => {
    assert.equal(resolveSocket({ env: { FLEETD_SOCKET: '/y.sock' }, cwd: '/w', exists: () => true }), '/y.sock');
  });
  test('then the system socket when it exists', () => {
    assert.equal(resolveSocket({ env: {}, cwd: '/w', exists: (p) => p === SYSTEM_SOCKET }), SYSTEM_SOCKET);
  });
  test('else ./fleetd-state/fleetd.sock under the cwd', () => {
    assert.equal(resolveSocket({ env: { FLEETD_SOCKET: '' }, cwd: '/w/dir', exists: none }), resolve('/w/dir/fleetd-state/fleetd.sock'));
  });
});
