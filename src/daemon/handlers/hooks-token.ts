import { toAddress } from '../../manifest/ids.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** GET /v1/agents/:fleet/:agent/hooks-token: the one route that reveals a hooks token. */
export const hooksTokenHandler = (ctx: DaemonContext): Handler<'hooksToken'> => async ({ params }) => {
  const address = toAddress(params.fleet!, params.agent!);
  const token = ctx.fleet.hooksToken(address);
  ctx.logger.info({ agent: address }, 'hooks token requested');
  return { address, token };
};
