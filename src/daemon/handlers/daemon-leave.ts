// POST /v1/daemon/restart and /v1/daemon/stop: fleetd answers, then leaves. A restart leaves
// every gateway running under its shim for the next fleetd to adopt (under systemd the unit
// starts fleetd again; by hand fleetd starts its successor itself); a stop is SIGTERM's.
import { FleetError, toFleetError } from '../../errors.js';
import { underSystemd } from '../systemd-job.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** The answer of both routes; a restart whose successor would not start or not adopt the gateways (ctx.checkSuccessor) is refused with that error's code, and nothing changes. */
async function leaving(ctx: DaemonContext, how: 'restart' | 'stop') {
  if (!ctx.leave) throw new FleetError('INTERNAL', 'this fleetd cannot be restarted or stopped over its socket');
  if (how === 'restart' && ctx.checkSuccessor) {
    try {
      await ctx.checkSuccessor();
    } catch (err) {
      const why = toFleetError(err);
      throw new FleetError(why.code, `restart refused: ${why.message}. This fleetd runs on and every gateway with it; nothing changed`, { cause: err });
    }
  }
  const gateways = ctx.fleet.gateways();
  const next =
    how === 'stop'
      ? 'every gateway is stopped, then fleetd exits'
      : underSystemd()
        ? 'fleetd exits and systemd starts it again; the new fleetd adopts every running gateway'
        : 'fleetd starts its successor (same command line and output), then exits; the successor adopts every running gateway';
  ctx.leave(how);
  return { pid: process.pid, leaving: how, gateways, next };
}

/** The restart route. */
export const daemonRestartHandler = (ctx: DaemonContext): Handler<'daemonRestart'> => async () => leaving(ctx, 'restart');

/** The stop route. */
export const daemonStopHandler = (ctx: DaemonContext): Handler<'daemonStop'> => async () => leaving(ctx, 'stop');
