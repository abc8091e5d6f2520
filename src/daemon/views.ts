// Builds the `status` view of one agent from the one source of its state (its runner's
// status), its declaration, its registry entry and /proc. No second copy of any state.
import type { AgentView } from '../protocol/schemas.js';
import type { DesiredAgent, RegistryEntry } from '../plan/types.js';
import type { TreeUsage } from '../supervise/proc-table.js';
import { NOT_STARTED_REASON, type RunnerStatus } from '../supervise/types.js';
import type { IsolationHost } from '../isolation/agent-isolation.js';
import type { AgentIsolationSpec } from '../isolation/agent-spec.js';
import type { AgentCgroup } from '../isolation/cgroup-agent.js';
import type { CgroupUsage } from '../isolation/cgroup-types.js';
import type { UsageCache } from '../isolation/usage-cache.js';
import { agentIsolationView } from '../isolation/isolation-status.js';
import { agentPaths } from '../provision/home.js';
import type { Agent } from './agent.js';

/** Inputs of toAgentView. */
export interface ViewInput {
  desired: DesiredAgent;
  entry: Readonly<RegistryEntry> | undefined;
  home: string;
  status: RunnerStatus;
  /** What its process tree uses now (null: no process). */
  usage: TreeUsage | null;
  now: number;
}

/** Describes how an agent is launched, for people. */
export function describeLaunch(desired: DesiredAgent): string {
  return desired.launch.kind === 'openclaw' ? `openclaw@${desired.launch.version}` : desired.launch.command.join(' ');
}

/** One line of `fleetctl status`. */
export function toAgentView(input: ViewInput): AgentView {
  const { desired, entry, status } = input;
  // Before its first launch a runner says "not started yet" (whatever it recalled of a previous fleetd); say why it is not.
  const idle = status.state === 'stopped' && status.reason === NOT_STARTED_REASON;
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
    rssBytes: input.usage?.rssBytes ?? null,
    cpuSeconds: input.usage?.cpuSeconds ?? null,
    nextStartAt: status.nextStartAt,
    runtime: describeLaunch(desired),
  };
}

/** What agentViews reads besides the agents (fleet.ts passes its own). */
export interface ViewsContext {
  stateDir: string;
  /** epoch ms. */
  now: number;
  /** Usage (RSS, CPU) of each pid's whole process tree: supervise/proc-table.ts treeUsageOf. */
  treeUsage: (pids: readonly number[]) => Map<number, TreeUsage>;
  isolation?: IsolationHost;
  /** Recent cgroup readings per agent (isolation/usage-cache.ts); absent: read every time. */
  usageCache?: UsageCache;
}

/** Status of `chosen`, sorted by address: one /proc snapshot serves them all. */
export function agentViews(chosen: readonly Agent[], ctx: ViewsContext): AgentView[] {
  const statuses = [...chosen].sort((a, b) => (a.address < b.address ? -1 : 1)).map((agent) => ({ agent, status: agent.status() }));
  const pids = statuses.flatMap(({ status }) => (status.pid ? [status.pid] : []));
  const usages = pids.length > 0 ? ctx.treeUsage(pids) : new Map<number, TreeUsage>();
  return statuses.map(({ agent, status }) => {
    const usage = status.pid ? (usages.get(status.pid) ?? null) : null;
    return {
      ...toAgentView({ desired: agent.desired, entry: agent.entry, home: agentPaths(ctx.stateDir, agent.desired.fleet, agent.desired.agent).home, status, usage, now: ctx.now }),
      ...(agent.isolation ? { isolation: isolationViewOf(agent.isolation, ctx.isolation, usage?.rssBytes ?? null, status.pid !== null, usageReader(ctx.usageCache, agent.address, status)) } : {}),
      ...versionsOf(agent),
    };
  });
}

/** What it runs: the runtime its launch was prepared with; before any, the declared pin (Node unknown until installed). */
function versionsOf(agent: Agent): { openclaw: string | null; node: string | null } {
  if (agent.runtimeVersions) return agent.runtimeVersions;
  const launch = agent.desired.launch;
  return launch.kind === 'openclaw' ? { openclaw: launch.version, node: launch.node ?? null } : { openclaw: null, node: null };
}

/** Reads an agent's cgroup through the cache: a reading serves while the agent keeps its state, pid and since. */
function usageReader(cache: UsageCache | undefined, address: string, status: RunnerStatus): ((cgroup: AgentCgroup) => CgroupUsage) | undefined {
  if (!cache) return undefined;
  const state = `${status.state} ${status.since} ${status.pid}`;
  return (cgroup) => cache.usage(address, state, () => cgroup.usage());
}

/** The isolation view of an agent (memory from its cgroup when there is one, else its tree's RSS); never throws. */
function isolationViewOf(iso: { spec: AgentIsolationSpec; cgroup?: AgentCgroup }, host: IsolationHost | undefined, treeRssBytes: number | null, running: boolean, readUsage?: (cgroup: AgentCgroup) => CgroupUsage): AgentView['isolation'] {
  try {
    return agentIsolationView({ spec: iso.spec, cgroup: iso.cgroup, ksm: host?.ksm, treeRssBytes, running, readUsage });
  } catch {
    return agentIsolationView({ spec: iso.spec, treeRssBytes, running });
  }
}
