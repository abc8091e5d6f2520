// POST /v1/fleets/:fleet/stop, /v1/fleets/:fleet/start, /v1/stop, /v1/start: every agent of
// a fleet, or of fleetd, stopped or started at once (daemon/bulk-ops.ts). With ?progress=1:
// NDJSON, one `{ progress }` line per agent as it ends, then `{ result }`.
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { progressAnswer } from './progress-answer.js';

/** `fleetctl stop fleet F`. */
export const stopFleetHandler = (ctx: DaemonContext): Handler<'stopFleet'> => async ({ params, body, query }) =>
  progressAnswer(query, (onProgress) => ctx.fleet.stopMany(params.fleet!, stopOptions(body), onProgress));

/** `fleetctl start fleet F`. */
export const startFleetHandler = (ctx: DaemonContext): Handler<'startFleet'> => async ({ params, body, query }) =>
  progressAnswer(query, (onProgress) => ctx.fleet.startMany(params.fleet!, { wait: body.wait }, onProgress));

/** `fleetctl stop --all`. */
export const stopAllHandler = (ctx: DaemonContext): Handler<'stopAll'> => async ({ body, query }) =>
  progressAnswer(query, (onProgress) => ctx.fleet.stopMany(undefined, stopOptions(body), onProgress));

/** `fleetctl start --all`. */
export const startAllHandler = (ctx: DaemonContext): Handler<'startAll'> => async ({ body, query }) =>
  progressAnswer(query, (onProgress) => ctx.fleet.startMany(undefined, { wait: body.wait }, onProgress));

/** The stop options of a request body. */
function stopOptions(body: { timeoutMs?: number | undefined }): { timeoutMs?: number } {
  return body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs };
}
