import { toFleetError } from '../../errors.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Re-reads the manifest and applies (or, dry, only reports) the plan, answering once each reconfigure has its outcome; an invalid or unreloadable manifest changes nothing. */
export async function reload(ctx: DaemonContext, dryRun: boolean) {
  try {
    const result = await ctx.fleet.reload(ctx.readManifest, { dryRun }); // MANIFEST_INVALID: nothing applied
    ctx.logger.info({ dryRun, actions: result.actions.length }, dryRun ? 'reload planned (dry run)' : 'manifest reloaded');
    if (!dryRun) ctx.events.publish({ type: 'fleet.reload', applied: true, actions: result.actions.map((a) => `${a.kind} ${a.address}: ${a.reason}`), error: null });
    // Outside the fleet's membership section: other adds, removes and reloads go on meanwhile.
    const reconfigured = await result.reconfigured;
    return { applied: !dryRun, actions: result.actions, skippedPorts: result.skippedPorts, reconfigured };
  } catch (err) {
    if (!dryRun) ctx.events.publish({ type: 'fleet.reload', applied: false, actions: [], error: toFleetError(err).message });
    throw err;
  }
}

/** POST /v1/reload. */
export const reloadHandler = (ctx: DaemonContext): Handler<'reload'> => async ({ body }) => reload(ctx, body.dryRun);
