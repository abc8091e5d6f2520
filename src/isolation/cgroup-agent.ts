// One agent's cgroup, whatever the hierarchy: the factory that picks the v1 or v2
// implementation (of cgroup-types.ts) for the host, and the leftover scan (every agent
// cgroup under fleetd's root, with the pids still in it) that a starting fleetd runs first.
import { join } from 'node:path';
import type { CgroupHost } from './cgroup-detect.js';
import { childCgroups, subtreePids } from './cgroup-files.js';
import { AGENTS_DIR, agentCgroupName, parseAgentCgroupName } from './cgroup-parse.js';
import { V1AgentCgroup } from './cgroup-v1.js';
import { V2AgentCgroup } from './cgroup-v2.js';

export type { AgentCgroup, CgroupMemory, CgroupUsage, OomCounters } from './cgroup-types.js';
import type { AgentCgroup } from './cgroup-types.js';

/** The cgroup of `fleet/agent` under `host` (nothing is created until create()); undefined without cgroups. */
export function agentCgroup(host: CgroupHost, fleet: string, agent: string): AgentCgroup | undefined {
  const name = agentCgroupName(fleet, agent);
  if (host.kind === 'v2') return new V2AgentCgroup(name, join(host.rootDir, AGENTS_DIR, name), host.controllers);
  if (host.kind === 'v1') {
    return new V1AgentCgroup(
      name,
      host.hierarchies.map((h) => ({ controllers: h.controllers, dir: join(h.rootDir, AGENTS_DIR, name) })),
    );
  }
  return undefined;
}

/** An agent cgroup found under the root. */
export interface FoundAgentCgroup {
  fleet: string;
  agent: string;
  cgroup: AgentCgroup;
  /** Processes in it right now (a previous fleetd's gateways, or nothing). */
  pids: number[];
}

// Membership is the ground truth after a crash: whatever a gateway forked, re-parented or
// daemonized (setsid, double fork, env -i) is still in its cgroup. Folders whose name is
// not `<fleet>@<agent>` are not fleetd's and are left alone.
/** Every agent cgroup under fleetd's root, with its pids (leftovers of a previous fleetd, or empty ones). */
export function listAgentCgroups(host: CgroupHost): FoundAgentCgroup[] {
  const dirs = host.kind === 'v2' ? [join(host.rootDir, AGENTS_DIR)] : host.kind === 'v1' ? host.hierarchies.map((h) => join(h.rootDir, AGENTS_DIR)) : [];
  const names = new Set<string>();
  for (const dir of dirs) for (const name of childCgroups(dir)) names.add(name);
  const out: FoundAgentCgroup[] = [];
  for (const name of [...names].sort()) {
    const ids = parseAgentCgroupName(name);
    if (!ids) continue;
    const cgroup = agentCgroup(host, ids.fleet, ids.agent);
    if (!cgroup) continue;
    const pids = new Set<number>();
    for (const dir of cgroup.dirs) for (const pid of subtreePids(dir)) pids.add(pid);
    out.push({ ...ids, cgroup, pids: [...pids].sort((a, b) => a - b) });
  }
  return out;
}
