import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { enabledSlot, expectRunning, setDesired } from './agent-control.js';

/** POST /v1/agents/:fleet/:agent/restart: same port and token, new pid; clears `failed`. */
export const restartAgentHandler = (ctx: DaemonContext): Handler<'restartAgent'> => async ({ params, body }) =>
  ctx.fleet.queue.run(async () => {
    const { address, slot } = enabledSlot(ctx, params);
    await setDesired(ctx, address, 'running');
    ctx.logger.info({ agent: address }, 'restart requested by the operator');
    const status = await ctx.fleet.launch(slot, 'restart', body.timeoutMs);
    if (body.wait) expectRunning(address, status, ctx);
    return { agent: ctx.fleet.viewOf(address) };
  });
