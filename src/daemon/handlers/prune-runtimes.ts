import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** POST /v1/runtimes/prune. */
export const pruneRuntimesHandler = (ctx: DaemonContext): Handler<'pruneRuntimes'> => async () => ctx.runtimes.prune();
