// Provisioning of one agent, run before every start: its home tree (0700), its openclaw.json
// merged (three-way, 0600) with what OpenClaw wrote into it, and the environment its gateway
// gets, secret files read now (a rotated file is picked up by the next start).
import { FleetError, isTransientErrno } from '../errors.js';
import type { ConfigChange } from '../plan/config-merge.js';
import type { DesiredAgent, RegistryEntry } from '../plan/types.js';
import type { JsonObject } from '../plan/merge.js';
import { readSecretEnv } from '../secrets/read.js';
import { applyConfig, type AppliedConfig } from './apply-config.js';
import { effectiveAgent, type EffectiveAgent } from './effective.js';
import { ensureHome, ensureSupervisorDir } from './home.js';
import { renderGatewayConfig } from '../plan/gateway-config.js';

/** Inputs of provisionAgent. */
export interface ProvisionInput {
  stateDir: string;
  desired: DesiredAgent;
  /** The agent's registry entry (port, token, hooks token when it is called). */
  entry: Pick<RegistryEntry, 'port' | 'token' | 'hooksToken'>;
  blockSize: number;
  /** The supervisor's environment; default process.env (PATH, LANG, TZ, and CREDENTIALS_DIRECTORY for credentials). */
  parentEnv?: Readonly<Record<string, string | undefined>>;
  /** The home belongs to a tenant user: hand the tree to it (after the folders are made) and write openclaw.json through held folders, as its file. */
  tenant?: {
    prepareHome: () => void;
    write: (path: string, text: string) => Promise<void>;
  };
}

/** What a runner needs from provisioning. */
export interface ProvisionedAgent {
  home: string;
  configPath: string;
  /** `<stateDir>/agents/<fleet>/<agent>/gateway.log` (captured stdout/stderr). */
  logFile: string;
  /** The config now in openclaw.json (OpenClaw's keys included). */
  config: JsonObject;
  /** The gateway's environment, secret values included (for an enabled agent). */
  env: Record<string, string>;
  /** Values read from secret files: add them to the redaction set of the captured output. */
  secretValues: string[];
  /** appliedHash of the desired config + env (secret references, not values) + launch. */
  hash: string;
  /** True when openclaw.json was (re)written. */
  configWritten: boolean;
  /** Values OpenClaw had written that the manifest or fleetd replaced: log them (values may be secrets: log paths). */
  configOverrides: ConfigChange[];
}

/** Creates or repairs an agent's home and openclaw.json and reads its secrets; returns its paths, config and env. */
export async function provisionAgent(input: ProvisionInput): Promise<ProvisionedAgent> {
  const parentEnv = input.parentEnv ?? process.env;
  const { desired } = input;
  const base = effectiveInputOf(input);
  const effective = effectiveAgent(base);
  const { paths } = effective;
  // A disabled agent is provisioned but never started: its secrets are not needed (nor read).
  const secrets =
    desired.enabled && Object.keys(effective.secretEnv).length > 0
      ? await readSecretEnv(effective.secretEnv, {
          address: desired.address,
          credentialsDir: parentEnv['CREDENTIALS_DIRECTORY'],
          ...(desired.envOrigin ? { origin: desired.envOrigin } : {}),
          reader: `fleetd (uid ${process.getuid?.() ?? '?'})`,
        })
      : undefined;
  const env = secrets ? effectiveAgent({ ...base, secretValues: secrets.env }).env : effective.env;
  const applied = await writeAgentFiles(input, effective);
  return {
    home: paths.home,
    configPath: paths.configPath,
    logFile: paths.logFile,
    config: applied.config,
    env,
    secretValues: secrets?.values ?? [],
    hash: effective.hash,
    configWritten: applied.written,
    configOverrides: applied.overrides,
  };
}

/** What provisionConfig did to openclaw.json. */
export interface ProvisionedConfig {
  configPath: string;
  /** appliedHash of the desired config + env + launch (as provisionAgent computes it). */
  hash: string;
  /** True when openclaw.json was rewritten. */
  written: boolean;
  /** The exact text now in openclaw.json when it was written (what OpenClaw copies to openclaw.json.last-good once it accepts it). */
  text: string | undefined;
  /** Values OpenClaw had written that the manifest or fleetd replaced (log paths only). */
  overrides: ConfigChange[];
}

// For a running gateway (a reconfigure): the same home checks and three-way merge as before a
// start, but no secret file is read (the environment of the running process cannot change).
/** Re-provisions only the home and openclaw.json of an agent. */
export async function provisionConfig(input: ProvisionInput): Promise<ProvisionedConfig> {
  const effective = effectiveAgent(effectiveInputOf(input));
  const applied = await writeAgentFiles(input, effective);
  return { configPath: effective.paths.configPath, hash: effective.hash, written: applied.written, text: applied.written ? renderGatewayConfig(applied.config) : undefined, overrides: applied.overrides };
}

/** The inputs of effectiveAgent for a provisioning request. */
function effectiveInputOf(input: ProvisionInput) {
  return { stateDir: input.stateDir, desired: input.desired, port: input.entry.port, token: input.entry.token, hooksToken: input.entry.hooksToken, blockSize: input.blockSize, parentEnv: input.parentEnv ?? process.env };
}

/** Makes the home and fleetd's folder of the agent, then merges openclaw.json; PROVISION_FAILED (transient when waiting may help). */
async function writeAgentFiles(input: ProvisionInput, effective: EffectiveAgent): Promise<AppliedConfig> {
  const { paths } = effective;
  try {
    await ensureHome(input.stateDir, input.desired.fleet, paths);
    await ensureSupervisorDir(input.stateDir, input.desired.fleet, paths);
    input.tenant?.prepareHome();
    return await applyConfig({ configPath: paths.configPath, appliedPath: paths.appliedConfig, desired: effective.config, ...(input.tenant ? { write: input.tenant.write } : {}) });
  } catch (err) {
    if (err instanceof FleetError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new FleetError('PROVISION_FAILED', `cannot provision ${input.desired.address} in ${paths.home}: ${message}`, { cause: err, transient: isTransientErrno(err) });
  }
}
