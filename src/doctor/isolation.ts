// Doctor: how fleetd isolates its agents, as it does it now (the facts `fleetctl status
// --json` shows under `isolation`), against what the manifest asks of it:
//   cgroups  the hierarchy fleetd detected at start-up and uses (isolation/cgroup-detect.ts),
//            or its tree-walk fallback and why; agents with limits need the controllers;
//   KSM      when an agent asks for memory.merge: whether the kernel and a tool can;
//   users    the tenant users the manifest names: fleetd's privileges (isolation/privileges.ts),
//            setpriv, each user known to the host; none named: every agent is fleetd's user.
// One probe per concern, each pure over IsolationEnv: a new isolation feature adds its probe
// to ISOLATION_PROBES.
import { readFileSync } from 'node:fs';
import { toFleetError } from '../errors.js';
import type { Manifest } from '../manifest/schema.js';
import type { DoctorCheck } from '../protocol/doctor-schemas.js';
import { agentIsolationSpec, type AgentIsolationSpec } from '../isolation/agent-spec.js';
import type { IsolationHost } from '../isolation/agent-isolation.js';
import { describeCgroupHost } from '../isolation/cgroup-detect.js';
import { describeLimits, hasLimits } from '../isolation/limits.js';
import { missingUserCapabilities, parseCapEff, USER_CAPABILITIES } from '../isolation/privileges.js';
import { findSetpriv, lookupUser, type TenantUser } from '../isolation/user-lookup.js';
import type { UserChoice } from '../isolation/users.js';
import { check, FLEETD_SCOPE } from './check.js';
import { nameList } from '../util/name-list.js';

/** What the probes look at (real values from the fleet; tests pass their own). */
export interface IsolationEnv {
  /** The host as fleetd detected it at start-up; undefined: this fleetd runs without isolation. */
  host: IsolationHost | undefined;
  manifest: Pick<Manifest, 'defaults' | 'fleets' | 'cgroup'>;
  /** The agents fleetd has. */
  agents: ReadonlyArray<{ address: string; fleet: string; agent: string }>;
  uid: number;
  /** fleetd's effective capabilities (CapEff of /proc/self/status). */
  capEff: bigint;
  lookupUser: (choice: UserChoice) => TenantUser;
  findSetpriv: () => string;
}

/** One isolation probe: its checks (none when it has nothing to say). */
export interface IsolationProbe {
  id: string;
  run(env: IsolationEnv, specs: ReadonlyMap<string, AgentIsolationSpec>): DoctorCheck[];
}


/** Controllers a limit needs (cgroup v2 names; v1 mounts the same names). */
function neededControllers(spec: AgentIsolationSpec): string[] {
  const l = spec.limits;
  return [...(l.memoryBytes !== undefined ? ['memory'] : []), ...(l.cpu !== undefined ? ['cpu'] : []), ...(l.pids !== undefined ? ['pids'] : [])];
}

/** cgroups: the mode fleetd uses, and whether every agent with limits can have them. */
export const cgroupProbe: IsolationProbe = {
  id: 'isolation-cgroups',
  run(env, specs) {
    const title = 'cgroups';
    const limited = [...specs].filter(([, s]) => hasLimits(s.limits));
    if (!env.host) return [check('info', this.id, FLEETD_SCOPE, title, 'this fleetd runs without isolation (no cgroup detection was made)')];
    const cgroups = env.host.cgroups;
    const mode = describeCgroupHost(cgroups);
    const fix = 'run fleetd with the shipped systemd unit (Delegate=yes) or as root, or set cgroup.root to a cgroup fleetd may write; then restart fleetd';
    if (cgroups.kind === 'none') {
      if (limited.length === 0) return [check('info', this.id, FLEETD_SCOPE, title, `${mode}; stops and leftovers go by the process tree, and no agent can have limits`, fix)];
      return [check('fail', this.id, FLEETD_SCOPE, title, `${mode}, but ${limited.length} agent(s) have limits, which cannot start without a cgroup: ${nameList(limited.map(([a, s]) => `${a} (${describeLimits(s.limits)})`))}`, fix)];
    }
    const have = cgroups.kind === 'v2' ? cgroups.controllers : cgroups.hierarchies.flatMap((h) => h.controllers as readonly string[]);
    const lacking = limited.flatMap(([address, spec]) => {
      const missing = neededControllers(spec).filter((c) => !have.includes(c));
      return missing.length > 0 ? [`${address} (needs ${missing.join(', ')})`] : [];
    });
    if (lacking.length > 0) {
      const next = cgroups.kind === 'v2' ? 'delegate the controllers to fleetd (systemd Delegate=yes, or +memory +cpu +pids in the parent\'s cgroup.subtree_control), then restart fleetd' : 'mount the missing cgroup v1 controllers, then restart fleetd';
      return [check('fail', this.id, FLEETD_SCOPE, title, `${mode}; limits of ${nameList(lacking)} cannot be applied`, next)];
    }
    return [check('ok', this.id, FLEETD_SCOPE, title, `${mode}; ${limited.length} agent(s) with limits`)];
  },
};

