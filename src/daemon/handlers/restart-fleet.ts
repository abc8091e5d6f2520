// POST /v1/fleets/:fleet/restart: rolling restart. With ?progress=1 the answer is NDJSON:
// one `{ progress }` line per step as it happens, then `{ result }` (or `{ error }`).
import { FleetError, toFleetError } from '../../errors.js';
import { createPushStream } from '../../util/push-stream.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** The rolling restart route. */
export const restartFleetHandler = (ctx: DaemonContext): Handler<'restartFleet'> => async ({ params, body, query }) => {
  const progress = query.get('progress');
  if (progress !== null && !['0', '1'].includes(progress)) throw new FleetError('BAD_REQUEST', `progress must be 1 or 0, found ${JSON.stringify(progress.slice(0, 40))}`);
  const options = body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs };
  if (progress !== '1') return ctx.fleet.rollingRestart(params.fleet!, options);
  const events = createPushStream<unknown>();
  const done = ctx.fleet.rollingRestart(params.fleet!, options, (step) => events.push({ progress: step })); // NOT_FOUND before any line
  done
    .then((result) => events.push({ result }))
    .catch((err: unknown) => {
      const e = toFleetError(err);
      events.push({ error: { code: e.code, message: e.message } });
    })
    .finally(() => events.end());
  return { stream: events };
};
