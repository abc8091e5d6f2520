// DELETE /v1/agents/:fleet/:agent: stops an agent added with fleetctl and frees its block.
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Removes an agent; with purge, deletes its home after the containment checks. */
export const removeAgentHandler = (ctx: DaemonContext): Handler<'removeAgent'> => async ({ params, body }) => ctx.fleet.remove(params.fleet!, params.agent!, { purge: body.purge });
