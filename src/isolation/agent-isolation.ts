// The isolation layer's entry points for the daemon:
//   setupIsolationHost    once at start-up: detect the cgroup hierarchy, prepare fleetd's
//                         root (v2: supervisor leaf, controllers), detect KSM when needed;
//   prepareAgentIsolation before each start of an agent: its cgroup (created, limits
//                         written), its user (privileges, lookup, setpriv), its KSM tool;
//   isolateLaunch         (pure) the gateway's argv and env under all of that: heap sized
//                         under the memory limit, then the launch chain of decision 2 (its
//                         cgroup join apart: the shim does it, launch-chain.ts).
// The agent's home is handed to its user by prepareTenantHome (tenant-home.ts), at
// provisioning; fleetd's writes into it go through writeTenantFile.
import { FleetError, toFleetError } from '../errors.js';
import type { IsolationHostView } from '../protocol/isolation.js';
import type { AgentIsolationSpec } from './agent-spec.js';
import { agentCgroup, type AgentCgroup } from './cgroup-agent.js';
import { detectCgroupHost, type CgroupConfig, type CgroupHost } from './cgroup-detect.js';
import { prepareCgroupHost } from './cgroup-prepare.js';
import { withHeapSize } from './heap-size.js';
import { isolationHostView } from './isolation-status.js';
import { detectKsm, type KsmSupport } from './ksm.js';
import { launchAfterJoin, type KsmTool, type RunAs } from './launch-chain.js';
import { describeLimits, hasLimits } from './limits.js';
import { prepareRunAs, type TenantUser } from './user-lookup.js';

/** The host side of isolation, made once per fleetd start. */
export interface IsolationHost {
  cgroups: CgroupHost;
  /** Pids moved into <root>/supervisor (v2, fleetd living in its root): log them. */
  moved: number[];
  /** Present when some agent asked for merging. */
  ksm?: KsmSupport;
  /** For the start-up log and `fleetctl status --json`. */
  view: IsolationHostView;
}

/** Injectable steps of setupIsolationHost (real by default). */
export interface SetupDeps {
  detect: (config: CgroupConfig) => CgroupHost;
  prepare: typeof prepareCgroupHost;
  detectKsm: () => KsmSupport;
}

const realSetupDeps: SetupDeps = { detect: (config) => detectCgroupHost(config), prepare: prepareCgroupHost, detectKsm: () => detectKsm() };

// A root that cannot be prepared (strangers in it, a write refused) is not fatal: fleetd
// runs on the tree-walk fallback and says why, like on a host without cgroups. Agents with
// limits then refuse to start (prepareAgentIsolation), so no limit silently disappears.
/** Detects and prepares the cgroup root; `wantKsm` when any agent has memory.merge. */
export function setupIsolationHost(config: CgroupConfig, wantKsm: boolean, deps: SetupDeps = realSetupDeps): IsolationHost {
  let cgroups = deps.detect(config);
  let moved: number[] = [];
  try {
    const prepared = deps.prepare(cgroups);
    cgroups = prepared.host;
    moved = prepared.moved;
  } catch (err) {
    cgroups = { kind: 'none', reason: `preparing the cgroup root failed: ${toFleetError(err).message}` };
  }
  const ksm = wantKsm ? deps.detectKsm() : undefined;
  return { cgroups, moved, ...(ksm ? { ksm } : {}), view: isolationHostView(cgroups, ksm) };
}

/** One agent's isolation for its next start. */
export interface AgentIsolation {
  spec: AgentIsolationSpec;
  /** Its cgroup, created and with its limits written; undefined on the fallback. */
  cgroup?: AgentCgroup;
  /** Who the gateway runs as; undefined = fleetd's own user. */
  runAs?: RunAs;
  user?: TenantUser;
  /** The KSM wrapper to use (memory.merge and the kernel can). */
  ksm?: KsmTool;
  /** Things the operator should know (merging requested but impossible ...): log them with the agent. */
  notes: string[];
}

/** Injectable steps of prepareAgentIsolation. */
export interface AgentIsolationDeps {
  prepareRunAs: typeof prepareRunAs;
}

/** Prepares `fleet/agent`'s cgroup, user and KSM; PROVISION_FAILED (or UNSUPPORTED_PLATFORM) with the reason when something cannot hold. */
export function prepareAgentIsolation(
  host: IsolationHost,
  spec: AgentIsolationSpec,
  fleet: string,
  agent: string,
  deps: AgentIsolationDeps = { prepareRunAs },
): AgentIsolation {
  const out: AgentIsolation = { spec, notes: [] };
  const cgroup = agentCgroup(host.cgroups, fleet, agent);
  if (!cgroup) {
    if (hasLimits(spec.limits)) {
      throw new FleetError(
        'PROVISION_FAILED',
        `${fleet}/${agent} has limits (${describeLimits(spec.limits)}) but fleetd has no cgroup to enforce them: ${host.view.description.replace(/^no cgroup: tree walk fallback because /, '')}`,
      );
    }
  } else {
    cgroup.create();
    cgroup.applyLimits(spec.limits);
    out.cgroup = cgroup;
  }
  if (spec.user) {
    const { user, runAs } = deps.prepareRunAs(spec.user);
    out.user = user;
    out.runAs = runAs;
  }
  if (spec.merge) {
    if (host.ksm?.usable && host.ksm.tool) {
      out.ksm = host.ksm.tool;
      if (!host.ksm.running) out.notes.push(`memory.merge: KSM ${host.ksm.words}`);
    } else {
      out.notes.push(`memory.merge requested, gateway runs without it: KSM ${host.ksm?.words ?? 'was not detected'}`);
    }
  }
  return out;
}

/**
 * A gateway's argv and env under its isolation (pure): heap sized under the memory limit, then
 * the launch chain after the cgroup join ([setpriv] [ksm] gateway), and the cgroup.procs files
 * to join before it executes anything (`cgroupProcs`, absent without a cgroup): the spawner
 * joins them (the native shim in its child; others through withCgroupJoin, launch-chain.ts).
 */
export function isolateLaunch(
  launch: { argv: readonly string[]; env: Readonly<Record<string, string>> },
  iso: AgentIsolation,
): { argv: string[]; env: Record<string, string>; cgroupProcs?: string[]; heapMiB?: number } {
  const sized = withHeapSize(launch.argv, launch.env, iso.spec.limits.memoryBytes);
  const argv = launchAfterJoin({ argv: sized.argv, env: sized.env, ...(iso.runAs ? { runAs: iso.runAs } : {}), ...(iso.ksm ? { ksm: iso.ksm } : {}) });
  return {
    argv,
    env: sized.env,
    ...(iso.cgroup ? { cgroupProcs: [...iso.cgroup.procsFiles] } : {}),
    ...(sized.heapMiB !== undefined ? { heapMiB: sized.heapMiB } : {}),
  };
}
