// Provisioning of one agent: its home tree (0700), its openclaw.json (0600, rewritten only
// when changed) and the environment its gateway gets. Idempotent: run before every start.
import { FleetError, isTransientErrno } from '../errors.js';
import type { DesiredAgent, RegistryEntry } from '../plan/types.js';
import type { JsonObject } from '../plan/merge.js';
import { effectiveAgent } from './effective.js';
import { ensureHome, ensureSupervisorDir } from './home.js';
import { writeConfigIfChanged } from './write-config.js';

/** Inputs of provisionAgent. */
export interface ProvisionInput {
  stateDir: string;
  desired: DesiredAgent;
  /** The agent's registry entry (port, token, hooks token when it is called). */
  entry: Pick<RegistryEntry, 'port' | 'token' | 'hooksToken'>;
  blockSize: number;
  /** The supervisor's environment; default process.env (only PATH, LANG, TZ are used). */
  parentEnv?: Readonly<Record<string, string | undefined>>;
}

/** What a runner needs from provisioning. */
export interface ProvisionedAgent {
  home: string;
  configPath: string;
  /** `<stateDir>/agents/<fleet>/<agent>/gateway.log` (captured stdout/stderr). */
  logFile: string;
  config: JsonObject;
  env: Record<string, string>;
  /** appliedHash of this config + env + launch (store it in the registry once started). */
  hash: string;
  /** True when openclaw.json was (re)written. */
  configWritten: boolean;
}

/** Creates or repairs an agent's home and openclaw.json; returns its paths, config and env. */
export async function provisionAgent(input: ProvisionInput): Promise<ProvisionedAgent> {
  const effective = effectiveAgent({
    stateDir: input.stateDir,
    desired: input.desired,
    port: input.entry.port,
    token: input.entry.token,
    hooksToken: input.entry.hooksToken,
    blockSize: input.blockSize,
    parentEnv: input.parentEnv ?? process.env,
  });
  const { paths } = effective;
  let configWritten: boolean;
  try {
    await ensureHome(input.stateDir, input.desired.fleet, paths);
    await ensureSupervisorDir(input.stateDir, input.desired.fleet, paths);
    configWritten = await writeConfigIfChanged(paths.configPath, effective.config);
  } catch (err) {
    if (err instanceof FleetError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new FleetError('PROVISION_FAILED', `cannot provision ${input.desired.address} in ${paths.home}: ${message}`, { cause: err, transient: isTransientErrno(err) });
  }
  return {
    home: paths.home,
    configPath: paths.configPath,
    logFile: paths.logFile,
    config: effective.config,
    env: effective.env,
    hash: effective.hash,
    configWritten,
  };
}
