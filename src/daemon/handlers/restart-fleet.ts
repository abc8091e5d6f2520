import { FleetError } from '../../errors.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** POST /v1/fleets/:fleet/restart: rolling restart, one agent at a time, each healthy before the next. */
export const restartFleetHandler = (ctx: DaemonContext): Handler<'restartFleet'> => async ({ params, body }) =>
  ctx.fleet.queue.run(async () => {
    const fleetId = params.fleet!;
    const slots = [...ctx.fleet.slots.values()].filter((s) => s.desired.fleet === fleetId).sort((a, b) => (a.desired.address < b.desired.address ? -1 : 1));
    if (slots.length === 0) throw new FleetError('NOT_FOUND', `no fleet ${fleetId}; \`fleetctl status\` lists the agents`);
    const restarted: string[] = [];
    const skipped: string[] = [];
    for (const slot of slots) {
      const address = slot.desired.address;
      if (!slot.desired.enabled || ctx.fleet.registry.agents[address]?.desired === 'stopped') {
        skipped.push(address);
        continue;
      }
      ctx.logger.info({ agent: address }, 'rolling restart');
      const status = await ctx.fleet.launch(slot, 'restart', body.timeoutMs);
      if (status?.state !== 'running') {
        const view = ctx.fleet.viewOf(address);
        ctx.logger.error({ agent: address, state: view.state }, 'rolling restart stopped: agent did not come back');
        return { fleet: fleetId, restarted, failed: { address, reason: `${view.state}: ${view.reason}` }, skipped };
      }
      restarted.push(address);
    }
    return { fleet: fleetId, restarted, failed: null, skipped };
  });
