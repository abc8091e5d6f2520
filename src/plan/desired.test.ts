import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manifestSchema, type Manifest } from '../manifest/schema.js';
import { desiredAgents, launchOf } from './desired.js';
import type { RegistryFile } from './types.js';

/** A Manifest as the loader would return it (paths resolved). */
function manifest(input: Record<string, unknown>): Manifest {
  const parsed = manifestSchema.parse({ version: 1, ...input });
  return { ...parsed, manifestPath: '/m/fleets.json5', stateDir: '/state', socket: '/state/fleetd.sock', runtimesDir: '/state/runtimes' };
}

const token = 'b'.repeat(64);
const empty: RegistryFile = { version: 1, agents: {} };

test('config layers deep-merge and env layers override in order', () => {
  const m = manifest({
    gateway: { env: { G: 'gateway', X: 'gateway' } },
    defaults: { config: { a: { x: 1, y: 1 }, list: [1] }, env: { D: 'defaults', X: 'defaults' } },
    fleets: {
      acme: {
        defaults: { config: { a: { y: 2 }, list: [2] }, env: { F: 'fleet', X: 'fleet' } },
        agents: { korax: { config: { a: { z: 3 } }, env: { X: 'agent' } } },
      },
    },
  });
  const [agent] = desiredAgents(m, empty);
  assert.ok(agent);
  assert.deepEqual(agent.config, { a: { x: 1, y: 2, z: 3 }, list: [2] });
  assert.deepEqual(agent.env, { G: 'gateway', X: 'agent', D: 'defaults', F: 'fleet' });
  assert.equal(agent.address, 'acme/korax');
  assert.equal(agent.source, 'manifest');
  assert.equal(agent.enabled, true);
});

test('agents are sorted by address and keep their enabled flag', () => {
  const m = manifest({
    fleets: {
      zeta: { agents: { b: {}, a: { enabled: false } } },
      acme: { agents: { z: {}, a: {} } },
    },
  });
  const list = desiredAgents(m, empty);
  assert.deepEqual(list.map((d) => d.address), ['acme/a', 'acme/z', 'zeta/a', 'zeta/b']);
  assert.deepEqual(list.map((d) => d.enabled), [true, true, false, true]);
});

test('CLI agents come from the registry, layered on top-level and fleet defaults', () => {
  const m = manifest({
    defaults: { config: { a: 1, b: { c: 1 } }, env: { D: '1' } },
    fleets: { acme: { defaults: { config: { b: { d: 2 } }, env: { F: '1' } }, agents: { korax: {} } } },
  });
  const registry: RegistryFile = {
    version: 1,
    agents: {
      'acme/extra': { fleet: 'acme', agent: 'extra', source: 'cli', block: 1, port: 20100, token, desired: 'running', createdAt: 't', spec: { config: { b: { e: 3 } }, env: { S: '1', D: '2' } } },
      'lone/solo': { fleet: 'lone', agent: 'solo', source: 'cli', block: 2, port: 20200, token, desired: 'running', createdAt: 't', spec: { config: { x: true }, env: {} } },
      'acme/gone': { fleet: 'acme', agent: 'gone', source: 'manifest', block: 3, port: 20300, token, desired: 'running', createdAt: 't' },
    },
  };
  const list = desiredAgents(m, registry);
  assert.deepEqual(list.map((d) => d.address), ['acme/extra', 'acme/korax', 'lone/solo']);
  const extra = list[0]!;
  assert.equal(extra.source, 'cli');
  assert.deepEqual(extra.config, { a: 1, b: { c: 1, d: 2, e: 3 } });
  assert.deepEqual(extra.env, { D: '2', F: '1', S: '1' });
  const solo = list[2]!;
  assert.deepEqual(solo.config, { a: 1, b: { c: 1 }, x: true });
  assert.deepEqual(solo.env, { D: '1' });
});

test('a manifest declaration wins over a CLI entry of the same address', () => {
  const m = manifest({ fleets: { acme: { agents: { korax: { config: { from: 'manifest' } } } } } });
  const registry: RegistryFile = {
    version: 1,
    agents: { 'acme/korax': { fleet: 'acme', agent: 'korax', source: 'cli', block: 0, port: 20000, token, desired: 'running', createdAt: 't', spec: { config: { from: 'cli' }, env: {} } } },
  };
  const [agent] = desiredAgents(m, registry);
  assert.equal(agent?.source, 'manifest');
  assert.deepEqual(agent?.config, { from: 'manifest' });
});

test('launch: agent pin > fleet pin > top openclaw > command > default', () => {
  const m = manifest({
    gateway: { command: ['/usr/bin/my-gw', 'run'] },
    fleets: {
      pinned: { gateway: { openclaw: '2026.9.1' }, agents: { own: { gateway: { openclaw: '2026.9.2' } }, inherit: {} } },
      plain: { agents: { a: {} } },
    },
  });
  assert.deepEqual(launchOf(m, 'pinned', 'own'), { kind: 'openclaw', version: '2026.9.2' });
  assert.deepEqual(launchOf(m, 'pinned', 'inherit'), { kind: 'openclaw', version: '2026.9.1' });
  assert.deepEqual(launchOf(m, 'plain', 'a'), { kind: 'command', command: ['/usr/bin/my-gw', 'run'] });
  const top = manifest({ gateway: { openclaw: '2026.9.6', command: ['x'] }, fleets: { f: { agents: { a: {} } } } });
  assert.deepEqual(launchOf(top, 'f', 'a'), { kind: 'openclaw', version: '2026.9.6' });
  const bare = manifest({ fleets: { f: { agents: { a: {} } } } });
  assert.deepEqual(launchOf(bare, 'f', 'a'), { kind: 'command', command: ['openclaw', 'gateway', 'run'] });
  assert.deepEqual(launchOf(bare, 'nofleet', 'cli-agent'), { kind: 'command', command: ['openclaw', 'gateway', 'run'] });
});

test('an injected resolveLaunch is used for every agent', () => {
  const m = manifest({ fleets: { f: { agents: { a: {} } } } });
  const seen: string[] = [];
  const list = desiredAgents(m, empty, (_m, fleet, agent) => {
    seen.push(`${fleet}/${agent}`);
    return { kind: 'command', command: ['fake'] };
  });
  assert.deepEqual(seen, ['f/a']);
  assert.deepEqual(list[0]?.launch, { kind: 'command', command: ['fake'] });
});

test('launchOf agrees with the manifest loader resolveLaunch for declared agents', async () => {
  const { resolveLaunch } = await import('../manifest/rules.js');
  const m = manifest({
    gateway: { command: ['/usr/bin/my-gw', 'run'] },
    fleets: { pinned: { gateway: { openclaw: '2026.9.1' }, agents: { own: { gateway: { openclaw: '2026.9.2' } }, inherit: {} } }, plain: { agents: { a: {} } } },
  });
  for (const [fleet, agent] of [['pinned', 'own'], ['pinned', 'inherit'], ['plain', 'a']] as const) {
    assert.deepEqual(launchOf(m, fleet, agent), resolveLaunch(m, fleet, agent));
  }
});
