// The start-up side of isolation (issue "Every agent in its own cgroup"): which agents ask
// for KSM, whether a leftover gateway still lives in its agent's cgroup (adoption checks
// identity by membership too), and the sweep that stops everything left in agent cgroups
// fleetd did not adopt, found by membership first: a daemon that double-forked, called
// setsid and cleared its environment is still a member.
import type { Manifest } from '../manifest/schema.js';
import type { RegistryFile } from '../plan/types.js';
import type { IsolationHost } from '../isolation/agent-isolation.js';
import { agentCgroup, listAgentCgroups } from '../isolation/cgroup-agent.js';
import { stopCgroup } from '../isolation/cgroup-stop.js';
import { createHash } from 'node:crypto';
import { rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupConfigOf } from '../isolation/agent-spec.js';
import type { CgroupConfig } from '../isolation/cgroup-detect.js';
import { AGENTS_DIR } from '../isolation/cgroup-parse.js';
import type { Logger } from './logger.js';

/** True when any agent (or a default) opts into memory.merge: only then is KSM detected. */
export function anyAgentMerges(m: Manifest): boolean {
  if (m.defaults.memory?.merge) return true;
  return Object.values(m.fleets).some((f) => f.defaults.memory?.merge || Object.values(f.agents).some((a) => a.memory?.merge));
}

/** Why a recorded gateway must not be adopted because it is not in its agent's cgroup (the cgroup changed while fleetd was away); undefined when it is, or without cgroups. */
export function outsideItsCgroup(host: IsolationHost, reg: Readonly<RegistryFile>, address: string): string | undefined {
  const entry = Object.hasOwn(reg.agents, address) ? reg.agents[address] : undefined;
  const pid = entry?.process?.pid;
  if (!entry || pid === undefined) return undefined;
  const cgroup = agentCgroup(host.cgroups, entry.fleet, entry.agent);
  if (!cgroup) return undefined;
  try {
    return cgroup.pids().includes(pid) ? undefined : `pid ${pid} is not in its cgroup ${cgroup.dirs[0]}`;
  } catch {
    return `its cgroup ${cgroup.dirs[0]} cannot be read`;
  }
}

/** Stops every process in agent cgroups not adopted, and removes the empty cgroups of agents the registry no longer holds. Never throws. */
export async function sweepAgentCgroups(host: IsolationHost, adopted: ReadonlySet<string>, known: ReadonlySet<string>, timeoutMs: number, log: Logger): Promise<void> {
  let found;
  try {
    found = listAgentCgroups(host.cgroups);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'cannot list agent cgroups');
    return;
  }
  await Promise.all(
    found.map(async ({ fleet, agent, cgroup, pids }) => {
      const address = `${fleet}/${agent}`;
      if (adopted.has(address)) return;
      try {
        if (pids.length > 0) {
          const report = await stopCgroup(cgroup, { timeoutMs });
          log.warn({ agent: address, pids, killed: report.killed }, 'stopped processes a previous fleetd left in the agent\'s cgroup');
        }
        if (!known.has(address)) cgroup.remove();
      } catch (err) {
        log.warn({ agent: address, err: (err as Error).message }, 'could not clean the agent\'s cgroup');
      }
    }),
  );
}

/**
 * The cgroup settings fleetd starts with: the manifest's, and, when it names no root and no
 * systemd unit delegates one, a root of this fleetd's own (`fleetd-<12 hex of the state
 * dir>` below its cgroup): two fleetds on one host (two state dirs) never share an agent
 * cgroup, so neither can stop the other's gateways by membership.
 */
export function cgroupConfigFor(m: Manifest, systemd: boolean): CgroupConfig {
  const config = cgroupConfigOf(m);
  if (config.root !== undefined || systemd) return config;
  return { ...config, root: `fleetd-${createHash('sha256').update(m.stateDir).digest('hex').slice(0, 12)}` };
}

/** After every gateway stopped (not for a restart: adopted gateways live in their cgroups): removes the empty agent cgroups and this fleetd's own root when fleetd made it. Never throws. */
export function removeAgentCgroups(host: IsolationHost, ownRoot: boolean, log: Logger): void {
  try {
    for (const { agent, fleet, cgroup, pids } of listAgentCgroups(host.cgroups)) {
      if (pids.length > 0) {
        log.warn({ agent: `${fleet}/${agent}`, pids }, 'agent cgroup not empty at exit; left in place');
        continue;
      }
      cgroup.remove();
    }
    if (!ownRoot) return;
    const roots = host.cgroups.kind === 'v2' ? [host.cgroups.rootDir] : host.cgroups.kind === 'v1' ? host.cgroups.hierarchies.map((h) => h.rootDir) : [];
    for (const root of roots) {
      for (const dir of [join(root, AGENTS_DIR), root]) {
        try {
          rmdirSync(dir);
        } catch {
          // not empty (something else lives there) or already gone: leave it
        }
      }
    }
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not remove the agent cgroups');
  }
}
