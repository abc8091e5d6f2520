import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manifestSchema, type Manifest } from '../manifest/schema.js';
import { desiredAgents } from './desired.js';
import { appliedHash } from './hash.js';
import { planReconcile, planRemoval, type ObservedAgent } from './reconcile.js';
import type { DesiredAgent, PlanAction, RegistryEntry, RegistryFile } from './types.js';

/** A Manifest as the loader would return it. */
function manifest(fleets: Record<string, unknown>, extra: Record<string, unknown> = {}): Manifest {
  const parsed = manifestSchema.parse({ version: 1, fleets, ...extra });
  return { ...parsed, manifestPath: '/m/fleets.json5', stateDir: '/state', socket: '/state/s.sock', runtimesDir: '/state/runtimes' };
}

// Stand-in for the daemon's effective hash: the planner only compares strings part by part.
function hashOf(d: DesiredAgent): string {
  return appliedHash({ config: d.config, env: d.env, launch: d.launch });
}

function hashes(desired: DesiredAgent[]): Record<string, string> {
  return Object.fromEntries(desired.map((d) => [d.address, hashOf(d)]));
}

let nextBlock = 0;
function entry(address: string, over: Partial<RegistryEntry> = {}): RegistryEntry {
  const [fleet, agent] = address.split('/') as [string, string];
  const block = nextBlock++;
  return { fleet, agent, source: 'manifest', block, port: 20000 + block * 100, token: 'c'.repeat(64), desired: 'running', createdAt: '2026-01-01T00:00:00.000Z', ...over };
}

function registry(...entries: RegistryEntry[]): RegistryFile {
  return { version: 1, agents: Object.fromEntries(entries.map((e) => [`${e.fleet}/${e.agent}`, e])) };
}

function plan(m: Manifest, reg: RegistryFile, observed: Record<string, ObservedAgent> = {}, currentHashes?: Record<string, string>): PlanAction[] {
  const desired = desiredAgents(m, reg);
  return planReconcile({ desired, registry: reg, observed, hashes: currentHashes ?? hashes(desired) });
}

/** Registry + observations of an agent running exactly what `m` declares for it. */
function runningAsDeclared(m: Manifest, address: string, over: Partial<RegistryEntry> = {}): { e: RegistryEntry; obs: ObservedAgent } {
  const d = desiredAgents(m, registry()).find((x) => x.address === address);
  assert.ok(d, `${address} not declared`);
  const h = hashOf(d);
  return { e: entry(address, { appliedHash: h, ...over }), obs: { state: 'running', appliedHash: h } };
}

const base = manifest({ acme: { agents: { korax: { config: { a: 1 }, env: { E: '1' } } } } });

test('new agent: provision then start', () => {
  assert.deepEqual(plan(base, registry()), [
    { kind: 'provision', address: 'acme/korax', reason: 'new agent' },
    { kind: 'start', address: 'acme/korax', reason: 'new agent' },
  ]);
});

test('new disabled agent: block reserved, not started', () => {
  const m = manifest({ acme: { agents: { korax: { enabled: false } } } });
  const actions = plan(m, registry());
  assert.deepEqual(actions.map((a) => a.kind), ['provision']);
});

test('unchanged running agent: no action', () => {
  const { e, obs } = runningAsDeclared(base, 'acme/korax');
  assert.deepEqual(plan(base, registry(e), { 'acme/korax': obs }), []);
});

test('reordered manifest: no action', () => {
  const ordered = manifest({ a: { agents: { x: {}, y: { config: { k: { p: 1, q: 2 } } } } }, b: { agents: { z: {} } } });
  const reordered = manifest({ b: { agents: { z: {} } }, a: { agents: { y: { config: { k: { q: 2, p: 1 } } }, x: {} } } });
  const running = ['a/x', 'a/y', 'b/z'].map((addr) => runningAsDeclared(ordered, addr));
  const reg = registry(...running.map((r) => r.e));
  const observed = Object.fromEntries(running.map((r, i) => [['a/x', 'a/y', 'b/z'][i]!, r.obs]));
  assert.deepEqual(plan(ordered, reg, observed), []);
  assert.deepEqual(plan(reordered, reg, observed), []);
});

