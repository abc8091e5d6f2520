import { toAddress } from '../../manifest/ids.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** POST /v1/agents/:fleet/:agent/stop: SIGTERM, then SIGKILL after the timeout; stays stopped until started. */
export const stopAgentHandler = (ctx: DaemonContext): Handler<'stopAgent'> => async ({ params, body }) => ({
  agent: await ctx.fleet.stop(toAddress(params.fleet!, params.agent!), body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs }),
});
