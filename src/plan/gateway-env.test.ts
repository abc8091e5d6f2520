import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGatewayEnv, cleanGatewayPath, DEFAULT_PATH, RESERVED_GATEWAY_ENV } from './gateway-env.js';

const home = '/state/fleets/acme/korax';
const base = { home, fleet: 'acme', agent: 'korax', port: 20100 };

const leaky = {
  PATH: '/opt/bin:/usr/bin',
  LANG: 'C.UTF-8',
  TZ: 'Europe/Paris',
  SECRET_MARKER: 'x',
  INVOCATION_ID: 'abc',
  JOURNAL_STREAM: '8:123',
  SYSTEMD_EXEC_PID: '1',
  NODE_COMPILE_CACHE: '/tmp/cache',
  NODE_OPTIONS: '--inspect',
  OPENCLAW_FOO: 'bar',
  OPENCLAW_STATE_DIR: '/root/.openclaw',
  HOME: '/root',
  USER: 'root',
};

test('exact environment: nothing from the parent but PATH, LANG and TZ', () => {
  const env = buildGatewayEnv({ ...base, parentEnv: leaky, layers: [] });
  assert.deepEqual(env, {
    PATH: '/opt/bin:/usr/bin',
    LANG: 'C.UTF-8',
    TZ: 'Europe/Paris',
    NODE_ENV: 'production',
    HOME: home,
    OPENCLAW_HOME: home,
    OPENCLAW_STATE_DIR: `${home}/.openclaw`,
    OPENCLAW_CONFIG_PATH: `${home}/.openclaw/openclaw.json`,
    OPENCLAW_PROFILE: 'acme-korax',
    XDG_CACHE_HOME: `${home}/.cache`,
    TMPDIR: `${home}/tmp`,
    OPENCLAW_GATEWAY_PORT: '20100',
    OPENCLAW_SUPERVISOR_MODE: 'external',
    OPENCLAW_NO_RESPAWN: '1',
  });
  for (const name of ['SECRET_MARKER', 'INVOCATION_ID', 'JOURNAL_STREAM', 'SYSTEMD_EXEC_PID', 'NODE_COMPILE_CACHE', 'NODE_OPTIONS', 'OPENCLAW_FOO', 'USER']) {
    assert.equal(name in env, false, `${name} leaked`);
  }
  assert.ok(!Object.values(env).includes('x'));
});

test('safe default PATH when the parent has none or an empty one', () => {
  assert.equal(buildGatewayEnv({ ...base, parentEnv: {}, layers: [] })['PATH'], DEFAULT_PATH);
  assert.equal(buildGatewayEnv({ ...base, parentEnv: { PATH: '' }, layers: [] })['PATH'], DEFAULT_PATH);
  const env = buildGatewayEnv({ ...base, parentEnv: {}, layers: [] });
  assert.equal('LANG' in env, false);
  assert.equal('TZ' in env, false);
});

test('manifest layers apply in order, later wins, and may override PATH and NODE_ENV', () => {
  const env = buildGatewayEnv({
    ...base,
    parentEnv: leaky,
    layers: [
      { A: 'gateway', B: 'gateway', C: 'gateway', D: 'gateway', PATH: '/custom/bin' },
      { B: 'defaults', C: 'defaults', D: 'defaults' },
      { C: 'fleet', D: 'fleet', NODE_ENV: 'staging' },
      { D: 'agent' },
    ],
  });
  assert.equal(env['A'], 'gateway');
  assert.equal(env['B'], 'defaults');
  assert.equal(env['C'], 'fleet');
  assert.equal(env['D'], 'agent');
  assert.equal(env['PATH'], '/custom/bin');
  assert.equal(env['NODE_ENV'], 'staging');
});

test('reserved names win over every manifest layer', () => {
  const hostile = Object.fromEntries(RESERVED_GATEWAY_ENV.map((name) => [name, 'hijacked']));
  const env = buildGatewayEnv({ ...base, parentEnv: {}, layers: [hostile, hostile] });
  for (const name of RESERVED_GATEWAY_ENV) assert.notEqual(env[name], 'hijacked', name);
  assert.equal(env['HOME'], home);
  assert.equal(env['OPENCLAW_GATEWAY_PORT'], '20100');
  assert.ok(RESERVED_GATEWAY_ENV.includes('OPENCLAW_STATE_DIR'));
  assert.equal(RESERVED_GATEWAY_ENV.length, 10);
});

test('the builder reserves exactly the names the manifest loader rejects', async () => {
  const { RESERVED_ENV } = await import('../manifest/rules.js');
  assert.deepEqual([...RESERVED_GATEWAY_ENV].sort(), [...RESERVED_ENV].sort());
});

test('cleanGatewayPath drops fleetd\'s own checkout, npm and npx bins, relative and duplicate entries', () => {
  const path = [
    '/srv/fleetd/node_modules/.bin',
    '/srv/node_modules/.bin',
    '/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin',
    '/root/.npm/_npx/1234/node_modules/.bin',
    '/srv/fleetd/bin',
    '/srv/fleetd',
    '/srv/fleetd-other/bin',
    'node_modules/.bin',
    '.',
    '',
    '/usr/local/bin/',
    '/usr/bin',
    '/usr/local/bin',
    '/bin',
  ].join(':');
  assert.equal(cleanGatewayPath(path, '/srv/fleetd/'), '/srv/fleetd-other/bin:/usr/local/bin:/usr/bin:/bin');
  assert.equal(cleanGatewayPath('/srv/fleetd/node_modules/.bin', '/srv/fleetd'), DEFAULT_PATH);
  assert.equal(cleanGatewayPath(undefined, '/srv/fleetd'), DEFAULT_PATH);
});
