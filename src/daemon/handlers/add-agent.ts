// POST /v1/agents: `fleetctl add agent FLEET/AGENT --set ... --env ...`. The agent's config
// and env go through the same rules as a manifest's (managed keys, reserved env names,
// browser ports), it gets a block and a token, and it persists in the registry.
import { FleetError } from '../../errors.js';
import { toAddress } from '../../manifest/ids.js';
import { formatPath } from '../../manifest/render-issues.js';
import { checkRules } from '../../manifest/rules.js';
import { desiredAgents, launchOf } from '../../plan/desired.js';
import type { DesiredAgent, PlanAction } from '../../plan/types.js';
import { ensureEntry } from '../../provision/ensure-entry.js';
import type { EnvValue } from '../../secrets/refs.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Validates an added agent's config/env with the manifest rules; returns readable problems. */
export function checkAddedAgent(ports: unknown, fleet: string, agent: string, config: Record<string, unknown>, env: Record<string, EnvValue>): string[] {
  const problems = checkRules({ version: 1, ports, fleets: { [fleet]: { agents: { [agent]: { config, env } } } } });
  return problems.map((p) => {
    const [, , , , kind, ...rest] = p.path;
    const flag = kind === 'env' ? '--env' : '--set';
    return `${flag} ${formatPath(rest.length ? rest : p.path)}: ${p.message}`;
  });
}

/** Adds, provisions and (unless start: false) starts a new agent. */
export const addAgentHandler = (ctx: DaemonContext): Handler<'addAgent'> => async ({ body }) =>
  ctx.fleet.queue.run(async () => {
    const { fleet } = ctx;
    const m = fleet.manifest;
    const address = toAddress(body.fleet, body.agent);
    if (m.fleets[body.fleet]?.agents[body.agent]) {
      throw new FleetError('CONFLICT', `${address} is declared in the manifest ${m.manifestPath}; change it there and run \`fleetctl reload\``);
    }
    const existing = fleet.registry.agents[address];
    if (existing) throw new FleetError('CONFLICT', `${address} already exists (added ${existing.createdAt}); \`fleetctl remove agent ${address}\` first to replace it`);
    const problems = checkAddedAgent(m.ports, body.fleet, body.agent, body.config, body.env);
    if (problems.length > 0) throw new FleetError('BAD_REQUEST', `cannot add ${address}:\n${problems.join('\n')}`, { details: { problems } });

    const skippedPorts: number[] = [];
    await fleet.persist(async (r) => {
      const stub: DesiredAgent = { address, fleet: body.fleet, agent: body.agent, source: 'cli', enabled: true, config: {}, env: {}, launch: launchOf(m, body.fleet, body.agent) };
      const ensured = await ensureEntry(r, stub, { ports: m.ports, now: () => new Date(ctx.now()), spec: { config: body.config, env: body.env } });
      ensured.entry.desired = body.start ? 'running' : 'stopped';
      for (const skip of ensured.skipped) {
        skippedPorts.push(skip.port);
        ctx.logger.warn({ agent: address, port: skip.port, block: skip.block }, 'port block skipped: its gateway port is in use by another process');
      }
    });
    const desired = desiredAgents(m, fleet.registry).find((d) => d.address === address)!;
    const slot = { desired };
    fleet.slots.set(address, slot);
    ctx.logger.info({ agent: address, port: fleet.registry.agents[address]?.port, skippedPorts }, 'agent added');
    const actions: PlanAction[] = [{ kind: 'provision', address, reason: 'added with fleetctl' }];
    if (body.start) {
      actions.push({ kind: 'start', address, reason: 'added with fleetctl' });
      await fleet.launch(slot, 'start');
    } else {
      await fleet.provisionOnly(slot);
    }
    return { agent: fleet.viewOf(address), actions, skippedPorts };
  });
