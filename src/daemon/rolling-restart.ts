// `fleetctl restart fleet F`: one agent at a time, in address order, each running again
// before the next; the first that does not come back stops the rollout. Agents the manifest
// disables, or the operator stopped, are skipped and say which. An agent the operator stops
// while its turn is under way is reported as skipped (that stop is the operator's choice,
// not a failure) and the rollout goes on. Stops and starts of any agent, of this fleet or
// another, are never held by it: it acts on one agent at a time, through that agent.
import type { AgentView } from '../protocol/schemas.js';
import type { Agent } from './agent.js';
import type { Logger } from './logger.js';

/** One step, as it happens. */
export interface RollingProgress {
  address: string;
  /** `restarting` when its turn begins, then one of the outcomes. */
  step: 'restarting' | 'restarted' | 'skipped' | 'failed';
  reason: string;
}

/** The whole rollout. */
export interface RollingResult {
  fleet: string;
  restarted: string[];
  failed: { address: string; reason: string } | null;
  skipped: string[];
  /** Every outcome with its reason, in order (skipped ones say why). */
  steps: Array<Omit<RollingProgress, 'step'> & { step: 'restarted' | 'skipped' | 'failed' }>;
}

/** What the rollout needs of the fleet. */
export interface RollingOptions {
  timeoutMs?: number;
  /** False once the agent was removed from the fleet meanwhile. */
  isMember: (agent: Agent) => boolean;
  view: (address: string) => AgentView;
}

/** Restarts `members` one by one; see the file comment. */
export async function runRollingRestart(fleet: string, members: readonly Agent[], options: RollingOptions, onProgress: (p: RollingProgress) => void, log: Logger): Promise<RollingResult> {
  const result: RollingResult = { fleet, restarted: [], failed: null, skipped: [], steps: [] };
  const report = (address: string, step: RollingResult['steps'][number]['step'], reason: string) => {
    result.steps.push({ address, step, reason });
    if (step === 'restarted') result.restarted.push(address);
    else if (step === 'skipped') result.skipped.push(address);
    else result.failed = { address, reason };
    onProgress({ address, step, reason });
  };
  for (const agent of members) {
    const address = agent.address;
    if (!options.isMember(agent)) {
      report(address, 'skipped', 'removed from the fleet while the rolling restart ran');
      continue;
    }
    if (!agent.desired.enabled) {
      report(address, 'skipped', 'disabled in the manifest');
      continue;
    }
    if (operatorWish(agent) === 'stopped') {
      report(address, 'skipped', 'stopped by the operator');
      continue;
    }
    onProgress({ address, step: 'restarting', reason: 'its turn' });
    log.info({ agent: address, fleet }, 'rolling restart: restarting');
    const status = await agent.relaunch({ reason: `rolling restart of fleet ${fleet}`, wait: true, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
    if (status.state === 'running') {
      report(address, 'restarted', `running again as pid ${status.pid}`);
      continue;
    }
    if (operatorWish(agent) === 'stopped' || !options.isMember(agent)) {
      report(address, 'skipped', 'stopped by the operator while its restart ran');
      continue;
    }
    const view = options.view(address);
    log.error({ agent: address, state: view.state }, 'rolling restart stopped: agent did not come back');
    report(address, 'failed', `${view.state}: ${view.reason}`);
    break;
  }
  return result;
}

/** What the operator wants of the agent now (read afresh: it may change while a restart runs). */
function operatorWish(agent: Agent): 'running' | 'stopped' | undefined {
  return agent.entry?.desired;
}
