import { toAddress } from '../../manifest/ids.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** POST /v1/agents/:fleet/:agent/start: starts a stopped or failed agent; it stays wanted across fleetd restarts. With wait: false, answers at once. */
export const startAgentHandler = (ctx: DaemonContext): Handler<'startAgent'> => async ({ params, body }) => ({
  agent: await ctx.fleet.start(toAddress(params.fleet!, params.agent!), { wait: body.wait }),
});
