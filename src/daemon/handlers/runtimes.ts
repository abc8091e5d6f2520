import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** GET /v1/runtimes. */
export const runtimesHandler = (ctx: DaemonContext): Handler<'runtimes'> => async () => ({ runtimes: await ctx.runtimes.list() });
