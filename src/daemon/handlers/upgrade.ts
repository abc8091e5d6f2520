// POST /v1/upgrade: `fleetctl upgrade FLEET[/AGENT] --to VERSION [--node V] [--dry-run]`.
// NDJSON: the rollout's `{ progress }` lines as they happen, then `{ result }` once it has
// finished (or at once for a dry run or when nothing needs a restart), or `{ error }`. The
// rollout belongs to fleetd: a client that goes away does not stop it.
import { toFleetError } from '../../errors.js';
import { createPushStream } from '../../util/push-stream.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** The upgrade route. */
export const upgradeHandler = (ctx: DaemonContext): Handler<'upgrade'> => async ({ body, signal }) => {
  const out = createPushStream<unknown>({ limit: 10_000, signal });
  // one rollout runs at a time: every progress line until it settles is this one's
  const off = ctx.upgrades.subscribe((p) => out.push({ progress: p }));
  void (async () => {
    try {
      const answer = await ctx.upgrades.upgrade({ target: body.target, to: body.to, ...(body.node ? { node: body.node } : {}), dryRun: body.dryRun, restore: body.restore });
      const final = answer.dryRun ? answer.rollout : ((await ctx.upgrades.settled(answer.rollout.id)) ?? answer.rollout);
      out.push({ result: { ...answer, rollout: final } });
    } catch (err) {
      const e = toFleetError(err);
      out.push({ error: { code: e.code, message: e.message } });
    } finally {
      off();
      out.end();
    }
  })();
  return { stream: out };
};
