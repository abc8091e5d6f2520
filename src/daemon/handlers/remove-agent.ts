// DELETE /v1/agents/:fleet/:agent: stops an agent added with fleetctl and frees its block.
// Manifest agents are refused: the manifest is the source of truth for its own agents.
import { FleetError } from '../../errors.js';
import { toAddress } from '../../manifest/ids.js';
import { agentPaths } from '../../provision/home.js';
import { checkPurgeTarget, purgeHome } from '../purge.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Removes an agent; with purge, deletes its home after the containment checks. */
export const removeAgentHandler = (ctx: DaemonContext): Handler<'removeAgent'> => async ({ params, body }) =>
  ctx.fleet.queue.run(async () => {
    const { fleet } = ctx;
    const m = fleet.manifest;
    const address = toAddress(params.fleet!, params.agent!);
    if (m.fleets[params.fleet!]?.agents[params.agent!]) {
      throw new FleetError('REFUSED', `${address} is declared in the manifest ${m.manifestPath}; remove it from there and run \`fleetctl reload\` (its home is kept)`);
    }
    const entry = fleet.registry.agents[address];
    const home = agentPaths(m.stateDir, params.fleet!, params.agent!).home;
    if (!entry) {
      // A home kept by an earlier remove (without --purge) can still be purged.
      const leftover = body.purge ? await checkPurgeTarget(m.stateDir, params.fleet!, params.agent!) : undefined;
      if (!leftover) throw new FleetError('NOT_FOUND', `no agent ${address}${body.purge ? ' and no home of it' : ''}; \`fleetctl status\` lists the agents`);
      await purgeHome(m.stateDir, params.fleet!, params.agent!);
      ctx.logger.info({ agent: address }, 'leftover home purged');
      return { address, purged: true, home, freedPort: null };
    }
    // Check before stopping anything, so a refused purge leaves the agent as it was.
    if (body.purge) await checkPurgeTarget(m.stateDir, params.fleet!, params.agent!);
    const slot = fleet.slots.get(address);
    if (slot?.runner) await slot.runner.stop();
    fleet.slots.delete(address);
    await fleet.persist((r) => {
      delete r.agents[address];
    });
    if (body.purge) await purgeHome(m.stateDir, params.fleet!, params.agent!);
    ctx.logger.info({ agent: address, port: entry.port, purged: body.purge }, 'agent removed');
    return { address, purged: body.purge, home, freedPort: entry.port };
  });
