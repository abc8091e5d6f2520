import { JsonText, type Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { stringifyRedacted } from '../../supervise/redact.js';

/** GET /v1/agents: every agent's state, and fleetd's own facts (the agents' part from each view's text kept from before: views.ts agentViewsJson). */
export const statusHandler = (ctx: DaemonContext): Handler<'status'> => async () => {
  await ctx.fleet.readyForStatus();
  return new JsonText((secrets) => `{"daemon":${stringifyRedacted(ctx.daemonView(), secrets)},"agents":${ctx.fleet.viewsJson(secrets)}}`);
};
