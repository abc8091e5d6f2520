// Carries out a rollout (plan/rollout.ts decides, this acts), with every side effect
// passed in, so it runs against fakes in tests and against the fleet in fleetd. Per agent:
//   preflight (the target's own database preflight, on a copy; the agent is untouched if it
//   refuses) -> was /readyz 200? -> stop -> snapshot -> start on the target -> gate:
//   /startupz "started" (and /readyz 200 if it was ready before) within readyTimeoutMs.
// Any failure after the stop rolls the agent back: stop, restore the snapshot, start on
// the previous runtime; the rollout stops there and names the agent and the cause.
// The record is saved before each step (write-ahead), so a fleetd killed at any point
// knows what may have happened (recoverRollout).
import { toFleetError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { isActive, nextBatch } from '../plan/rollout.js';
import type { AgentPhase, RolloutAgent, RolloutRecord } from '../protocol/rollout.js';
import type { PreflightResult } from './preflight.js';

/** The runtime a rollout installs and starts agents on. */
export interface TargetRuntime {
  key: string;
  node: string;
  entry: string;
  dir: string;
}

/** Outcome of a readiness gate. */
export type GateResult = { ok: true; detail: string } | { ok: false; cause: string };

/** One progress line (also an event). */
export interface RolloutProgress {
  /** Rollout id. */
  rollout: string;
  address: string | null;
  phase: string;
  message: string;
  at: number;
}

/** Everything the executor does to the world. */
export interface RolloutDeps {
  /** Installs (or reuses) a runtime; `onProgress` gets people-readable lines. */
  installRuntime(key: string, onProgress: (message: string) => void): Promise<TargetRuntime>;
  /** The target's database preflight on a copy of the agent's state (or of a snapshot's, for --restore). */
  preflight(address: string, target: TargetRuntime, fromSnapshot: string | null): Promise<PreflightResult>;
  /** True when the agent's /readyz answers 200 now. */
  isReady(address: string): Promise<boolean>;
  /** Runs stop/snapshot/start of `address` as one unit no other fleet change interleaves with (the fleet's queue), nor another exclusive step of that agent (a reconfigure, a rolling restart's turn). */
  exclusive<T>(address: string, fn: () => Promise<T>): Promise<T>;
  /** Stops the agent's gateway (whole tree); resolves once stopped. */
  stop(address: string): Promise<void>;
  /** Snapshots the stopped agent's state; returns the snapshot id. */
  snapshot(address: string, runtimeKey: string): Promise<string>;
  /** Puts a snapshot back (agent stopped). */
  restore(address: string, snapshot: string): Promise<void>;
  /** Starts the agent on the runtime its phase in `record` names (the fleet reads the record); resolves once the start is under way. */
  start(address: string): Promise<void>;
  /** The health gate, until `deadline` (epoch ms). */
  waitReady(address: string, o: { deadline: number; requireReady: boolean }): Promise<GateResult>;
  /** Persists the record (called before each step). */
  save(record: RolloutRecord): Promise<void>;
  now(): number;
  onProgress?(p: RolloutProgress): void;
  /** After an agent is done: drop its old snapshots (retention). */
  pruneSnapshots?(address: string, keep: string | null): Promise<void>;
}

/** Runs (or resumes) `record` until it succeeds or stops at a failure; returns the final record. */
export async function runRollout(record: RolloutRecord, deps: RolloutDeps): Promise<RolloutRecord> {
  let saving: Promise<void> = Promise.resolve();
  // parallel agents of a batch save the same record: one write at a time, each the latest
  const save = (): Promise<void> => {
    record.updatedAt = deps.now();
    const copy = structuredClone(record);
    saving = saving.then(() => deps.save(copy));
    return saving;
  };
  const progress = (address: string | null, phase: string, message: string) => deps.onProgress?.({ rollout: record.id, address, phase, message, at: deps.now() });
  const finish = async (state: 'succeeded' | 'failed') => {
    record.state = state;
    record.finishedAt = deps.now();
    await save();
    progress(null, state, state === 'succeeded' ? `rollout ${record.id} succeeded: ${record.agents.filter((a) => a.phase === 'done').length} agent(s) on ${record.targets.join(', ')}` : `rollout ${record.id} stopped: ${describeFailure(record)}`);
    return record;
  };
  if (!isActive(record)) return record;

  // 1. install every target first (also on resume: the fast path when installed)
  const runtimes = new Map<string, TargetRuntime>();
  for (const key of record.targets) {
    try {
      progress(null, 'installing', `installing runtime ${key}`);
      runtimes.set(key, await deps.installRuntime(key, (message) => progress(null, 'installing', message)));
    } catch (err) {
      record.failure = { address: null, phase: 'installing', cause: `runtime ${key} could not be installed: ${toFleetError(err).message}`, rolledBack: null };
      return finish('failed');
    }
  }
  if (record.state === 'installing') {
    record.state = 'running';
    await save();
  }

  // 2. batches, in order; the first failure stops the rollout after its batch
  for (let batch = nextBatch(record); batch.length > 0; batch = nextBatch(record)) {
    const results = await Promise.all(batch.map((agent) => upgradeAgent(agent, runtimes.get(agent.to)!)));
    if (results.includes(false)) return finish('failed');
  }
  return finish('succeeded');

  /** One agent through all its steps; false when it failed (and was rolled back when touched). */
  async function upgradeAgent(a: RolloutAgent, target: TargetRuntime): Promise<boolean> {
    const step = async (phase: AgentPhase, message: string) => {
      a.phase = phase;
      await save();
      progress(a.address, phase, message);
    };
    const settings = record.settings[a.fleet] ?? { maxParallel: 1, readyTimeoutMs: 300_000 };
    a.startedAt = deps.now();
    await step('preflight', `${a.address}: preflight of ${a.to}`);
    let pre: PreflightResult;
    try {
      pre = await deps.preflight(a.address, target, a.restoreFrom);
    } catch (err) {
      pre = { ok: false, status: 'error', detail: toFleetError(err).message };
    }
    a.preflight = pre.detail;
    if (!pre.ok) {
      const back = pre.status === 'incompatible' && !a.restoreFrom ? `; to go back across a schema migration use the state from before it: fleetctl upgrade ${a.address} --to ${a.to.split('+')[0]} --restore` : '';
      a.cause = `the database preflight of ${a.to} refused its state (${pre.status}): ${pre.detail}; the agent was not touched and still runs ${a.from}${back}`;
      a.finishedAt = deps.now();
      record.failure = { address: a.address, phase: 'preflight', cause: a.cause, rolledBack: null };
      await step('failed', `${a.address}: ${a.cause}`);
      return false;
    }
    progress(a.address, 'preflight', `${a.address}: ${pre.detail}`);
    a.wasReady = await deps.isReady(a.address).catch(() => false);

    let failedAt: AgentPhase = 'stopping';
    let cause: string;
    try {
      await deps.exclusive(a.address, async () => {
        await step('stopping', `${a.address}: stopping ${a.from}`);
        await deps.stop(a.address);
        failedAt = 'snapshot';
        await step('snapshot', `${a.address}: snapshot of its state`);
        a.snapshot = await deps.snapshot(a.address, a.from);
        await save();
        if (a.restoreFrom) {
          progress(a.address, 'snapshot', `${a.address}: restoring the state ${a.to} left (snapshot ${a.restoreFrom}); the current one is kept in snapshot ${a.snapshot}`);
          await deps.restore(a.address, a.restoreFrom);
        }
        failedAt = 'starting';
        await step('starting', `${a.address}: starting on ${a.to}`);
        await deps.start(a.address);
      });
      failedAt = 'verifying';
      const gate = a.wasReady ? '/startupz "started" and /readyz 200' : '/startupz "started" (it was not ready before)';
      await step('verifying', `${a.address}: waiting up to ${formatDuration(settings.readyTimeoutMs)} for ${gate}`);
      const result = await deps.waitReady(a.address, { deadline: deps.now() + settings.readyTimeoutMs, requireReady: a.wasReady === true });
      if (result.ok) {
        a.finishedAt = deps.now();
        await step('done', `${a.address}: on ${a.to} (${result.detail})`);
        await deps.pruneSnapshots?.(a.address, a.snapshot).catch(() => {});
        return true;
      }
      cause = result.cause;
    } catch (err) {
      cause = `${failedAt} failed: ${toFleetError(err).message}`;
    }
    await rollBack(a, failedAt, cause, settings.backTimeoutMs ?? settings.readyTimeoutMs);
    return false;
  }

  /** Stop, restore the snapshot, start on the previous runtime; records whether it came back. */
  async function rollBack(a: RolloutAgent, failedAt: AgentPhase, cause: string, backTimeoutMs: number): Promise<void> {
    a.cause = `${a.to} failed at ${failedAt}: ${cause}`;
    record.failure = { address: a.address, phase: failedAt, cause: a.cause, rolledBack: null };
    const notes: string[] = [];
    try {
      await deps.exclusive(a.address, async () => {
        a.phase = 'rolling-back';
        await save();
        progress(a.address, 'rolling-back', `${a.address}: ${a.cause}; rolling back to ${a.from}`);
        await deps.stop(a.address);
        if (a.snapshot) {
          await deps.restore(a.address, a.snapshot);
          notes.push(`state restored from snapshot ${a.snapshot}`);
        } else {
          notes.push('no snapshot was needed (the new runtime never ran)');
        }
        await deps.start(a.address);
      });
      const back = await deps.waitReady(a.address, { deadline: deps.now() + backTimeoutMs, requireReady: false });
      notes.push(back.ok ? `${a.from} is running again` : `${a.from} did not come back: ${back.cause}`);
      record.failure.rolledBack = back.ok;
    } catch (err) {
      notes.push(`rollback failed: ${toFleetError(err).message}`);
      record.failure.rolledBack = false;
    }
    a.cause = `${a.cause}; ${notes.join('; ')}`;
    record.failure.cause = a.cause;
    a.finishedAt = deps.now();
    a.phase = 'rolled-back';
    await save();
    progress(a.address, 'rolled-back', `${a.address}: ${notes.join('; ')}`);
  }
}

/** "acme/korax at verifying: ..." for the end of a failed rollout. */
export function describeFailure(record: RolloutRecord): string {
  const f = record.failure;
  if (!f) return 'no failure recorded';
  return `${f.address ?? 'the rollout'} failed at ${f.phase}: ${f.cause}`;
}
