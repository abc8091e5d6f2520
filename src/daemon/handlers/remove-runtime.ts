import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** DELETE /v1/runtimes/:version: removes one installed version no agent uses. */
export const removeRuntimeHandler = (ctx: DaemonContext): Handler<'removeRuntime'> => async ({ params }) => ({ removed: await ctx.runtimes.remove(params.version!) });
