import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { enabledSlot, expectRunning, setDesired } from './agent-control.js';

/** POST /v1/agents/:fleet/:agent/start: starts a stopped or failed agent; it stays wanted across fleetd restarts. */
export const startAgentHandler = (ctx: DaemonContext): Handler<'startAgent'> => async ({ params, body }) =>
  ctx.fleet.queue.run(async () => {
    const { address, slot } = enabledSlot(ctx, params);
    await setDesired(ctx, address, 'running');
    const state = slot.runner?.status().state;
    if (state !== 'running' && state !== 'starting') {
      const status = await ctx.fleet.launch(slot, 'start');
      if (body.wait) expectRunning(address, status, ctx);
    }
    return { agent: ctx.fleet.viewOf(address) };
  });
