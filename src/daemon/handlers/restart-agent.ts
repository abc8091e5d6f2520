import { toAddress } from '../../manifest/ids.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** POST /v1/agents/:fleet/:agent/restart: same port and token, new pid; clears `failed`. With wait: false, answers at once. */
export const restartAgentHandler = (ctx: DaemonContext): Handler<'restartAgent'> => async ({ params, body }) => ({
  agent: await ctx.fleet.restart(toAddress(params.fleet!, params.agent!), { wait: body.wait, ...(body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs }) }),
});
