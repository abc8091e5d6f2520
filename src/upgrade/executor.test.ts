// The rollout executor against a fake fleet: agents with a runtime and a "database" whose
// schema the new runtime migrates and the old one refuses when it is newer (as OpenClaw
// does: exit 78). Covers order, maxParallel, the gate, rollback with restore, preflight and
// install refusals, and resuming after a fleetd killed mid-rollout.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planRollout, recoverRollout, runtimeAt } from '../plan/rollout.js';
import type { RolloutRecord } from '../protocol/rollout.js';
import { runRollout, type GateResult, type RolloutDeps, type RolloutProgress } from './executor.js';

/** How a fake runtime behaves. */
interface RuntimeBehaviour {
  schema: number;
  /** The gateway never passes the gate. */
  neverReady?: boolean;
  preflight?: 'exact' | 'incompatible';
  installFails?: boolean;
}

const RUNTIMES: Record<string, RuntimeBehaviour> = {
  '1.0.0': { schema: 1 },
  '2.0.0': { schema: 2 },
  '2.0.0-broken': { schema: 2, neverReady: true },
  '3.0.0': { schema: 3, preflight: 'incompatible' },
  '9.9.9': { schema: 9, installFails: true },
};

interface FakeAgent {
  runtime: string;
  running: boolean;
  schema: number;
}