/** KSM: only when an agent asks for memory.merge. */
export const ksmProbe: IsolationProbe = {
  id: 'isolation-ksm',
  run(env, specs) {
    const merging = [...specs].filter(([, s]) => s.merge).map(([a]) => a);
    if (merging.length === 0) return [];
    const ksm = env.host?.ksm;
    const title = 'same-page merging';
    if (ksm?.usable && ksm.running) return [check('ok', this.id, FLEETD_SCOPE, title, `KSM ${ksm.words}, for ${nameList(merging)}`)];
    if (ksm?.usable) return [check('warn', this.id, FLEETD_SCOPE, title, `memory.merge is asked for ${nameList(merging)}, but KSM ${ksm.words}`, 'echo 1 > /sys/kernel/mm/ksm/run (as root)')];
    if (!ksm) return [check('warn', this.id, FLEETD_SCOPE, title, `memory.merge is asked for ${nameList(merging)}, but fleetd looks for KSM only at start-up when an agent asks for it, and none did then: their gateways run without it`, 'restart fleetd (systemctl restart fleetd: its gateways are adopted, not stopped)')];
    return [check('warn', this.id, FLEETD_SCOPE, title, `memory.merge is asked for ${nameList(merging)}, but KSM is ${ksm.words}: their gateways run without it`, 'fix what the line above names, then restart fleetd')];
  },
};

/** Tenant users: who runs as whom, and whether fleetd can make it so. */
export const usersProbe: IsolationProbe = {
  id: 'isolation-users',
  run(env, specs) {
    const title = 'agent users';
    const byUser = new Map<string, { choice: UserChoice; agents: string[] }>();
    for (const [address, spec] of specs) {
      if (!spec.user) continue;
      const entry = byUser.get(spec.user.name) ?? { choice: spec.user, agents: [] };
      entry.agents.push(address);
      byUser.set(spec.user.name, entry);
    }
    if (byUser.size === 0) {
      return [check('info', this.id, FLEETD_SCOPE, title, `every agent runs as fleetd's own user (uid ${env.uid}): agents are not separated from each other by user`, 'to separate them, give fleets or agents a `user` in the manifest (fleetd then needs root or the capabilities the README names)')];
    }
    const checks: DoctorCheck[] = [];
    const missing = missingUserCapabilities(env.capEff);
    if (missing.length > 0) {
      const agents = [...byUser.values()].flatMap((u) => u.agents);
      checks.push(
        check('fail', this.id, FLEETD_SCOPE, title, `${nameList(agents)} should run as their own users, but fleetd (uid ${env.uid}) lacks ${missing.join(', ')}`, `run fleetd as root, or grant AmbientCapabilities=${Object.keys(USER_CAPABILITIES).join(' ')} in its unit`),
      );
    }
    try {
      env.findSetpriv();
    } catch (err) {
      checks.push(check('fail', this.id, FLEETD_SCOPE, title, toFleetError(err).message, 'install util-linux'));
    }
    for (const [name, { choice, agents }] of byUser) {
      try {
        const user = env.lookupUser(choice);
        if (checks.length === 0) checks.push(check('ok', this.id, FLEETD_SCOPE, `user ${name}`, `uid ${user.uid}, gid ${user.gid}: ${nameList(agents)}`));
      } catch (err) {
        checks.push(check('fail', this.id, FLEETD_SCOPE, `user ${name}`, `${toFleetError(err).message} (used by ${nameList(agents)})`, `create the user, or change ${choice.setAt} in the manifest and run \`fleetctl reload\``));
      }
    }
    return checks;
  },
};

/** The probes doctor runs, in order. */
export const ISOLATION_PROBES: readonly IsolationProbe[] = [cgroupProbe, ksmProbe, usersProbe];

/** The real environment around what the fleet uses. */
export function isolationEnv(input: Pick<IsolationEnv, 'host' | 'manifest' | 'agents'>): IsolationEnv {
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: no capabilities known
  }
  return { ...input, uid: process.getuid?.() ?? 0, capEff: parseCapEff(status), lookupUser: (choice) => lookupUser(choice), findSetpriv: () => findSetpriv() };
}

/** Runs every probe; a probe that throws is reported, not fatal. */
export function checkIsolation(env: IsolationEnv, probes: readonly IsolationProbe[] = ISOLATION_PROBES): DoctorCheck[] {
  const specs = new Map(env.agents.map((a) => [a.address, agentIsolationSpec(env.manifest, a.fleet, a.agent)] as const));
  return probes.flatMap((p) => {
    try {
      return p.run(env, specs);
    } catch (err) {
      return [check('info', p.id, FLEETD_SCOPE, p.id, `could not be checked: ${toFleetError(err).message}`)];
    }
  });
}
