import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { finishFederation } from '../federation.js';
import { reload } from './reload.js';

/** reload() followed, when applied, by the federation step (token rotations, mailboxes, address books); its actions are added. */
export async function reloadFederated(ctx: DaemonContext, dryRun: boolean) {
  const result = await reload(ctx, dryRun);
  if (dryRun) return result;
  const extra = await ctx.fleet.queue.run(() => finishFederation(ctx.fleet, ctx.logger));
  return { ...result, actions: [...result.actions, ...extra] };
}

/** POST /v1/reload, with the federation step. */
export const federatedReloadHandler = (ctx: DaemonContext): Handler<'reload'> => async ({ body }) => reloadFederated(ctx, body.dryRun);
