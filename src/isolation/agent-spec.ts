// What isolates one agent, read from the manifest (pure): its limits (defaults < fleet
// defaults < agent, key by key), whether its gateway opts into same-page merging, which
// OS user it runs as, and the cgroup settings. Agents added with `fleetctl add agent`
// have no manifest entry: they get the defaults and their fleet's settings.
import type { Manifest } from '../manifest/schema.js';
import type { CgroupConfig } from './cgroup-detect.js';
import { resolveLimits, type AgentLimits } from './limits.js';
import { agentUser, type UserChoice } from './users.js';

/** An agent's isolation settings. */
export interface AgentIsolationSpec {
  limits: AgentLimits;
  /** memory.merge: enable KSM for its gateway. */
  merge: boolean;
  /** undefined: it runs as fleetd's own user. */
  user?: UserChoice;
}

type IsolationManifest = Pick<Manifest, 'defaults' | 'fleets' | 'cgroup'>;

/** The isolation settings of `fleet/agent` (an agent the manifest does not declare gets fleet and top defaults). */
export function agentIsolationSpec(manifest: IsolationManifest, fleet: string, agent: string): AgentIsolationSpec {
  const fleetSpec = Object.hasOwn(manifest.fleets, fleet) ? manifest.fleets[fleet] : undefined;
  const agentSpec = fleetSpec && Object.hasOwn(fleetSpec.agents, agent) ? fleetSpec.agents[agent] : undefined;
  const limits = resolveLimits([manifest.defaults.limits, fleetSpec?.defaults.limits, agentSpec?.limits]);
  const merge = agentSpec?.memory?.merge ?? fleetSpec?.defaults.memory?.merge ?? manifest.defaults.memory?.merge ?? false;
  const user = agentUser(manifest, fleet, agent);
  return { limits, merge, ...(user ? { user } : {}) };
}

/** The manifest's `cgroup` section with its default (mode auto, no root). */
export function cgroupConfigOf(manifest: Pick<Manifest, 'cgroup'>): CgroupConfig {
  return { mode: manifest.cgroup?.mode ?? 'auto', root: manifest.cgroup?.root };
}
