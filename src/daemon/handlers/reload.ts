import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Re-reads the manifest and applies (or, dry, only reports) the plan; an invalid or unreloadable manifest changes nothing. */
export async function reload(ctx: DaemonContext, dryRun: boolean) {
  const next = await ctx.readManifest(); // MANIFEST_INVALID: nothing applied
  const result = await ctx.fleet.reload(next, { dryRun });
  ctx.logger.info({ dryRun, actions: result.actions.length }, dryRun ? 'reload planned (dry run)' : 'manifest reloaded');
  return { applied: !dryRun, actions: result.actions, skippedPorts: result.skippedPorts };
}

/** POST /v1/reload. */
export const reloadHandler = (ctx: DaemonContext): Handler<'reload'> => async ({ body }) => reload(ctx, body.dryRun);