/** A fleet of fake agents and deps that act on it, logging every call. */
function world(addresses: string[], options: { hangAt?: { address: string; call: 'waitReady' } } = {}) {
  const agents = new Map<string, FakeAgent>(addresses.map((a) => [a, { runtime: '1.0.0', running: true, schema: 1 }]));
  const snapshots = new Map<string, number>();
  const log: string[] = [];
  const saved: RolloutRecord[] = [];
  const events: RolloutProgress[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let current: RolloutRecord | undefined;
  let clock = 1_000_000;
  let lock: Promise<void> = Promise.resolve();
  const gate = (address: string): GateResult => {
    const agent = agents.get(address)!;
    const behaviour = RUNTIMES[agent.runtime]!;
    if (!agent.running) return { ok: false, cause: 'not running' };
    if (agent.schema > behaviour.schema) return { ok: false, cause: `exited with code 78 (newer database schema ${agent.schema})` };
    if (behaviour.neverReady) return { ok: false, cause: 'not ready within the deadline: /readyz 503' };
    return { ok: true, detail: 'started, ready' };
  };
  const deps: RolloutDeps = {
    async installRuntime(key) {
      log.push(`install ${key}`);
      if (RUNTIMES[key]?.installFails) throw new Error(`npm error 404 ${key}`);
      return { key, node: `/rt/${key}/node`, entry: `/rt/${key}/openclaw.mjs`, dir: `/rt/${key}` };
    },
    async preflight(address, target, _fromSnapshot) {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      log.push(`preflight ${address} ${target.key}`);
      const verdict = RUNTIMES[target.key]!.preflight ?? 'exact';
      return { ok: verdict === 'exact', status: verdict, detail: `schema ${agents.get(address)!.schema} -> ${target.key}: ${verdict}` };
    },
    async isReady(address) {
      return gate(address).ok;
    },
    exclusive<T>(_address: string, fn: () => Promise<T>): Promise<T> {
      const run = lock.then(fn);
      lock = run.then(() => undefined, () => undefined);
      return run;
    },
    async stop(address) {
      log.push(`stop ${address}`);
      agents.get(address)!.running = false;
    },
    async snapshot(address, key) {
      const id = `snap-${address}-${snapshots.size}`;
      snapshots.set(id, agents.get(address)!.schema);
      log.push(`snapshot ${address} (${key}, schema ${agents.get(address)!.schema})`);
      return id;
    },
    async restore(address, id) {
      log.push(`restore ${address} ${id}`);
      agents.get(address)!.schema = snapshots.get(id)!;
    },
    async start(address) {
      const entry = current!.agents.find((a) => a.address === address)!;
      const key = runtimeAt(entry);
      const agent = agents.get(address)!;
      log.push(`start ${address} ${key}`);
      agent.runtime = key;
      agent.running = true;
      const schema = RUNTIMES[key]!.schema;
      if (agent.schema < schema) agent.schema = schema; // the new version migrates its state at start
    },
    async waitReady(address) {
      if (options.hangAt?.address === address && entryPhase(address) === 'verifying') return new Promise<GateResult>(() => {}); // fleetd dies here
      if (entryPhase(address) !== 'rolling-back') inFlight -= 1;
      return gate(address);
    },
    async save(record) {
      saved.push(record);
    },
    now: () => (clock += 10),
    onProgress: (p) => events.push(p),
  };
  const entryPhase = (address: string) => current!.agents.find((a) => a.address === address)!.phase;
  return {
    agents,
    log,
    saved,
    events,
    deps,
    maxInFlight: () => maxInFlight,
    run(record: RolloutRecord) {
      current = record;
      return runRollout(record, deps);
    },
  };
}

function rollout(addresses: string[], to: string, maxParallel = 1): RolloutRecord {
  return planRollout({
    id: 'r1',
    source: 'upgrade',
    scope: 'acme',
    candidates: addresses.map((address) => ({ address, fleet: 'acme', from: '1.0.0', to, running: true })),
    settingsOf: () => ({ maxParallel, readyTimeoutMs: 60_000 }),
    now: 0,
  });
}

describe('runRollout', () => {
  test('one agent at a time, in order: preflight, stop, snapshot, start, gate; succeeded', async () => {
    const w = world(['acme/a', 'acme/b']);
    const final = await w.run(rollout(['acme/a', 'acme/b'], '2.0.0'));
    assert.equal(final.state, 'succeeded');
    assert.deepEqual(w.log, [
      'install 2.0.0',
      'preflight acme/a 2.0.0', 'stop acme/a', 'snapshot acme/a (1.0.0, schema 1)', 'start acme/a 2.0.0',
      'preflight acme/b 2.0.0', 'stop acme/b', 'snapshot acme/b (1.0.0, schema 1)', 'start acme/b 2.0.0',
    ]);
    assert.deepEqual(final.agents.map((a) => [a.phase, a.wasReady, a.snapshot !== null]), [['done', true, true], ['done', true, true]]);
    assert.deepEqual([...w.agents.values()].map((a) => `${a.runtime}/${a.schema}`), ['2.0.0/2', '2.0.0/2']);
    // write-ahead: every phase of an agent was saved before the next happened
    const phasesOfA = w.saved.map((r) => r.agents[0]!.phase).filter((p, i, all) => p !== all[i - 1]);
    assert.deepEqual(phasesOfA, ['pending', 'preflight', 'stopping', 'snapshot', 'starting', 'verifying', 'done']);
    assert.equal(w.saved.at(-1)!.state, 'succeeded');
    assert.match(w.events.at(-1)!.message, /rollout r1 succeeded: 2 agent\(s\) on 2\.0\.0/);
  });

  test('maxParallel 2: two agents in flight at once, the third waits for both', async () => {
    const w = world(['acme/a', 'acme/b', 'acme/c']);
    const final = await w.run(rollout(['acme/a', 'acme/b', 'acme/c'], '2.0.0', 2));
    assert.equal(final.state, 'succeeded');
    assert.equal(w.maxInFlight(), 2);
    assert.ok(w.log.indexOf('preflight acme/b 2.0.0') < w.log.indexOf('start acme/a 2.0.0'), 'a and b overlap');
    assert.ok(w.log.indexOf('preflight acme/c 2.0.0') > w.log.indexOf('start acme/b 2.0.0'), 'c waits for the batch');
  });

  test('a target that never becomes ready is rolled back: old state restored, old runtime running, rollout stopped', async () => {
    const w = world(['acme/a', 'acme/b']);
    const final = await w.run(rollout(['acme/a', 'acme/b'], '2.0.0-broken'));
    assert.equal(final.state, 'failed');
    assert.deepEqual(final.agents.map((a) => a.phase), ['rolled-back', 'pending']);
    assert.deepEqual(w.agents.get('acme/a'), { runtime: '1.0.0', running: true, schema: 1 }, 'old runtime with its old state (without the restore it would refuse schema 2)');
    assert.deepEqual(w.agents.get('acme/b'), { runtime: '1.0.0', running: true, schema: 1 }, 'the next agent was never touched');
    assert.ok(!w.log.some((l) => l.includes('acme/b')));
    assert.deepEqual(w.log.slice(-4), ['start acme/a 2.0.0-broken', 'stop acme/a', 'restore acme/a snap-acme/a-0', 'start acme/a 1.0.0']);
    assert.equal(final.failure?.address, 'acme/a');
    assert.equal(final.failure?.phase, 'verifying');
    assert.equal(final.failure?.rolledBack, true);
    assert.match(final.failure!.cause, /2\.0\.0-broken failed at verifying: not ready within the deadline: \/readyz 503; state restored from snapshot .*; 1\.0\.0 is running again/);
  });

  test('a preflight refusal stops the rollout before the agent is touched', async () => {
    const w = world(['acme/a']);
    const final = await w.run(rollout(['acme/a'], '3.0.0'));
    assert.equal(final.state, 'failed');
    assert.deepEqual(w.log, ['install 3.0.0', 'preflight acme/a 3.0.0']);
    assert.equal(final.agents[0]!.phase, 'failed');
    assert.match(final.failure!.cause, /preflight of 3\.0\.0 refused its state \(incompatible\).*not touched and still runs 1\.0\.0/);
    assert.deepEqual(w.agents.get('acme/a'), { runtime: '1.0.0', running: true, schema: 1 });
  });

  test('an install failure touches no agent', async () => {
    const w = world(['acme/a']);
    const final = await w.run(rollout(['acme/a'], '9.9.9'));
    assert.deepEqual([final.state, final.failure?.phase, final.failure?.address], ['failed', 'installing', null]);
    assert.match(final.failure!.cause, /runtime 9\.9\.9 could not be installed: npm error 404/);
    assert.deepEqual(w.log, ['install 9.9.9']);
  });

  test('fleetd killed while b is being verified: b is restored and retried, a stays done, the rollout completes', async () => {
    const w = world(['acme/a', 'acme/b', 'acme/c'], { hangAt: { address: 'acme/b', call: 'waitReady' } });
    void w.run(rollout(['acme/a', 'acme/b', 'acme/c'], '2.0.0'));
    await waitUntil(() => w.saved.at(-1)?.agents[1]?.phase === 'verifying');
    const found = structuredClone(w.saved.at(-1)!); // what the registry holds when fleetd dies
    assert.deepEqual(found.agents.map((a) => a.phase), ['done', 'verifying', 'pending']);
    assert.equal(w.agents.get('acme/b')!.schema, 2, 'the new runtime migrated b before fleetd died');

    // the next fleetd: recover (restore before any start), then resume with working deps
    const { record, restore } = recoverRollout(found, 2_000_000);
    assert.deepEqual(restore.map((r) => r.address), ['acme/b']);
    const next = world(['acme/a', 'acme/b', 'acme/c']);
    next.agents.set('acme/a', { runtime: '2.0.0', running: true, schema: 2 });
    next.agents.set('acme/b', { runtime: '2.0.0', running: false, schema: 2 });
    for (const r of restore) next.agents.get(r.address)!.schema = 1; // restoreSnapshot(b)
    next.agents.set('acme/b', { runtime: runtimeAt(record.agents[1]!), running: true, schema: 1 }); // started on its previous runtime
    const final = await next.run(record);
    assert.equal(final.state, 'succeeded');
    assert.deepEqual(final.agents.map((a) => a.phase), ['done', 'done', 'done']);
    assert.ok(!next.log.some((l) => l.includes('acme/a')), 'a is not redone');
    assert.deepEqual(next.log.filter((l) => l.includes('acme/b')), ['preflight acme/b 2.0.0', 'stop acme/b', 'snapshot acme/b (1.0.0, schema 1)', 'start acme/b 2.0.0']);
  });

  test('--restore: the snapshot the target left is put back after the current state is saved, then the target starts on it', async () => {
    const w = world(['acme/a']);
    const id = await w.deps.snapshot('acme/a', '1.0.0'); // as taken when a left 1.0.0 (schema 1 then)
    w.agents.set('acme/a', { runtime: '2.0.0', running: true, schema: 2 });
    w.log.length = 0;
    const r = planRollout({ id: 'r2', source: 'upgrade', scope: 'acme/a', candidates: [{ address: 'acme/a', fleet: 'acme', from: '2.0.0', to: '1.0.0', running: true, restoreFrom: id }], settingsOf: () => ({ maxParallel: 1, readyTimeoutMs: 1 }), now: 0 });
    const final = await w.run(r);
    assert.equal(final.state, 'succeeded', JSON.stringify(final.failure));
    assert.deepEqual(w.log.slice(1), ['preflight acme/a 1.0.0', 'stop acme/a', 'snapshot acme/a (2.0.0, schema 2)', `restore acme/a ${id}`, 'start acme/a 1.0.0']);
    assert.deepEqual(w.agents.get('acme/a'), { runtime: '1.0.0', running: true, schema: 1 });
  });

  test('a finished rollout is returned as it is', async () => {
    const w = world(['acme/a']);
    const done = { ...rollout(['acme/a'], '2.0.0'), state: 'succeeded' as const };
    assert.equal(await w.run(done), done);
    assert.deepEqual(w.log, []);
  });
});

/** Polls a condition (microtasks of the fake world). */
async function waitUntil(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !predicate(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(predicate(), 'condition never met');
}
