// Cross-field rules of the isolation keys (limits, memory, user, cgroup), over the raw
// JSON5 value like rules.ts: a rule skips whatever has the wrong shape (zod reports that).
import type { PathSegment, Problem } from './render-issues.js';

type Obj = Record<string, unknown>;

function asObj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

/** Every `limits` block with its path: top defaults, fleet defaults, agents. */
function limitsLevels(raw: Obj): Array<{ path: PathSegment[]; value: Obj }> {
  const out: Array<{ path: PathSegment[]; value: Obj }> = [];
  const add = (path: PathSegment[], value: unknown) => {
    const obj = asObj(value);
    if (obj) out.push({ path, value: obj });
  };
  add(['defaults', 'limits'], asObj(raw.defaults)?.limits);
  for (const [fleetId, fleet] of Object.entries(asObj(raw.fleets) ?? {})) {
    add(['fleets', fleetId, 'defaults', 'limits'], asObj(asObj(fleet)?.defaults)?.limits);
    for (const [agentId, agent] of Object.entries(asObj(asObj(fleet)?.agents) ?? {})) add(['fleets', fleetId, 'agents', agentId, 'limits'], asObj(agent)?.limits);
  }
  return out;
}

/** Limits are enforced through cgroups: with `cgroup.mode: "off"` a set limit could never hold. */
export function checkLimitsNeedCgroup(raw: Obj): Problem[] {
  if (asObj(raw.cgroup)?.mode !== 'off') return [];
  const problems: Problem[] = [];
  for (const level of limitsLevels(raw)) {
    for (const [key, value] of Object.entries(level.value)) {
      if (value === undefined || value === 'max') continue;
      problems.push({ path: [...level.path, key], message: 'limits are enforced through the agent\'s cgroup, but cgroup.mode is "off"; remove the limit or the mode' });
    }
  }
  return problems;
}

/** A tenant user exists to NOT be root: `user: "root"` would give the gateway the whole host. */
export function checkUsers(raw: Obj): Problem[] {
  const problems: Problem[] = [];
  const check = (path: PathSegment[], value: unknown) => {
    if (value === 'root') problems.push({ path, message: 'a gateway must not run as root (that is no isolation); name a tenant user such as "acme-gw", found "root"' });
  };
  for (const [fleetId, fleet] of Object.entries(asObj(raw.fleets) ?? {})) {
    check(['fleets', fleetId, 'user'], asObj(fleet)?.user);
    for (const [agentId, agent] of Object.entries(asObj(asObj(fleet)?.agents) ?? {})) check(['fleets', fleetId, 'agents', agentId, 'user'], asObj(agent)?.user);
  }
  return problems;
}

/** Every isolation rule. */
export function checkIsolationRules(raw: Obj): Problem[] {
  return [...checkLimitsNeedCgroup(raw), ...checkUsers(raw)];
}
