// Stop or start many agents at once: every agent of one fleet (`fleetctl stop fleet F`,
// `start fleet F`) or of the whole fleetd (`stop --all`, `start --all`). Each agent gets the
// operator's stop or start, exactly as `stop agent` / `start agent` would give it (the wish
// is recorded, so a stopped agent stays stopped across fleetd restarts), and all of them
// are asked at the same moment: stops run in parallel (each tree within its own stop
// timeout; the /proc scans they poll with are shared), starts are queued on the start
// slots, so at most startConcurrency gateways boot at once. Each agent's outcome is
// reported as it ends, in the order they end.
//
// Both run inside the fleet's membership section (fleet.ts `exclusive`), like a rollout's
// stop-snapshot-start or a reload: the set of agents is the one the section sees, a
// rollout step is never cut in half (a start --all never starts an agent whose state a
// rollout is snapshotting), and no plan starts an agent while stop --all takes it down.
// A stop holds the section until every tree is down (bounded by the stop timeouts, as a
// rollout's stop is); a start holds it only while the starts are asked for, and waits for
// the boots outside it (as a rollout waits for health outside it), so a reload is never
// held for a whole boot. A rolling restart holds no section (per-agent operations go
// through at once); it reads each agent's wish when its turn comes, so the agents a bulk
// stop took down are skipped as "stopped by the operator".
import { toFleetError } from '../errors.js';
import type { Agent } from './agent.js';
import type { Logger } from './logger.js';

/** One agent's outcome, as it happens. */
export interface BulkStep {
  address: string;
  step: 'stopped' | 'started' | 'starting' | 'skipped' | 'failed';
  reason: string;
  /** Already stopped (a stop) or running (a start) before this command: it changed nothing. */
  already?: boolean;
}

/** The whole operation. */
export interface BulkResult {
  action: 'stop' | 'start';
  /** `fleet acme`, or `all`. */
  scope: string;
  /** Agents this command stopped or started. */
  done: string[];
  /** Agents that already were in the state asked for (not in `done`). */
  already: string[];
  skipped: Array<{ address: string; reason: string }>;
  failed: Array<{ address: string; reason: string }>;
  steps: BulkStep[];
}

/** What the bulk commands need of the fleet (fleet.ts passes its own). */
export interface BulkFleet {
  /** The agents of `fleet` (every agent when undefined), sorted by address; NOT_FOUND for a fleet with none. */
  membersOf(fleet: string | undefined): Agent[];
  /** Runs `job` inside the membership section (no add, remove, reload or rollout step meanwhile). */
  exclusive<T>(job: () => Promise<T>): Promise<T>;
  log: Logger;
}

/** stopMany and startMany of the fleet's command API (fleet.ts spreads them into it). */
export function bulkCommands(f: BulkFleet) {
  return {
    /** Operator stop of every agent of `fleet` (undefined: of all fleets), all at once, inside the membership section; each outcome reported as it ends. NOT_FOUND for an unknown fleet. */
    stopMany(fleet: string | undefined, options: { timeoutMs?: number } = {}, onProgress: (step: BulkStep) => void = () => {}): Promise<BulkResult> {
      f.membersOf(fleet); // NOT_FOUND now, as an answer, not as a line of a stream
      return f.exclusive(() => stopAgents(scopeOf(fleet), f.membersOf(fleet), options, onProgress, f.log));
    },

    /** Operator start of every enabled agent of `fleet` (undefined: of all fleets), at most startConcurrency booting at once; with wait, until each is up or failed. NOT_FOUND for an unknown fleet. */
    startMany(fleet: string | undefined, options: { wait: boolean }, onProgress: (step: BulkStep) => void = () => {}): Promise<BulkResult> {
      f.membersOf(fleet);
      return startAgents(scopeOf(fleet), () => f.membersOf(fleet), f.exclusive, options, onProgress, f.log);
    },
  };
}

