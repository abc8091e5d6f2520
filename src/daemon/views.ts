// Builds the `status` view of one agent from its registry entry, its runner and /proc.
import type { AgentView } from '../protocol/schemas.js';
import type { DesiredAgent, RegistryEntry } from '../plan/types.js';
import type { RunnerStatus } from '../supervise/types.js';

/** What fleetd shows for an agent that has no runner yet (runtime install, provisioning). */
export interface PendingState {
  state: 'stopped' | 'starting' | 'backoff' | 'failed';
  reason: string;
  since: number;
  /** epoch ms of the next attempt, in backoff. */
  nextStartAt?: number;
}

/** Inputs of toAgentView. */
export interface ViewInput {
  desired: DesiredAgent;
  entry: RegistryEntry | undefined;
  home: string;
  runner: RunnerStatus | undefined;
  pending: PendingState | undefined;
  rssBytes: number | null;
  now: number;
}

/** Describes how an agent is launched, for people. */
export function describeLaunch(desired: DesiredAgent): string {
  return desired.launch.kind === 'openclaw' ? `openclaw@${desired.launch.version}` : desired.launch.command.join(' ');
}

/** One line of `fleetctl status`. */
export function toAgentView(input: ViewInput): AgentView {
  const { desired, entry, runner, pending } = input;
  // A pending state (runtime install, provisioning failure) outranks a runner that has not run yet.
  const usePending = pending !== undefined && (runner === undefined || runner.state === 'stopped');
  const state = usePending ? pending.state : (runner?.state ?? 'stopped');
  const reason = usePending ? pending.reason : (runner?.reason ?? (desired.enabled ? 'not started' : 'disabled in the manifest'));
  return {
    address: desired.address,
    fleet: desired.fleet,
    agent: desired.agent,
    source: desired.source,
    enabled: desired.enabled,
    desired: entry?.desired ?? 'running',
    state,
    reason,
    since: usePending ? pending.since : (runner?.since ?? input.now),
    pid: usePending ? null : (runner?.pid ?? null),
    port: entry?.port ?? runner?.port ?? 0,
    home: input.home,
    uptimeMs: !usePending && runner?.runningSince ? input.now - runner.runningSince : null,
    restarts: runner?.restarts ?? 0,
    lastExit: runner?.lastExit ?? null,
    health: runner && !usePending ? runner.health : { live: null, ready: null },
    rssBytes: input.rssBytes,
    nextStartAt: usePending ? (pending.nextStartAt ?? null) : (runner?.nextStartAt ?? null),
    runtime: describeLaunch(desired),
  };
}
