import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Re-reads the manifest and applies (or, dry, only reports) the plan, answering once each reconfigure has its outcome; an invalid or unreloadable manifest changes nothing. */
export async function reload(ctx: DaemonContext, dryRun: boolean) {
  const next = await ctx.readManifest(); // MANIFEST_INVALID: nothing applied
  const result = await ctx.fleet.reload(next, { dryRun });
  ctx.logger.info({ dryRun, actions: result.actions.length }, dryRun ? 'reload planned (dry run)' : 'manifest reloaded');
  // Outside the fleet's membership section: other adds, removes and reloads go on meanwhile.
  const reconfigured = await result.reconfigured;
  return { applied: !dryRun, actions: result.actions, skippedPorts: result.skippedPorts, reconfigured };
}

/** POST /v1/reload. */
export const reloadHandler = (ctx: DaemonContext): Handler<'reload'> => async ({ body }) => reload(ctx, body.dryRun);
