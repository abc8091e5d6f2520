// Rollouts as pure decisions (no fs, no clock: `now` comes in): which agents a runtime
// change restarts, in which order and batches; which runtime each agent runs at any
// phase; what to do after fleetd was killed mid-rollout. The executor (upgrade/executor.ts)
// carries them out; the record shape is protocol/rollout.ts.
//
// Resume rule after a fleetd restart (recoverRollout):
//   - agents `done` stay on the new runtime: they passed the health gate;
//   - the agent(s) in flight had not passed it: their snapshot is restored (when one was
//     taken and the new runtime may have run), they start on their previous runtime, and
//     go back to `pending`: the rollout resumes and tries them again from the start;
//   - an agent `rolling-back` finishes its rollback (restore + previous runtime); the
//     rollout stays `failed`;
//   - a rollout `installing` resumes its install (installs are idempotent).
import { compareAddress } from './desired.js';
import type { AgentPhase, RolloutAgent, RolloutRecord } from '../protocol/rollout.js';

/** One agent whose runtime changes. */
export interface RolloutCandidate {
  address: string;
  fleet: string;
  /** Runtime key it runs now. */
  from: string;
  /** Runtime key it should run. */
  to: string;
  /** Alive and wanted (starting, running, backoff): needs a gated restart. Otherwise it only switches (passive). */
  running: boolean;
  /** `upgrade --restore`: snapshot (written by `to`) whose state it gets back before starting on `to`. */
  restoreFrom?: string;
}

/** A fleet's rollout settings. */
export interface RolloutSettings {
  maxParallel: number;
  readyTimeoutMs: number;
  /** Deadline for the previous version to run again after a rollback (default readyTimeoutMs). */
  backTimeoutMs?: number;
}

/** Inputs of planRollout. */
export interface PlanRolloutInput {
  id: string;
  source: RolloutRecord['source'];
  scope: string;
  candidates: readonly RolloutCandidate[];
  settingsOf: (fleet: string) => RolloutSettings;
  now: number;
}

/** Phases in which an agent is being worked on (not yet through the gate, not rolled back). */
export const IN_FLIGHT: ReadonlySet<AgentPhase> = new Set(['preflight', 'stopping', 'snapshot', 'starting', 'verifying']);
/** Phases in which the new runtime may already have run on the agent's state. */
const NEW_RUNTIME_RAN: ReadonlySet<AgentPhase> = new Set(['starting', 'verifying']);

/** Builds a rollout: fleets in id order, agents in address order, batches of the fleet's maxParallel; non-running agents are passive. */
export function planRollout(input: PlanRolloutInput): RolloutRecord {
  const changing = input.candidates.filter((c) => c.from !== c.to);
  const fleets = [...new Set(changing.map((c) => c.fleet))].sort(compareAddress);
  const agents: RolloutAgent[] = [];
  const settings: RolloutRecord['settings'] = {};
  let batch = 0;
  for (const fleet of fleets) {
    const s = input.settingsOf(fleet);
    settings[fleet] = { maxParallel: s.maxParallel, readyTimeoutMs: s.readyTimeoutMs, ...(s.backTimeoutMs !== undefined ? { backTimeoutMs: s.backTimeoutMs } : {}) };
    const inFleet = changing.filter((c) => c.fleet === fleet).sort((a, b) => compareAddress(a.address, b.address));
    const active = inFleet.filter((c) => c.running);
    active.forEach((c, i) => agents.push(newAgent(c, batch + Math.floor(i / s.maxParallel), 'pending')));
    batch += Math.ceil(active.length / s.maxParallel);
    for (const c of inFleet.filter((x) => !x.running)) agents.push(newAgent(c, null, 'passive'));
  }
  const targets = [...new Set(changing.filter((c) => c.running).map((c) => c.to))].sort();
  const anyActive = agents.some((a) => a.phase === 'pending');
  return {
    schema: 1,
    id: input.id,
    source: input.source,
    scope: input.scope,
    targets,
    state: anyActive ? 'installing' : 'succeeded',
    settings,
    agents,
    failure: null,
    createdAt: input.now,
    updatedAt: input.now,
    finishedAt: anyActive ? null : input.now,
  };
}

