// Stop or start many agents at once: every agent of one fleet (`fleetctl stop fleet F`,
// `start fleet F`) or of the whole fleetd (`stop --all`, `start --all`). Each agent gets the
// operator's stop or start, exactly as `stop agent` / `start agent` would give it (the wish
// is recorded, so a stopped agent stays stopped across fleetd restarts), and all of them
// are asked at the same moment: stops run in parallel (each tree within its own stop
// timeout; the /proc scans they poll with are shared), starts are queued on the start
// slots, so at most startConcurrency gateways boot at once. Each agent's outcome is
// reported as it ends, in the order they end.
import { toFleetError } from '../errors.js';
import type { Agent } from './agent.js';
import type { Logger } from './logger.js';

/** One agent's outcome, as it happens. */
export interface BulkStep {
  address: string;
  step: 'stopped' | 'started' | 'starting' | 'skipped' | 'failed';
  reason: string;
}

/** The whole operation. */
export interface BulkResult {
  action: 'stop' | 'start';
  /** `fleet acme`, or `all`. */
  scope: string;
  done: string[];
  skipped: Array<{ address: string; reason: string }>;
  failed: Array<{ address: string; reason: string }>;
  steps: BulkStep[];
}

/** Collects steps into the result and passes each on. */
function recorder(action: BulkResult['action'], scope: string, onProgress: (step: BulkStep) => void) {
  const result: BulkResult = { action, scope, done: [], skipped: [], failed: [], steps: [] };
  const report = (step: BulkStep) => {
    result.steps.push(step);
    if (step.step === 'skipped') result.skipped.push({ address: step.address, reason: step.reason });
    else if (step.step === 'failed') result.failed.push({ address: step.address, reason: step.reason });
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
        const was = before.pid !== null ? `pid ${before.pid} stopped` : before.state === 'stopped' ? 'was already stopped' : `was ${before.state}, nothing running`;
        report({ address: agent.address, step: 'stopped', reason: was });
      } catch (err) {
        report({ address: agent.address, step: 'failed', reason: toFleetError(err).message });
      }
    }),
  );
  log.info({ scope, stopped: result.done.length, failed: result.failed.length }, 'agents stopped');
  return result;
}

/** Operator start of every agent in `members` (disabled ones skipped); with wait, resolves once each is up or has failed. */
export async function startAgents(scope: string, members: readonly Agent[], options: { wait: boolean }, onProgress: (step: BulkStep) => void, log: Logger): Promise<BulkResult> {
  const { result, report } = recorder('start', scope, onProgress);
  log.info({ scope, agents: members.length }, 'starting agents');
  await Promise.all(
    members.map(async (agent) => {
      if (!agent.desired.enabled) return report({ address: agent.address, step: 'skipped', reason: 'disabled in the manifest' });
      const wasRunning = agent.status().state === 'running';
      try {
        const status = await agent.start({ wait: options.wait, reason: `started by the operator (${scope})` });
        if (status.state === 'running') return report({ address: agent.address, step: 'started', reason: `${wasRunning ? 'already running' : 'running'} as pid ${status.pid}` });
        if (!options.wait && status.state === 'starting') return report({ address: agent.address, step: 'starting', reason: status.reason });
        report({ address: agent.address, step: 'failed', reason: `${status.state}: ${status.reason}` });
      } catch (err) {
        report({ address: agent.address, step: 'failed', reason: toFleetError(err).message });
      }
    }),
  );
  log.info({ scope, started: result.done.length, failed: result.failed.length, skipped: result.skipped.length }, 'agents started');
  return result;
}
