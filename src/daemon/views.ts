// Builds the `status` view of one agent from the one source of its state (its runner's
// status), its declaration, its registry entry and /proc. No second copy of any state.
import type { AgentView } from '../protocol/schemas.js';
import type { DesiredAgent, RegistryEntry } from '../plan/types.js';
import type { RunnerStatus } from '../supervise/types.js';

/** Inputs of toAgentView. */
export interface ViewInput {
  desired: DesiredAgent;
  entry: Readonly<RegistryEntry> | undefined;
  home: string;
  status: RunnerStatus;
  rssBytes: number | null;
  now: number;
}

/** Describes how an agent is launched, for people. */
export function describeLaunch(desired: DesiredAgent): string {
  return desired.launch.kind === 'openclaw' ? `openclaw@${desired.launch.version}` : desired.launch.command.join(' ');
}

/** One line of `fleetctl status`. */
export function toAgentView(input: ViewInput): AgentView {
  const { desired, entry, status } = input;
  // Before its first launch a runner says "not started yet"; say why it is not.
  const idle = status.state === 'stopped' && status.lastExit === null && status.restarts === 0 && status.reason === 'not started yet';
  const reason = !desired.enabled && status.state === 'stopped' ? 'disabled in the manifest' : idle && entry?.desired === 'stopped' ? 'stopped by the operator' : status.reason;
  return {
    address: desired.address,
    fleet: desired.fleet,
    agent: desired.agent,
    source: desired.source,
    enabled: desired.enabled,
    // what fleetd will keep it at: a disabled agent is wanted stopped whatever the registry says
    desired: desired.enabled ? (entry?.desired ?? 'running') : 'stopped',
    state: status.state,
    reason,
    since: status.since,
    pid: status.pid,
    port: entry?.port ?? status.port,
    home: input.home,
    uptimeMs: status.spawnedAt !== null ? input.now - status.spawnedAt : null,
    healthyForMs: status.runningSince !== null ? input.now - status.runningSince : null,
    restarts: status.restarts,
    lastExit: status.lastExit,
    health: status.health,
    rssBytes: input.rssBytes,
    nextStartAt: status.nextStartAt,
    runtime: describeLaunch(desired),
  };
}