test('changed config only, running: reconfigure in place (the gateway applies it)', () => {
  const { e, obs } = runningAsDeclared(base, 'acme/korax');
  const changed = manifest({ acme: { agents: { korax: { config: { a: 2 }, env: { E: '1' } } } } });
  assert.deepEqual(plan(changed, registry(e), { 'acme/korax': obs }), [{ kind: 'reconfigure', address: 'acme/korax', reason: 'openclaw.json changed' }]);
});

test('changed config only: the way depends on the state and on gateway.reload.mode', () => {
  const { e, obs } = runningAsDeclared(base, 'acme/korax');
  const changed = manifest({ acme: { agents: { korax: { config: { a: 2 }, env: { E: '1' } } } } });
  const cases: Array<[ObservedAgent['state'], string]> = [
    ['running', 'reconfigure'],
    ['reconfiguring', 'reconfigure'], // a newer change while the last one is being applied
    ['starting', 'restart'], // booting: it may have read the old file already
    ['backoff', 'restart'],
  ];
  for (const [state, kind] of cases) {
    assert.deepEqual(plan(changed, registry(e), { 'acme/korax': { ...obs, state } }).map((a) => a.kind), [kind], state);
  }
  const off = manifest({ acme: { agents: { korax: { config: { a: 2, gateway: { reload: { mode: 'off' } } }, env: { E: '1' } } } } });
  assert.deepEqual(plan(off, registry(e), { 'acme/korax': obs }), [
    { kind: 'restart', address: 'acme/korax', reason: 'openclaw.json changed; gateway.reload.mode is "off", so the gateway does not apply edits itself' },
  ]);
});

test('changed env: restart because environment changed', () => {
  const { e, obs } = runningAsDeclared(base, 'acme/korax');
  const changed = manifest({ acme: { agents: { korax: { config: { a: 1 }, env: { E: '2' } } } } });
  assert.deepEqual(plan(changed, registry(e), { 'acme/korax': obs }), [{ kind: 'restart', address: 'acme/korax', reason: 'environment changed' }]);
});

test('changed config and env: one restart naming both', () => {
  const { e, obs } = runningAsDeclared(base, 'acme/korax');
  const changed = manifest({ acme: { agents: { korax: { config: { a: 2 }, env: { E: '2' } } } } });
  assert.deepEqual(plan(changed, registry(e), { 'acme/korax': obs }), [
    { kind: 'restart', address: 'acme/korax', reason: 'openclaw.json changed, environment changed' },
  ]);
});

test('the observed hash (what the process runs) wins over the registry one', () => {
  const { e } = runningAsDeclared(base, 'acme/korax');
  const stale = manifest({ acme: { agents: { korax: { config: { a: 0 }, env: { E: '1' } } } } });
  const oldHash = hashOf(desiredAgents(stale, registry())[0]!);
  const actions = plan(base, registry(e), { 'acme/korax': { state: 'running', appliedHash: oldHash } });
  assert.deepEqual(actions, [{ kind: 'reconfigure', address: 'acme/korax', reason: 'openclaw.json changed' }]);
});

test('removed from the manifest: stop, then free', () => {
  const { e, obs } = runningAsDeclared(base, 'acme/korax');
  const without = manifest({});
  assert.deepEqual(plan(without, registry(e), { 'acme/korax': obs }), [
    { kind: 'stop', address: 'acme/korax', reason: 'removed from the manifest' },
    { kind: 'free', address: 'acme/korax', reason: 'removed from the manifest' },
  ]);
  // already stopped: only the block is freed
  assert.deepEqual(plan(without, registry(e), { 'acme/korax': { state: 'stopped' } }).map((a) => a.kind), ['free']);
  // no runner, but a process recorded by a previous fleetd: stop it too
  const recorded = entry('acme/old', { process: { pid: 4242, pgid: 4242, startTime: '1', spawnedAt: 't' } });
  assert.deepEqual(plan(without, registry(recorded)).map((a) => a.kind), ['stop', 'free']);
});

