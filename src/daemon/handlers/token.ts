import { toAddress } from '../../manifest/ids.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** GET /v1/agents/:fleet/:agent/token: the one route that reveals a token. */
export const tokenHandler = (ctx: DaemonContext): Handler<'token'> => async ({ params }) => {
  const address = toAddress(params.fleet!, params.agent!);
  const token = ctx.fleet.token(address);
  ctx.logger.info({ agent: address }, 'token requested');
  return { address, token };
};
