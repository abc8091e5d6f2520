// planLaunches: what each agent runs given the file, `fleetctl upgrade` pins and the rollout.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { manifestSchema, type GatewayLaunch, type Manifest } from '../manifest/schema.js';
import type { PinOverride, RolloutRecord } from '../protocol/rollout.js';
import { desiredAgents } from './desired.js';
import { planLaunches, reviewOverrides, type CurrentLaunch } from './launch-overlay.js';
import { planRollout } from './rollout.js';
import type { RegistryFile } from './types.js';

function manifest(fleets: Record<string, unknown>, gateway: Record<string, unknown> = { openclaw: '2026.9.6' }): Manifest {
  const parsed = manifestSchema.parse({ version: 1, gateway, fleets });
  return { ...parsed, manifestPath: '/m/f.json5', stateDir: '/s', socket: '/s/s.sock', runtimesDir: '/s/rt' };
}
const EMPTY: RegistryFile = { version: 1, agents: {} };
const oc = (version: string, node?: string): GatewayLaunch => (node ? { kind: 'openclaw', version, node } : { kind: 'openclaw', version });
const running = (launch: GatewayLaunch): CurrentLaunch => ({ launch, alive: true });
const override = (scope: string, openclaw: string, base: string | null, node?: string, baseNode: string | null = null): PinOverride => ({ scope, openclaw, ...(node ? { node } : {}), base: { openclaw: base, node: baseNode }, createdAt: 0 });

/** The launch each agent would get from the plan's manifest. */
function launches(m: Manifest): Record<string, GatewayLaunch> {
  return Object.fromEntries(desiredAgents(m, EMPTY).map((d) => [d.address, d.launch]));
}

describe('planLaunches', () => {
  const file = manifest({ acme: { gateway: { openclaw: '2026.9.6' }, agents: { a: {}, b: {}, c: {} } } });

  test('running agents whose pin changed keep their runtime and become candidates; stopped ones switch', () => {
    const current = new Map([
      ['acme/a', running(oc('2026.9.5'))],
      ['acme/b', { launch: oc('2026.9.5'), alive: false }],
      ['acme/c', running(oc('2026.9.6'))],
    ]);
    const r = planLaunches({ file, registry: EMPTY, overrides: [], rollout: null, holds: [], current });
    assert.deepEqual(launches(r.manifest), { 'acme/a': oc('2026.9.5'), 'acme/b': oc('2026.9.6'), 'acme/c': oc('2026.9.6') });
    assert.deepEqual(r.candidates, [
      { address: 'acme/a', fleet: 'acme', from: '2026.9.5', to: '2026.9.6', running: true },
      { address: 'acme/b', fleet: 'acme', from: '2026.9.5', to: '2026.9.6', running: false },
    ]);
    assert.deepEqual(r.manifest.launchOverrides, { 'acme/a': oc('2026.9.5') });
  });

  test('an active rollout decides its agents by phase; a different target for one of them is a conflict', () => {
    const rollout = planRollout({ id: 'r', source: 'reload', scope: 'acme', candidates: ['a', 'b'].map((x) => ({ address: `acme/${x}`, fleet: 'acme', from: '2026.9.5', to: '2026.9.6', running: true })), settingsOf: () => ({ maxParallel: 1, readyTimeoutMs: 1 }), now: 0 });
    rollout.state = 'running';
    rollout.agents[0]!.phase = 'done';
    const current = new Map([['acme/a', running(oc('2026.9.6'))], ['acme/b', running(oc('2026.9.5'))], ['acme/c', running(oc('2026.9.6'))]]);
    const r = planLaunches({ file, registry: EMPTY, overrides: [], rollout, holds: [], current });
    assert.deepEqual(launches(r.manifest), { 'acme/a': oc('2026.9.6'), 'acme/b': oc('2026.9.5'), 'acme/c': oc('2026.9.6') });
    assert.deepEqual([r.candidates, r.conflicts], [[], []]);
    const back = planLaunches({ file: manifest({ acme: { gateway: { openclaw: '2026.9.4' }, agents: { a: {}, b: {}, c: {} } } }), registry: EMPTY, overrides: [], rollout, holds: [], current });
    assert.deepEqual(back.conflicts.map((x) => x.address), ['acme/a', 'acme/b']);
    assert.deepEqual(launches(back.manifest)['acme/b'], oc('2026.9.5'), 'the rollout keeps its agents while in conflict');
  });

  test('a hold keeps an agent on its previous runtime while the failed one is wanted; a new target releases it', () => {
    const hold = { address: 'acme/a', from: '2026.9.5', to: '2026.9.6', rollout: 'r', since: 0 };
    const current = new Map([['acme/a', running(oc('2026.9.5'))]]);
    const held = planLaunches({ file, registry: EMPTY, overrides: [], rollout: null, holds: [hold], current });
    assert.deepEqual([held.held, held.released, held.candidates], [[hold], [], []]);
    assert.deepEqual(launches(held.manifest)['acme/a'], oc('2026.9.5'));
    const retarget = planLaunches({ file: manifest({ acme: { gateway: { openclaw: '2026.9.7' }, agents: { a: {}, b: {}, c: {} } } }), registry: EMPTY, overrides: [], rollout: null, holds: [hold], current });
    assert.deepEqual([retarget.held, retarget.released, retarget.candidates.map((x) => `${x.from}->${x.to}`)], [[], [hold], ['2026.9.5->2026.9.7']]);
  });

  test('command <-> managed runtime is not a rollout', () => {
    const current = new Map([['acme/a', running({ kind: 'command', command: ['gw'] })]]);
    const r = planLaunches({ file, registry: EMPTY, overrides: [], rollout: null, holds: [], current });
    assert.deepEqual(r.candidates, []);
    assert.equal(r.manifest.launchOverrides, undefined);
  });
});

