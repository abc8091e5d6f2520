import { toAddress } from '../../manifest/ids.js';
import { FleetError } from '../../errors.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** GET /v1/agents/:fleet/:agent/hooks-token: the one route that reveals a hooks token. */
export const hooksTokenHandler = (ctx: DaemonContext): Handler<'hooksToken'> => async ({ params }) => {
  const address = toAddress(params.fleet!, params.agent!);
  const entry = ctx.fleet.registry.agents[address];
  if (!entry) throw new FleetError('NOT_FOUND', `no agent ${address}; \`fleetctl status\` lists the agents`);
  if (!entry.hooksToken) {
    throw new FleetError('NOT_FOUND', `${address} has no hooks token: no agent calls it. List it in another agent's "calls" in the manifest and run \`fleetctl reload\``);
  }
  ctx.logger.info({ agent: address }, 'hooks token requested');
  return { address, token: entry.hooksToken };
};
