// POST /v1/agents: `fleetctl add agent FLEET/AGENT --set ... --env ...` (rules in add-rules.ts).
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Adds, provisions and (unless start: false) starts a new agent. */
export const addAgentHandler = (ctx: DaemonContext): Handler<'addAgent'> => async ({ body }) => ctx.fleet.add(body);
