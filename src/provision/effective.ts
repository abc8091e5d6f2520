// What provisioning WOULD write and launch for an agent, computed without touching the
// disk. The daemon uses it to hash every agent before planning (so `reload --dry-run`
// writes nothing); provisionAgent uses it and then writes. Secret references stay
// references here: their values are read only when a gateway starts.
import { buildGatewayConfig } from '../plan/gateway-config.js';
import { buildGatewayEnv } from '../plan/gateway-env.js';
import { appliedHash } from '../plan/hash.js';
import type { JsonObject } from '../plan/merge.js';
import type { DesiredAgent } from '../plan/types.js';
import { splitEnv, type SecretRef } from '../secrets/refs.js';
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
  /** Values of the secret references, once read (they join the env; never the hash). */
  secretValues?: Readonly<Record<string, string>>;
}

/** An agent's effective files and environment. */
export interface EffectiveAgent {
  paths: AgentPaths;
  /** openclaw.json content fleetd wants, managed keys included (OpenClaw's own keys are merged in at write time). */
  config: JsonObject;
  /** The gateway's complete environment (with the secret values when they were given). */
  env: Record<string, string>;
  /** The secret references of the env, by variable name. */
  secretEnv: Record<string, SecretRef>;
  /** appliedHash of config + env (references, not values) + launch. */
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
  const { plain, secrets } = splitEnv(desired.env);
  const base = { parentEnv: input.parentEnv, home: paths.home, fleet: desired.fleet, agent: desired.agent, port: input.port };
  const hashed = buildGatewayEnv({ ...base, layers: [plain] });
  const env = input.secretValues ? buildGatewayEnv({ ...base, layers: [plain, input.secretValues] }) : hashed;
  return { paths, config, env, secretEnv: secrets, hash: appliedHash({ config, env: { ...hashed, ...secrets }, launch: desired.isolation ? { ...desired.launch, isolation: desired.isolation } : desired.launch }) };
}

// A runner is made with a launch spec before its first launch prepares one (daemon/agent.ts
// previewSpec): it needs the paths and the environment only. effectiveAgent also builds the
// config and hashes it with the env and launch (canonical JSON + SHA-256), ~0.17 ms an
// agent: 35 ms of a first start at N = 200 spent on a hash nobody read (CPU profile, issue 14).
/** The paths and environment effectiveAgent would give (no config, no hash; pure); secret values are not read here. */
export function effectiveEnv(input: Omit<EffectiveInput, 'secretValues' | 'hooksToken' | 'token' | 'blockSize'>): Pick<EffectiveAgent, 'paths' | 'env'> {
  const { desired } = input;
  const paths = agentPaths(input.stateDir, desired.fleet, desired.agent);
  const { plain } = splitEnv(desired.env);
  return { paths, env: buildGatewayEnv({ parentEnv: input.parentEnv, home: paths.home, fleet: desired.fleet, agent: desired.agent, port: input.port, layers: [plain] }) };
}
