// What provisioning WOULD write and launch for an agent, computed without touching the
// disk. The daemon uses it to hash every agent before planning (so `reload --dry-run`
// writes nothing); provisionAgent uses it and then writes.
import { buildGatewayConfig } from '../plan/gateway-config.js';
import { buildGatewayEnv } from '../plan/gateway-env.js';
import { appliedHash } from '../plan/hash.js';
import type { JsonObject } from '../plan/merge.js';
import type { DesiredAgent } from '../plan/types.js';
import { agentPaths, type AgentPaths } from './home.js';

/** Inputs of effectiveAgent. */
export interface EffectiveInput {
  stateDir: string;
  desired: DesiredAgent;
  /** From the agent's registry entry. */
  port: number;
  token: string;
  /** From the agent's registry entry, when it has one (used while desired.federation carries none). */
  hooksToken?: string | undefined;
  blockSize: number;
  /** The supervisor's environment (only PATH, LANG, TZ are taken from it). */
  parentEnv: Readonly<Record<string, string | undefined>>;
}

/** An agent's effective files and environment. */
export interface EffectiveAgent {
  paths: AgentPaths;
  /** openclaw.json content, managed keys included. */
  config: JsonObject;
  /** The gateway's complete environment. */
  env: Record<string, string>;
  /** appliedHash of config + env + launch. */
  hash: string;
}

/** Computes an agent's openclaw.json, env and applied hash (pure). */
export function effectiveAgent(input: EffectiveInput): EffectiveAgent {
  const { desired } = input;
  const paths = agentPaths(input.stateDir, desired.fleet, desired.agent);
  const config = buildGatewayConfig({
    config: desired.config,
    home: paths.home,
    port: input.port,
    token: input.token,
    blockSize: input.blockSize,
    ...(desired.federation ? { federation: desired.federation } : {}),
    ...(input.hooksToken !== undefined ? { hooksToken: input.hooksToken } : {}),
  });
  const env = buildGatewayEnv({
    parentEnv: input.parentEnv,
    home: paths.home,
    fleet: desired.fleet,
    agent: desired.agent,
    port: input.port,
    layers: [desired.env],
  });
  return { paths, config, env, hash: appliedHash({ config, env, launch: desired.launch }) };
}
