// How one agent (the wire's AgentView) reads in fleetctl's human output: the status
// table row and the one-line summary printed after start/stop/restart/add. Pure.
import type { AgentView } from '../protocol/schemas.js';
import { formatBytes } from './format.js';
import { formatDuration, formatDurationCompact } from '../util/duration.js';

/** Columns of `fleetctl status`. */
export const STATUS_HEADER = ['ADDRESS', 'STATE', 'PID', 'PORT', 'UPTIME', 'HEALTHY', 'RESTARTS', 'EXIT', 'HEALTH', 'MEMORY', 'OPENCLAW', 'NODE', 'REASON'] as const;

/** live/ready as one word: ready, live (not ready), down, or - when not probed. */
export function formatHealth(health: AgentView['health']): string {
  if (health.live === false) return 'down';
  if (health.ready === true) return 'ready';
  // /readyz answered 503: serving, but not admitting traffic (the REASON names the failing checks)
  if (health.ready === false) return 'unready';
  if (health.live === true) return 'live';
  return '-';
}

/** The last exit as its code or signal ("1", "SIGKILL"), or - when it never exited. */
export function formatExit(lastExit: AgentView['lastExit']): string {
  if (!lastExit) return '-';
  if (lastExit.signal) return lastExit.signal;
  return lastExit.code === null ? '?' : String(lastExit.code);
}

/** The reason as one sentence, with the failing readiness checks and the time until the next start when backing off. */
export function formatReason(agent: AgentView, now: number): string {
  const parts = [agent.reason];
  if (agent.health.failing?.length) parts.push(`readiness failing: ${agent.health.failing.join(', ')}`);
  if (agent.health.holder) parts.push(agent.health.holder);
  if (agent.state === 'backoff' && agent.nextStartAt !== null) parts.push(`next start in ${formatDuration(Math.max(0, agent.nextStartAt - now))}`);
  if (!agent.enabled && !agent.reason.includes('disabled')) parts.push('disabled in the manifest');
  return parts.filter(Boolean).join('; ');
}

/**
 * Memory of the agent against its limit: `412MiB/1.5G` (from its cgroup when it has one,
 * else the RSS of its process tree), `412MiB` without a limit, `-` when unknown or when no
 * gateway process runs (a stopped agent's cgroup still charges its last run's residue).
 */
export function formatMemory(agent: AgentView): string {
  if (agent.pid === null) return '-';
  const memory = agent.isolation?.memory;
  const current = memory?.source === 'cgroup' && memory.currentBytes !== null ? memory.currentBytes : agent.rssBytes;
  const limit = agent.isolation?.limits.memory;
  if (current === null) return '-';
  return limit ? `${formatBytes(current)}/${limit}` : formatBytes(current);
}

/** One status table row. */
export function statusRow(agent: AgentView, now: number): string[] {
  return [
    agent.address,
    agent.state,
    agent.pid === null ? '-' : String(agent.pid),
    String(agent.port),
    formatDurationCompact(agent.uptimeMs),
    formatDurationCompact(agent.healthyForMs),
    String(agent.restarts),
    formatExit(agent.lastExit),
    formatHealth(agent.health),
    formatMemory(agent),
    agent.openclaw ?? '-',
    agent.node ?? '-',
    formatReason(agent, now),
  ];
}

/** One-line summary: `acme/korax: running, pid 123, port 18800, ready; healthy after 4.1 s ...`. */
export function describeAgent(agent: AgentView): string {
  const facts: string[] = [agent.state];
  if (agent.pid !== null) facts.push(`pid ${agent.pid}`);
  facts.push(`port ${agent.port}`);
  const health = formatHealth(agent.health);
  if (health !== '-') facts.push(health);
  return `${agent.address}: ${facts.join(', ')}${agent.reason ? `; ${agent.reason}` : ''}`;
}

/** True when the agent ended up somewhere a start/restart should report as failed. */
export function isFailedState(agent: AgentView): boolean {
  return agent.state === 'failed' || agent.state === 'backoff';
}
