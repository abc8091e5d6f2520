import { pruneRuntimes } from '../../runtime/index.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { versionsInUse } from './runtime-usage.js';

/** POST /v1/runtimes/prune. */
export const pruneRuntimesHandler = (ctx: DaemonContext): Handler<'pruneRuntimes'> => async () =>
  ctx.fleet.queue.run(async () => {
    const used = versionsInUse(ctx);
    const removed = await pruneRuntimes(ctx.fleet.manifest.runtimesDir, new Set(used.keys()));
    return { removed, kept: [...used.keys()].sort() };
  });
