// GET /v1/agents/:fleet/:agent/exec: what `fleetctl exec` needs to run a command as the
// agent (env without secret values, cwd, PATH, runtime, user). fleetctl spawns the command
// itself, so the terminal passes through untouched.
import { agentFacts, agentUserOf } from '../agent-facts.js';
import { buildExecSpec } from '../exec-spec.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** The exec spec route; each request is logged (who runs what is the caller's to record). */
export const execSpecHandler = (ctx: DaemonContext): Handler<'execSpec'> => async ({ params }) => {
  const parentEnv = ctx.fleet.parentEnv;
  const facts = agentFacts(ctx.fleet, params.fleet!, params.agent!);
  const spec = await buildExecSpec({ facts, parentEnv, user: agentUserOf(facts) });
  ctx.logger.info({ agent: facts.address, user: spec.user.name }, 'exec spec handed out (fleetctl exec/openclaw)');
  return spec;
};
