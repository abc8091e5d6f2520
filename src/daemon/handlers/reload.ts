import { FleetError } from '../../errors.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Re-reads the manifest and applies (or, dry, only reports) the plan; invalid changes nothing. */
export async function reload(ctx: DaemonContext, dryRun: boolean) {
  return ctx.fleet.queue.run(async () => {
    const next = await ctx.readManifest(); // MANIFEST_INVALID: nothing applied
    const current = ctx.fleet.manifest;
    for (const key of ['stateDir', 'socket', 'socketGroup', 'runtimesDir'] as const) {
      if (next[key] !== current[key]) {
        throw new FleetError('REFUSED', `${key} changed from ${JSON.stringify(current[key] ?? null)} to ${JSON.stringify(next[key] ?? null)}; this needs a restart of fleetd (systemctl restart fleetd), not a reload. Nothing was changed`);
      }
    }
    if (next.ports.base !== current.ports.base || next.ports.blockSize !== current.ports.blockSize) {
      throw new FleetError('REFUSED', `ports.base/ports.blockSize changed (${current.ports.base}/${current.ports.blockSize} -> ${next.ports.base}/${next.ports.blockSize}): every agent's port would move; restart fleetd to apply it. Nothing was changed`);
    }
    const result = await ctx.fleet.reconcile(next, dryRun);
    ctx.logger.info({ dryRun, actions: result.actions.length }, dryRun ? 'reload planned (dry run)' : 'manifest reloaded');
    return { applied: !dryRun, actions: result.actions, skippedPorts: result.skippedPorts };
  });
}

/** POST /v1/reload. */
export const reloadHandler = (ctx: DaemonContext): Handler<'reload'> => async ({ body }) => reload(ctx, body.dryRun);
