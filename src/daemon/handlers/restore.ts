// PUT /v1/agents/:fleet/:agent/restore?newToken=1&start=0: the body is an archive made by
// `fleetctl backup`; see daemon/agent-restore.ts for the order of checks.
import { FleetError } from '../../errors.js';
import { restoreAgent } from '../agent-restore.js';
import { parseFlag } from '../query.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** The restore route. */
export const restoreHandler = (ctx: DaemonContext): Handler<'restore'> => async ({ params, query, upload }) => {
  if (!upload) throw new FleetError('BAD_REQUEST', 'restore needs the archive as the request body');
  const options = { newToken: parseFlag('newToken', query.get('newToken')), start: parseFlag('start', query.get('start'), true) };
  return restoreAgent(ctx, params.fleet!, params.agent!, upload, options);
};
