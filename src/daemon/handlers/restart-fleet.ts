// POST /v1/fleets/:fleet/restart: rolling restart. With ?progress=1 the answer is NDJSON:
// one `{ progress }` line per step as it happens, then `{ result }` (or `{ error }`).
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { progressAnswer } from './progress-answer.js';

/** The rolling restart route. */
export const restartFleetHandler = (ctx: DaemonContext): Handler<'restartFleet'> => async ({ params, body, query }) => {
  const options = body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs };
  return progressAnswer(query, (onProgress) => ctx.fleet.rollingRestart(params.fleet!, options, onProgress));
};
