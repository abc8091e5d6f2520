// The watch loop with every source faked and a fake clock: lines arriving through the log
// follower, /startupz answers, the last-good file, an abort.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StartupState } from '../supervise/startup-probe.js';
import { verifyReconfigure, type VerifyDeps, type VerifyInput } from './reconfigure-verify.js';

/** Fake sources: `script(round)` says what happens at each probe round. */
type Emit = ((line: string) => void) & { chunk: (text: string) => void };

function fakes(script: (round: number, emit: Emit) => { startup?: StartupState; lastGood?: string }) {
  let now = 0;
  let round = 0;
  let onText: (text: string) => void = () => undefined;
  const emit = Object.assign((line: string) => onText(`${line}\n`), { chunk: (text: string) => onText(text) });
  let lastGood: string | undefined;
  const deps: VerifyDeps = {
    now: () => now,
    sleep: async (ms) => void (now += ms),
    follow: (_file, onChunk, signal, startAt) => {
      assert.equal(startAt, 1234, 'follows from the offset before the write');
      onText = onChunk;
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    },
    probeStartup: async () => {
      round += 1;
      const step = script(round, emit);
      if (step.lastGood !== undefined) lastGood = step.lastGood;
      return step.startup ?? { state: 'started', uptimeMs: 60_000 + now, detail: '' };
    },
    readText: async () => lastGood,
  };
  return { deps, rounds: () => round };
}

const input = (over: Partial<VerifyInput> = {}): VerifyInput => ({
  port: 1,
  logFile: '/x/gateway.log',
  logOffset: 1234,
  configPath: '/x/openclaw.json',
  writtenText: 'NEW',
  baseline: { state: 'started', uptimeMs: 60_000, detail: '' },
  limits: { confirmMs: 1000, restartMs: 2000, deferMs: 500 },
  signal: new AbortController().signal,
  ...over,
});

test('a line cut across two chunks still counts; applied once it says so', async () => {
  const { deps } = fakes((round, emit) => {
    if (round === 2) emit('2026-12-01T00:00:00Z [reload] config change detected; evaluating reload (tools)');
    if (round === 3) {
      const line = '2026-12-01T00:00:01Z [reload] config hot reload applied (tools)\n';
      emit.chunk(line.slice(0, 30));
      emit.chunk(line.slice(30));
    }
    return {};
  });
  const v = await verifyReconfigure(input(), deps);
  assert.ok(v.applied && v.how.startsWith('hot reload (tools)'), JSON.stringify(v));
});

test('no reaction: not applied after confirmMs, naming it', async () => {
  const { deps, rounds } = fakes(() => ({}));
  const v = await verifyReconfigure(input(), deps);
  assert.ok(!v.applied && v.why.includes('did not react'), JSON.stringify(v));
  assert.ok(rounds() >= 6 && rounds() <= 9, `about confirmMs / 150 ms rounds, was ${rounds()}`);
});

test('a last-good copy of another text does not count; of ours, after one more round, it does', async () => {
  const { deps } = fakes((round) => (round === 2 ? { lastGood: 'OLD' } : round === 4 ? { lastGood: 'NEW' } : {}));
  const phases: string[] = [];
  const v = await verifyReconfigure(input({ onPhase: (p) => phases.push(p) }), deps);
  assert.ok(v.applied && v.how.includes('no reload action needed'), JSON.stringify(v));
  assert.deepEqual(phases, ['waiting for the gateway to pick up the new file']);
});

test('aborted (a stop, an exit, a newer change): superseded at once', async () => {
  const abort = new AbortController();
  const { deps } = fakes((round) => {
    if (round === 3) abort.abort();
    return {};
  });
  const v = await verifyReconfigure(input({ signal: abort.signal, limits: { confirmMs: 60_000, restartMs: 60_000, deferMs: 0 } }), deps);
  assert.deepEqual(v, { done: true, applied: false, why: 'superseded' });
});