/** A new agent entry. */
function newAgent(c: RolloutCandidate, batch: number | null, phase: AgentPhase): RolloutAgent {
  return { address: c.address, fleet: c.fleet, from: c.from, to: c.to, batch, phase, snapshot: null, restoreFrom: c.restoreFrom ?? null, wasReady: null, preflight: null, cause: null, startedAt: null, finishedAt: null };
}

/** True while the rollout still moves agents (install or batches to go). */
export function isActive(record: RolloutRecord | null | undefined): boolean {
  return record !== null && record !== undefined && (record.state === 'installing' || record.state === 'running');
}

/** The runtime key an agent of the rollout runs in its phase: the new one once it is (being) started on it. */
export function runtimeAt(agent: RolloutAgent): string {
  return agent.phase === 'done' || agent.phase === 'passive' || NEW_RUNTIME_RAN.has(agent.phase) ? agent.to : agent.from;
}

/** Agents of the next batch still to do (lowest batch with `pending` agents); [] when none is left. */
export function nextBatch(record: RolloutRecord): RolloutAgent[] {
  const pending = record.agents.filter((a) => a.phase === 'pending' && a.batch !== null);
  if (pending.length === 0) return [];
  const first = Math.min(...pending.map((a) => a.batch!));
  return pending.filter((a) => a.batch === first);
}

/** Counts for status lines and metrics. */
export function rolloutProgress(record: RolloutRecord): { total: number; done: number; pending: number; inFlight: number; failed: number; passive: number } {
  const count = (pred: (a: RolloutAgent) => boolean) => record.agents.filter(pred).length;
  return {
    total: count((a) => a.phase !== 'passive'),
    done: count((a) => a.phase === 'done'),
    pending: count((a) => a.phase === 'pending'),
    inFlight: count((a) => IN_FLIGHT.has(a.phase) || a.phase === 'rolling-back'),
    failed: count((a) => a.phase === 'failed' || a.phase === 'rolled-back'),
    passive: count((a) => a.phase === 'passive'),
  };
}

/** What recovery must do before the fleet starts: restore these snapshots. */
export interface Recovery {
  record: RolloutRecord;
  /** Snapshots to restore (the agent is stopped: fleetd just started), in order. */
  restore: Array<{ address: string; snapshot: string }>;
  /** For the log: what was decided, per agent. */
  notes: string[];
}

/** Applies the resume rule (top of file) to a record found at start-up. */
export function recoverRollout(found: RolloutRecord, now: number): Recovery {
  const record: RolloutRecord = structuredClone(found);
  const restore: Recovery['restore'] = [];
  const notes: string[] = [];
  for (const a of record.agents) {
    if (a.phase === 'rolling-back') {
      if (a.snapshot) restore.push({ address: a.address, snapshot: a.snapshot });
      a.phase = 'rolled-back';
      a.finishedAt = now;
      notes.push(`${a.address}: rollback finished after the fleetd restart (${a.snapshot ? 'snapshot restored, ' : ''}back on ${a.from})`);
      if (record.failure && record.failure.address === a.address) record.failure.rolledBack = true;
      continue;
    }
    if (!IN_FLIGHT.has(a.phase) || !isActive(record)) continue;
    if (a.snapshot && NEW_RUNTIME_RAN.has(a.phase)) {
      restore.push({ address: a.address, snapshot: a.snapshot });
      notes.push(`${a.address}: was starting on ${a.to} when fleetd stopped, not yet verified: snapshot restored, back on ${a.from}, will be tried again`);
    } else {
      notes.push(`${a.address}: was in ${a.phase} when fleetd stopped, before ${a.to} ran: back on ${a.from}, will be tried again`);
    }
    Object.assign(a, { phase: 'pending' as AgentPhase, snapshot: null, wasReady: null, preflight: null, cause: null, startedAt: null, finishedAt: null });
  }
  record.updatedAt = now;
  return { record, restore, notes };
}