test('disabled agent: stopped, block kept (no free)', () => {
  const { e, obs } = runningAsDeclared(base, 'acme/korax');
  const disabled = manifest({ acme: { agents: { korax: { enabled: false, config: { a: 1 }, env: { E: '1' } } } } });
  assert.deepEqual(plan(disabled, registry(e), { 'acme/korax': obs }), [{ kind: 'stop', address: 'acme/korax', reason: 'disabled in the manifest' }]);
  assert.deepEqual(plan(disabled, registry(e), { 'acme/korax': { state: 'stopped' } }), []);
});

test('stopped by the operator: never started, stopped if alive', () => {
  const { e, obs } = runningAsDeclared(base, 'acme/korax', { desired: 'stopped' });
  assert.deepEqual(plan(base, registry(e), {}), []);
  assert.deepEqual(plan(base, registry(e), { 'acme/korax': { state: 'stopped' } }), []);
  assert.deepEqual(plan(base, registry(e), { 'acme/korax': obs }), [{ kind: 'stop', address: 'acme/korax', reason: 'stopped by the operator' }]);
  const changed = manifest({ acme: { agents: { korax: { config: { a: 9 } } } } });
  assert.deepEqual(plan(changed, registry(e), { 'acme/korax': { state: 'stopped' } }), []);
});

test('CLI agent kept although the manifest does not declare it', () => {
  const cli = entry('acme/helper', { source: 'cli', spec: { config: { x: 1 }, env: {} } });
  const reg = registry(cli);
  const d = desiredAgents(base, reg).find((x) => x.address === 'acme/helper');
  assert.ok(d);
  cli.appliedHash = hashOf(d);
  const observed = { 'acme/helper': { state: 'running' as const, appliedHash: cli.appliedHash } };
  const actions = plan(base, reg, observed);
  assert.equal(actions.some((a) => a.address === 'acme/helper'), false);
  // even when the caller leaves CLI agents out of `desired`, they are not freed
  assert.deepEqual(planReconcile({ desired: [], registry: reg, observed, hashes: {} }), []);
});

test('start-up: recorded agents with no runner are started', () => {
  const { e } = runningAsDeclared(base, 'acme/korax');
  assert.deepEqual(plan(base, registry(e), {}), [{ kind: 'start', address: 'acme/korax', reason: 'not running' }]);
});

test('failed agent: left alone unless its config changed', () => {
  const { e } = runningAsDeclared(base, 'acme/korax');
  assert.deepEqual(plan(base, registry(e), { 'acme/korax': { state: 'failed' } }), []);
  const changed = manifest({ acme: { agents: { korax: { config: { a: 2 }, env: { E: '1' } } } } });
  assert.deepEqual(plan(changed, registry(e), { 'acme/korax': { state: 'failed' } }), [{ kind: 'start', address: 'acme/korax', reason: 'openclaw.json changed' }]);
});

test('several agents: actions sorted by address, each agent in execution order', () => {
  const m = manifest({ zed: { agents: { new: {} } }, acme: { agents: { korax: { config: { a: 2 }, env: { E: '1' } } } } });
  const { e, obs } = runningAsDeclared(base, 'acme/korax');
  const gone = entry('acme/gone');
  const actions = plan(m, registry(e, gone), { 'acme/korax': obs, 'acme/gone': { state: 'running' } });
  assert.deepEqual(actions.map((a) => `${a.kind} ${a.address}`), ['stop acme/gone', 'free acme/gone', 'reconfigure acme/korax', 'provision zed/new', 'start zed/new']);
});

test('planRemoval: stop only when alive, always free', () => {
  const e = entry('acme/x', { source: 'cli' });
  assert.deepEqual(planRemoval('acme/x', e, { state: 'backoff' }, 'removed by fleetctl').map((a) => a.kind), ['stop', 'free']);
  assert.deepEqual(planRemoval('acme/x', e, { state: 'failed' }, 'removed by fleetctl').map((a) => a.kind), ['free']);
});
