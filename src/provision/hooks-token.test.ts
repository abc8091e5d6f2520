// Hooks tokens over an agent's life (made when first called, kept, rotated when a caller is
// removed, dropped), a new called agent's entry, and registries old and new.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openRegistry, parseRegistry } from '../daemon/registry.js';
import { manifestSchema, type Manifest } from '../manifest/schema.js';
import { desiredAgents } from '../plan/desired.js';
import type { RegistryFile } from '../plan/types.js';
import { withTempDir } from '../util/temp-dir.js';
import { ensureEntry } from './ensure-entry.js';
import { ensureHooksTokens } from './hooks-token.js';

function manifest(agents: Record<string, unknown>): Manifest {
  const parsed = manifestSchema.parse({ version: 1, fleets: { acme: { agents } } });
  return { ...parsed, manifestPath: '/m', stateDir: '/s', socket: '/s/sock', runtimesDir: '/s/r' };
}

function registryOf(agents: string[]): RegistryFile {
  const reg: RegistryFile = { version: 1, agents: {} };
  agents.forEach((agent, i) => {
    reg.agents[`acme/${agent}`] = { fleet: 'acme', agent, source: 'manifest', block: i, port: 20000 + i * 100, token: String(i).repeat(64), desired: 'running', createdAt: 'x' };
  });
  return reg;
}

function counter(): () => string {
  let n = 0;
  return () => (++n).toString(16).padStart(64, 'a');
}

test('made when first called, kept while callers stay or grow, rotated when one is removed, dropped when none is left', () => {
  const reg = registryOf(['a', 'b', 'c']);
  const gen = counter();
  let changes = ensureHooksTokens(reg, manifest({ a: { calls: ['acme/c'] }, b: {}, c: {} }), gen);
  assert.deepEqual(changes, { created: ['acme/c'], rotated: [], dropped: [] });
  const first = reg.agents['acme/c']!.hooksToken!;
  assert.match(first, /^[0-9a-f]{64}$/);
  assert.deepEqual(reg.agents['acme/c']!.hooksCallers, ['acme/a']);
  assert.equal(reg.agents['acme/a']!.hooksToken, undefined, 'a caller that is not called gets none');

  changes = ensureHooksTokens(reg, manifest({ a: { calls: ['acme/c'] }, b: { calls: ['acme/c'] }, c: {} }), gen);
  assert.deepEqual(changes, { created: [], rotated: [], dropped: [] });
  assert.equal(reg.agents['acme/c']!.hooksToken, first, 'a new caller gets the same token');
  assert.deepEqual(reg.agents['acme/c']!.hooksCallers, ['acme/a', 'acme/b']);

  changes = ensureHooksTokens(reg, manifest({ a: {}, b: { calls: ['acme/c'] }, c: {} }), gen);
  assert.deepEqual(changes.rotated, [{ address: 'acme/c', removedCallers: ['acme/a'] }]);
  assert.notEqual(reg.agents['acme/c']!.hooksToken, first, 'the removed caller\'s token no longer opens c');
  assert.deepEqual(reg.agents['acme/c']!.hooksCallers, ['acme/b']);

  changes = ensureHooksTokens(reg, manifest({ a: {}, b: {}, c: {} }), gen);
  assert.deepEqual(changes.dropped, ['acme/c']);
  assert.equal(reg.agents['acme/c']!.hooksToken, undefined);
  assert.equal(reg.agents['acme/c']!.hooksCallers, undefined);
});

test('a hooks token is never the gateway token, even if the generator says so', () => {
  const reg = registryOf(['a', 'b']);
  const values = [reg.agents['acme/b']!.token, 'f'.repeat(64)];
  ensureHooksTokens(reg, manifest({ a: { calls: ['acme/b'] }, b: {} }), () => values.shift()!);
  assert.equal(reg.agents['acme/b']!.hooksToken, 'f'.repeat(64));
});

test('a new agent that is called gets its hooks token with its block; a new caller does not', async () => {
  const m = manifest({ a: { calls: ['acme/b'] }, b: {} });
  const reg: RegistryFile = { version: 1, agents: {} };
  for (const d of desiredAgents(m, reg)) await ensureEntry(reg, d, { ports: m.ports, now: () => new Date(0), isPortFree: async () => true });
  assert.match(reg.agents['acme/b']!.hooksToken!, /^[0-9a-f]{64}$/);
  assert.notEqual(reg.agents['acme/b']!.hooksToken, reg.agents['acme/b']!.token);
  assert.deepEqual(reg.agents['acme/b']!.hooksCallers, ['acme/a']);
  assert.equal(reg.agents['acme/a']!.hooksToken, undefined);
});

test('registries without hooks tokens stay valid; a hooks token equal to the gateway token or malformed is refused', () =>
  withTempDir(async (dir) => {
    const old = { version: 1, agents: { 'acme/a': { fleet: 'acme', agent: 'a', source: 'manifest', block: 0, port: 20000, token: 'a'.repeat(64), desired: 'running', createdAt: 'x' } } };
    assert.deepEqual(parseRegistry(JSON.stringify(old), 'r.json'), old);
    const same = structuredClone(old) as any;
    same.agents['acme/a'].hooksToken = 'a'.repeat(64);
    assert.throws(() => parseRegistry(JSON.stringify(same), 'r.json'), /agents\["acme\/a"\]\.hooksToken: must differ from the gateway token/);
    same.agents['acme/a'].hooksToken = 'short';
    assert.throws(() => parseRegistry(JSON.stringify(same), 'r.json'), /hooksToken: expected 64 hex characters/);
    // a real registry on disk round-trips the new fields
    await writeFile(join(dir, 'registry.json'), JSON.stringify(old));
    const registry = openRegistry(dir);
    const stored = await registry.update((r) => {
      ensureHooksTokens(r, manifest({ a: {}, b: { calls: ["acme/a"] } }));
    });
    assert.match(stored.agents['acme/a']!.hooksToken!, /^[0-9a-f]{64}$/);
    assert.deepEqual((await registry.read()).agents['acme/a'], stored.agents['acme/a']);
  }));
