// The common ending of start/stop/restart agent: print the agent (or the raw JSON) and
// fail the run when it did not come back.
import type { AgentView } from '../../protocol/schemas.js';
import { describeAgent, isFailedState } from '../agent-view.js';
import type { CliRun } from '../context.js';
import { note, printJson, printLines } from '../output.js';

/** Prints `<verb> <agent summary>`; exit 1 with a hint when the agent is failed or backing off. */
export function reportAgent(run: CliRun, json: boolean, verb: string, agent: AgentView, raw: unknown): void {
  if (json) printJson(run.deps.io, raw);
  else printLines(run.deps.io, [`${verb} ${describeAgent(agent)}`]);
  if (verb !== 'stopped' && verb !== 'starting' && verb !== 'restarting' && isFailedState(agent)) {
    run.exitCode = 1;
    note(run.deps.io, `fleetctl: ${agent.address} did not come back: ${agent.state}, ${agent.reason} (see fleetctl logs ${agent.address})`);
  }
}
