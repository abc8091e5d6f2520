import { toAddress } from '../../manifest/ids.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { setDesired } from './agent-control.js';

/** POST /v1/agents/:fleet/:agent/stop: SIGTERM, then SIGKILL after the timeout; stays stopped until started. */
export const stopAgentHandler = (ctx: DaemonContext): Handler<'stopAgent'> => async ({ params, body }) =>
  ctx.fleet.queue.run(async () => {
    const address = toAddress(params.fleet!, params.agent!);
    const slot = ctx.fleet.slotOf(address);
    await setDesired(ctx, address, 'stopped');
    if (slot.runner) await slot.runner.stop(body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs });
    slot.pending = undefined;
    ctx.logger.info({ agent: address }, 'agent stopped by the operator');
    return { agent: ctx.fleet.viewOf(address) };
  });
