// From a provisioned agent to the LaunchSpec its runner gets: the argv (a fixed command or
// a managed OpenClaw runtime), the clean environment, and the manifest's timings.
import type { Manifest } from '../manifest/schema.js';
import type { DesiredAgent, RegistryEntry } from '../plan/types.js';
import type { ProvisionedAgent } from '../provision/provision-agent.js';
import type { Runtime } from '../runtime/types.js';
import { gatewayArgv, runtimePathDir } from '../runtime/index.js';
import type { LaunchSpec } from '../supervise/types.js';

/** Builds the runner's spec; `runtime` is required for `openclaw` launches. */
export function buildLaunchSpec(
  manifest: Manifest,
  desired: DesiredAgent,
  entry: Pick<RegistryEntry, 'port' | 'token'>,
  provisioned: ProvisionedAgent,
  runtime?: Runtime,
  secrets: string[] = [],
): LaunchSpec {
  const env = { ...provisioned.env };
  let argv: string[];
  if (desired.launch.kind === 'openclaw') {
    if (!runtime) throw new Error(`internal: no runtime for ${desired.address}`);
    argv = gatewayArgv(runtime, entry.port);
    // Any `node` the gateway spawns must be the runtime's, not the system's.
    env.PATH = `${runtimePathDir(runtime)}:${env.PATH ?? ''}`;
  } else {
    argv = [...desired.launch.command, '--port', String(entry.port)];
  }
  return {
    address: desired.address,
    argv,
    cwd: provisioned.home,
    env,
    port: entry.port,
    launchHash: provisioned.hash,
    token: entry.token,
    secrets,
    logFile: provisioned.logFile,
    logs: manifest.logs,
    stopTimeoutMs: manifest.gateway.stopTimeoutMs,
    health: manifest.health,
    restart: manifest.restart,
  };
}
