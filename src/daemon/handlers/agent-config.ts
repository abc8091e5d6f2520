// GET /v1/agents/:fleet/:agent/config and .../config/diff: the agent's openclaw.json
// (tokens and secrets redacted) and what OpenClaw changed beyond the manifest.
import { agentFacts, redactionSetOf } from '../agent-facts.js';
import { diffConfig, showConfig } from '../config-view.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** The config show route. */
export const configShowHandler = (ctx: DaemonContext): Handler<'configShow'> => async ({ params }) => {
  const parentEnv = ctx.fleet.parentEnv;
  const facts = agentFacts(ctx.fleet, params.fleet!, params.agent!);
  return showConfig(facts, await redactionSetOf(facts, parentEnv));
};

/** The config diff route. */
export const configDiffHandler = (ctx: DaemonContext): Handler<'configDiff'> => async ({ params }) => {
  const parentEnv = ctx.fleet.parentEnv;
  const facts = agentFacts(ctx.fleet, params.fleet!, params.agent!);
  return diffConfig(facts, await redactionSetOf(facts, parentEnv));
};
