// From a provisioned agent to the LaunchSpec its runner gets: the argv (a fixed command or
// a managed OpenClaw runtime), the clean environment, and the manifest's timings.
import { PORT_PLACEHOLDER } from '../manifest/rules.js';
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
    argv = commandArgv(desired.launch.command, entry.port);
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

// OpenClaw's gateway takes its port as `--port P` (docs/cli/gateway: `openclaw gateway run
// --port`), and so does a command that stands in for it: fleetd appends the two arguments. A
// command that takes its port another way (`busybox httpd -p 127.0.0.1:{port}`, a wrapper of
// its own) names the place with {port} instead, and then gets nothing appended: without it,
// such a command needed a shell to move the argument (`sh -c '... -p "$2"'`), one more
// process exec'd per launch.
/** The argv of a fixed `gateway.command`: every {port} replaced by `port` when any argument has one, else the command with `--port P` appended. */
export function commandArgv(command: readonly string[], port: number): string[] {
  if (!command.some((arg) => arg.includes(PORT_PLACEHOLDER))) return [...command, '--port', String(port)];
  return command.map((arg) => arg.replaceAll(PORT_PLACEHOLDER, String(port)));
}
