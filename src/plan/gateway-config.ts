// openclaw.json of one agent: the manifest's layers merged, then the keys fleetd manages
// (port, bind, token, log file, workspace) laid on top so nothing in a manifest can move
// a gateway off its block, off loopback, or onto another agent's files.
import { join } from 'node:path';
import { BROWSER_MIN_BLOCK_SIZE } from '../manifest/rules.js';
import { applyFederation, type DesiredFederation } from './federation.js';
import { deepMerge, isPlainObject, type JsonObject } from './merge.js';

/** Inputs of buildGatewayConfig. */
export interface GatewayConfigInput {
  /** The merged manifest fragment (DesiredAgent.config). */
  config: JsonObject;
  /** The agent's home (`<stateDir>/fleets/<fleet>/<agent>`). */
  home: string;
  port: number;
  token: string;
  /** ports.blockSize of the manifest. */
  blockSize: number;
  /** The agent's federation (DesiredAgent.federation): hooks when called, knowledge folders. */
  federation?: DesiredFederation;
  /** Its hooks token from the registry, used when `federation` carries none yet (an agent made in this reconcile). */
  hooksToken?: string;
}

/** The keys fleetd owns in openclaw.json; they win over every manifest layer. */
export function managedConfig(input: Pick<GatewayConfigInput, 'home' | 'port' | 'blockSize'>): JsonObject {
  const managed: JsonObject = {
    gateway: { mode: 'local', port: input.port, bind: 'loopback' },
    logging: { file: join(input.home, 'logs', 'openclaw.log') },
    agents: { defaults: { workspace: join(input.home, 'workspace') } },
  };
  // With blocks under 120 ports the browser's control/CDP ports would reach into the next block.
  if (input.blockSize < BROWSER_MIN_BLOCK_SIZE) managed['browser'] = { enabled: false };
  return managed;
}

/** Builds the effective openclaw.json content of one agent (pure). */
export function buildGatewayConfig(input: GatewayConfigInput): JsonObject {
  const merged = deepMerge(applyFederation(input.config, input.federation, input.hooksToken), managedConfig(input));
  // auth is replaced as a whole, not merged: a stray `password` or `mode` below it must not survive.
  const gateway = merged['gateway'];
  if (isPlainObject(gateway)) gateway['auth'] = { mode: 'token', token: input.token };
  return merged;
}

/** Renders openclaw.json text: plain JSON (valid JSON5), 2-space indent, final newline. */
export function renderGatewayConfig(config: JsonObject): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}
