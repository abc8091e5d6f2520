// Rollout planning, phases and the resume rule, table by table (pure: no clock, no disk).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RolloutRecord } from '../protocol/rollout.js';
import { isActive, nextBatch, planRollout, recoverRollout, rolloutProgress, runtimeAt, type RolloutCandidate } from './rollout.js';

const c = (address: string, running = true, from = '2026.9.5', to = '2026.9.6'): RolloutCandidate => ({ address, fleet: address.split('/')[0]!, from, to, running });
const settings = (maxParallel: number) => (_fleet: string) => ({ maxParallel, readyTimeoutMs: 60_000 });

function plan(candidates: RolloutCandidate[], maxParallel = 1, settingsOf: (fleet: string) => { maxParallel: number; readyTimeoutMs: number } = settings(maxParallel)): RolloutRecord {
  return planRollout({ id: 'r1', source: 'reload', scope: 'manifest', candidates, settingsOf, now: 1000 });
}

describe('planRollout', () => {
  test('fleets in id order, agents in address order, one per batch by default', () => {
    const r = plan([c('zeta/a'), c('acme/b'), c('acme/a')]);
    assert.deepEqual(r.agents.map((a) => [a.address, a.batch, a.phase]), [['acme/a', 0, 'pending'], ['acme/b', 1, 'pending'], ['zeta/a', 2, 'pending']]);
    assert.deepEqual([r.state, r.targets, r.finishedAt], ['installing', ['2026.9.6'], null]);
  });

  test('maxParallel groups agents into batches, per fleet settings', () => {
    const r = plan([c('acme/a'), c('acme/b'), c('acme/c'), c('ops/x'), c('ops/y')], 1, (fleet) => ({ maxParallel: fleet === 'acme' ? 2 : 3, readyTimeoutMs: 1 }));
    assert.deepEqual(r.agents.map((a) => `${a.address}:${a.batch}`), ['acme/a:0', 'acme/b:0', 'acme/c:1', 'ops/x:2', 'ops/y:2']);
    assert.deepEqual(r.settings, { acme: { maxParallel: 2, readyTimeoutMs: 1 }, ops: { maxParallel: 3, readyTimeoutMs: 1 } });
    assert.deepEqual(nextBatch(r).map((a) => a.address), ['acme/a', 'acme/b']);
  });

  test('agents not running switch without a gate (passive); no change, no entry; nothing to restart = succeeded at once', () => {
    const r = plan([c('acme/a', false), c('acme/b'), c('acme/c', true, '2026.9.6', '2026.9.6')]);
    assert.deepEqual(r.agents.map((a) => [a.address, a.batch, a.phase]), [['acme/b', 0, 'pending'], ['acme/a', null, 'passive']]);
    const none = plan([c('acme/a', false)]);
    assert.deepEqual([none.state, none.finishedAt, none.targets], ['succeeded', 1000, []]);
    assert.equal(isActive(none), false);
  });
});

describe('runtimeAt', () => {
  const r = plan([c('acme/a')]);
  const agent = r.agents[0]!;
  const table: Array<[RolloutRecord['agents'][number]['phase'], string]> = [
    ['pending', '2026.9.5'], ['preflight', '2026.9.5'], ['stopping', '2026.9.5'], ['snapshot', '2026.9.5'],
    ['starting', '2026.9.6'], ['verifying', '2026.9.6'], ['done', '2026.9.6'], ['passive', '2026.9.6'],
    ['failed', '2026.9.5'], ['rolling-back', '2026.9.5'], ['rolled-back', '2026.9.5'],
  ];
  for (const [phase, key] of table) test(`${phase} runs ${key}`, () => assert.equal(runtimeAt({ ...agent, phase }), key));
});

describe('recoverRollout (fleetd killed mid-rollout)', () => {
  function killedAt(phases: Array<RolloutRecord['agents'][number]['phase']>, state: RolloutRecord['state'] = 'running'): RolloutRecord {
    const r = plan(phases.map((_, i) => c(`acme/a${i}`)));
    r.state = state;
    phases.forEach((phase, i) => {
      r.agents[i]!.phase = phase;
      if (['snapshot', 'starting', 'verifying', 'rolling-back', 'done'].includes(phase)) r.agents[i]!.snapshot = `snap-${i}`;
    });
    return r;
  }

  test('done stays done; a started-but-unverified agent is restored and retried; one before its start is retried without restore', () => {
    const { record, restore, notes } = recoverRollout(killedAt(['done', 'verifying', 'snapshot', 'pending']), 5000);
    assert.deepEqual(record.agents.map((a) => a.phase), ['done', 'pending', 'pending', 'pending']);
    assert.deepEqual(restore, [{ address: 'acme/a1', snapshot: 'snap-1' }]);
    assert.equal(record.agents[1]!.snapshot, null);
    assert.equal(record.agents[0]!.snapshot, 'snap-0', 'a done agent keeps its snapshot reference');
    assert.equal(record.updatedAt, 5000);
    assert.match(notes.join('\n'), /acme\/a1: was starting on 2026\.9\.6 .*snapshot restored/);
    assert.deepEqual(nextBatch(record).map((a) => a.address), ['acme/a1'], 'the rollout resumes with it');
  });

  test('a rollback in progress is finished, the rollout stays failed', () => {
    const found = killedAt(['done', 'rolling-back', 'pending'], 'failed');
    found.failure = { address: 'acme/a1', phase: 'verifying', cause: 'not ready', rolledBack: null };
    const { record, restore } = recoverRollout(found, 5000);
    assert.deepEqual(record.agents.map((a) => a.phase), ['done', 'rolled-back', 'pending']);
    assert.deepEqual(restore, [{ address: 'acme/a1', snapshot: 'snap-1' }]);
    assert.equal(record.state, 'failed');
    assert.equal(record.failure?.rolledBack, true);
  });

  test('the input record is not modified', () => {
    const found = killedAt(['starting']);
    recoverRollout(found, 1);
    assert.equal(found.agents[0]!.phase, 'starting');
  });
});

test('rolloutProgress counts what status and metrics show', () => {
  const r = plan([c('acme/a'), c('acme/b'), c('acme/c'), c('acme/d', false)]);
  r.agents[0]!.phase = 'done';
  r.agents[1]!.phase = 'verifying';
  assert.deepEqual(rolloutProgress(r), { total: 3, done: 1, pending: 1, inFlight: 1, failed: 0, passive: 1 });
});