/** `fleet acme`, or `all`. */
function scopeOf(fleet: string | undefined): string {
  return fleet === undefined ? 'all' : `fleet ${fleet}`;
}

/** Collects steps into the result and passes each on. */
function recorder(action: BulkResult['action'], scope: string, onProgress: (step: BulkStep) => void) {
  const result: BulkResult = { action, scope, done: [], already: [], skipped: [], failed: [], steps: [] };
  const report = (step: BulkStep) => {
    result.steps.push(step);
    if (step.step === 'skipped') result.skipped.push({ address: step.address, reason: step.reason });
    else if (step.step === 'failed') result.failed.push({ address: step.address, reason: step.reason });
    else if (step.already) result.already.push(step.address);
    else result.done.push(step.address);
    onProgress(step);
  };
  return { result, report };
}

/** Operator stop of every agent in `members`, all at once; resolves when every tree is down. */
export async function stopAgents(scope: string, members: readonly Agent[], options: { timeoutMs?: number }, onProgress: (step: BulkStep) => void, log: Logger): Promise<BulkResult> {
  const { result, report } = recorder('stop', scope, onProgress);
  log.info({ scope, agents: members.length }, 'stopping agents');
  await Promise.all(
    members.map(async (agent) => {
      const before = agent.status();
      try {
        const status = await agent.stop({ reason: `stopped by the operator (${scope})`, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
        if (status.state !== 'stopped') return report({ address: agent.address, step: 'failed', reason: `${status.state}: ${status.reason}` });
        if (before.pid === null && before.state === 'stopped') return report({ address: agent.address, step: 'stopped', reason: 'was already stopped', already: true });
        report({ address: agent.address, step: 'stopped', reason: before.pid !== null ? `pid ${before.pid} stopped` : `was ${before.state}, nothing running` });
      } catch (err) {
        report({ address: agent.address, step: 'failed', reason: toFleetError(err).message });
      }
    }),
  );
  log.info({ scope, stopped: result.done.length, failed: result.failed.length }, 'agents stopped');
  return result;
}

/**
 * Operator start of every agent `members()` gives inside the section (disabled ones
 * skipped); the starts are asked for inside `exclusive`, the boots awaited outside it. With
 * wait, resolves once each is up or has failed.
 */
export async function startAgents(
  scope: string,
  members: () => readonly Agent[],
  exclusive: BulkFleet['exclusive'],
  options: { wait: boolean },
  onProgress: (step: BulkStep) => void,
  log: Logger,
): Promise<BulkResult> {
  const { result, report } = recorder('start', scope, onProgress);
  const begun = await exclusive(async () => {
    const chosen = members();
    log.info({ scope, agents: chosen.length }, 'starting agents');
    const asked = await Promise.all(
      chosen.map(async (agent) => {
        if (!agent.desired.enabled) return void report({ address: agent.address, step: 'skipped', reason: 'disabled in the manifest' });
        const wasRunning = agent.status().state === 'running';
        try {
          await agent.start({ wait: false, reason: `started by the operator (${scope})` });
          return { agent, wasRunning };
        } catch (err) {
          return void report({ address: agent.address, step: 'failed', reason: toFleetError(err).message });
        }
      }),
    );
    return asked.filter((a) => a !== undefined);
  });
  await Promise.all(
    begun.map(async ({ agent, wasRunning }) => {
      const status = options.wait ? await agent.settled() : agent.status();
      if (status.state === 'running') return report({ address: agent.address, step: 'started', reason: `${wasRunning ? 'already running' : 'running'} as pid ${status.pid}`, ...(wasRunning ? { already: true } : {}) });
      if (!options.wait && status.state === 'starting') return report({ address: agent.address, step: 'starting', reason: status.reason });
      report({ address: agent.address, step: 'failed', reason: `${status.state}: ${status.reason}` });
    }),
  );
  log.info({ scope, started: result.done.length, failed: result.failed.length, skipped: result.skipped.length }, 'agents started');
  return result;
}
