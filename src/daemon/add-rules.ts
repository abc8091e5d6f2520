// `fleetctl add agent` takes a config and env outside the manifest; they go through the same
// rules as a manifest's (managed keys, reserved env names, browser ports), with the problems
// named by the flag that set them (`--set gateway.port: managed by fleetd, remove it`).
import { checkRules } from '../manifest/rules.js';
import { formatPath } from '../util/zod-path.js';
import type { EnvValue } from '../secrets/refs.js';

/** Validates an added agent's config/env with the manifest rules; returns readable problems (none: empty). */
export function checkAddedAgent(ports: unknown, fleet: string, agent: string, config: Record<string, unknown>, env: Record<string, EnvValue>): string[] {
  const problems = checkRules({ version: 1, ports, fleets: { [fleet]: { agents: { [agent]: { config, env } } } } });
  return problems.map((p) => {
    const [, , , , kind, ...rest] = p.path;
    const flag = kind === 'env' ? '--env' : '--set';
    return `${flag} ${formatPath(rest.length ? rest : p.path)}: ${p.message}`;
  });
}
