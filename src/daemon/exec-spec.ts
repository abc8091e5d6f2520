// What `fleetctl exec` / `fleetctl openclaw` need to run a command AS an agent: the same
// clean environment the gateway gets (plan/gateway-env.ts, via effectiveAgent), its home as
// working directory, its pinned runtime's node and openclaw first on PATH, its user. Secret
// variables travel as references only: fleetctl reads them itself, as the caller, so no
// secret value ever crosses the socket.
import { dirname, join } from 'node:path';
import { FleetError } from '../errors.js';
import { inspectRuntime } from '../runtime/marker.js';
import { describeRef, secretPath } from '../secrets/refs.js';
import type { ExecSpec } from '../protocol/operate-schemas.js';
import type { Runtime } from '../runtime/types.js';
import type { AgentFacts, AgentUser } from './agent-facts.js';

/** Inputs of buildExecSpec. */
export interface ExecSpecInput {
  facts: AgentFacts;
  /** fleetd's environment ($CREDENTIALS_DIRECTORY resolves credential references). */
  parentEnv: Readonly<Record<string, string | undefined>>;
  /** The agent's user (its own, or fleetd's). */
  user: AgentUser;
  /** The Node running fleetd (runtimes installed to run on it). */
  systemNode?: { version: string; path: string };
}

/** PATH of commands run as an agent: the runtime's node, then its package binaries (`openclaw`), then the gateway's PATH. */
export function execPath(runtime: Pick<Runtime, 'node' | 'dir'> | null, gatewayPath: string): string {
  if (!runtime) return gatewayPath;
  return [dirname(runtime.node), join(runtime.dir, 'node_modules', '.bin'), gatewayPath].join(':');
}

/** Builds the exec spec of an agent; REFUSED when its pinned runtime is not installed yet. */
export async function buildExecSpec(input: ExecSpecInput): Promise<ExecSpec> {
  const { facts } = input;
  const launch = facts.desired.launch;
  let runtime: Runtime | null = null;
  if (launch.kind === 'openclaw') {
    const systemNode = input.systemNode ?? { version: process.versions.node, path: process.execPath };
    const found = await inspectRuntime(facts.manifest.runtimesDir, launch.version, systemNode);
    if (found.state !== 'ready') {
      const why = found.state === 'unusable' ? `is unusable (${found.reason})` : 'is not installed yet';
      throw new FleetError('REFUSED', `${facts.address} runs OpenClaw ${launch.version}, which ${why}; install it with \`fleetctl runtime install ${launch.version}\` (starting the agent installs it too), then try again`);
    }
    runtime = found.runtime;
  }
  const env = { ...facts.effective.env };
  env['PATH'] = execPath(runtime, env['PATH'] ?? '');
  const secrets: ExecSpec['secrets'] = {};
  for (const [name, ref] of Object.entries(facts.effective.secretEnv)) {
    secrets[name] = { ref: describeRef(ref), path: secretPath(ref, input.parentEnv['CREDENTIALS_DIRECTORY']) ?? null, origin: facts.desired.envOrigin?.[name] ?? null };
  }
  return {
    address: facts.address,
    cwd: facts.effective.paths.home,
    env,
    secrets,
    runtime: runtime && { version: runtime.version, dir: runtime.dir, node: runtime.node, entry: runtime.entry, nodeVersion: runtime.nodeVersion },
    user: input.user,
  };
}
