import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** GET /v1/agents: every agent's state, and fleetd's own facts. */
export const statusHandler = (ctx: DaemonContext): Handler<'status'> => async () => ({ daemon: ctx.daemonView(), agents: await ctx.fleet.statusViews() });