describe('fleetctl upgrade pins', () => {
  const file = manifest({ acme: { gateway: { openclaw: '2026.9.5', node: '24.21.0' }, agents: { a: {}, pinned: { gateway: { openclaw: '2026.9.4' } } } } });

  test('a fleet pin acts like editing the fleet\'s pin: agents with their own pin keep it, the Node pin stays', () => {
    const r = planLaunches({ file, registry: EMPTY, overrides: [override('acme', '2026.9.6', '2026.9.5', undefined, '24.21.0')], rollout: null, holds: [], current: new Map() });
    assert.deepEqual(launches(r.manifest), { 'acme/a': oc('2026.9.6', '24.21.0'), 'acme/pinned': oc('2026.9.4', '24.21.0') });
    const agentPin = planLaunches({ file, registry: EMPTY, overrides: [override('acme/pinned', '2026.9.6', '2026.9.4', '26.10.0')], rollout: null, holds: [], current: new Map() });
    assert.deepEqual(launches(agentPin.manifest)['acme/pinned'], oc('2026.9.6', '26.10.0'));
  });

  test('dropped once the file changes at that scope (file wins) or says the same (persisted)', () => {
    const o = override('acme', '2026.9.6', '2026.9.5', undefined, '24.21.0');
    assert.deepEqual(reviewOverrides(file, [o]).kept, [o]);
    assert.match(reviewOverrides(file, [override('acme', '2026.9.6', '2026.9.5')]).dropped[0]!.why, /changed/, 'a Node pin edit counts as an edit');
    const edited = manifest({ acme: { gateway: { openclaw: '2026.9.3', node: '24.21.0' }, agents: { a: {} } } });
    assert.match(reviewOverrides(edited, [o]).dropped[0]!.why, /changed \(2026\.9\.5 -> 2026\.9\.3\): the file wins/);
    const persisted = manifest({ acme: { gateway: { openclaw: '2026.9.6', node: '24.21.0' }, agents: { a: {} } } });
    assert.match(reviewOverrides(persisted, [o]).dropped[0]!.why, /changed \(2026\.9\.5 -> 2026\.9\.6\)/, 'persisting it is an edit too: dropped');
    assert.match(reviewOverrides(persisted, [{ ...o, base: { openclaw: '2026.9.6', node: '24.21.0' } }]).dropped[0]!.why, /pins acme to 2026\.9\.6 itself/);
    assert.equal(reviewOverrides(manifest({}), [override('acme', '2026.9.6', null)]).kept.length, 1, 'a fleet absent from the file (CLI agents only) keeps its pin');
  });
});
