// GET /v1/upgrade: the active (or last) rollout, the pins `fleetctl upgrade` set, recent rollouts.
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** The upgrade status route. */
export const upgradeStatusHandler = (ctx: DaemonContext): Handler<'upgradeStatus'> => async () => ctx.upgrades.status();
