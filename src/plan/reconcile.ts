// The reconcile decision (pure): wanted (manifest + CLI agents) against recorded (registry)
// and observed (runners) gives a list of actions. The daemon runs it at start-up, on
// `reload` (`reload --dry-run` prints it) and after add/remove. No clock, no disk.
//
// Rules, per address:
//   declared, no registry entry      -> provision (+ start when enabled)
//   declared, enabled, desired running:
//       not running                  -> start
//       failed                       -> start only when its hash changed (else it stays failed)
//       running with another hash    -> restart, reason names what changed; when only its
//                                       openclaw.json changed: reconfigure (the running
//                                       gateway applies the file itself, plan/hot-reload.ts)
//   declared but disabled            -> stop when alive; block and home are KEPT (still declared)
//   registry desired = stopped       -> stop when alive, never started (`fleetctl stop` sticks)
//   manifest entry no longer declared-> stop when alive, then free its block
//   CLI entry not in `desired`       -> kept, no action (only `fleetctl remove` drops it: planRemoval)
// `start` and `restart` imply that the daemon (re)provisions the home first (openclaw.json is
// rewritten only when its content changed), so a config change needs no separate action.
import { isAlive as stateIsAlive, type AgentState } from './agent-states.js';
import type { AgentAddress } from '../manifest/ids.js';
import { compareAddress } from './desired.js';
import { changedParts, changeReason } from './hash.js';
import { reloadWay } from './hot-reload.js';
import type { DesiredAgent, PlanAction, RegistryEntry, RegistryFile } from './types.js';

/** What the daemon sees of one agent right now. */
export interface ObservedAgent {
  state: AgentState;
  /** Hash the current process was started with, when known (else the registry's is used). */
  appliedHash?: string;
}

/** Inputs of planReconcile. */
export interface ReconcileInput {
  desired: readonly DesiredAgent[];
  registry: RegistryFile;
  /** Keyed by address; a missing address means no runner (treated as stopped). */
  observed: Readonly<Record<string, ObservedAgent>>;
  /** Applied hash each desired agent WOULD get now, keyed by address (agents with a registry entry). */
  hashes: Readonly<Record<string, string>>;
}

/** States in which nothing needs starting: alive and not on the way down. */
const upOrComing = (state: AgentState): boolean => stateIsAlive(state) && state !== 'stopping';

/** Computes the actions that bring observed in line with desired, sorted by address. */
export function planReconcile(input: ReconcileInput): PlanAction[] {
  const desired = new Map<string, DesiredAgent>(input.desired.map((d) => [d.address, d]));
  const addresses = [...new Set([...desired.keys(), ...Object.keys(input.registry.agents)])].sort(compareAddress);
  const actions: PlanAction[] = [];
  for (const address of addresses) {
    const want = desired.get(address);
    const entry = input.registry.agents[address];
    const seen = input.observed[address];
    if (want) actions.push(...planDeclared(want, entry, seen, input.hashes[address]));
    else if (entry && entry.source === 'manifest') actions.push(...planRemoval(address as AgentAddress, entry, seen, 'removed from the manifest'));
  }
  return actions;
}

/** Actions that take an agent out of the fleet: stop it if alive, then free its block (home stays on disk). */
export function planRemoval(address: AgentAddress, entry: RegistryEntry | undefined, seen: ObservedAgent | undefined, reason: string): PlanAction[] {
  const actions: PlanAction[] = [];
  if (isAlive(entry, seen)) actions.push({ kind: 'stop', address, reason });
  actions.push({ kind: 'free', address, reason });
  return actions;
}

/** Actions for one agent that is wanted. */
function planDeclared(want: DesiredAgent, entry: RegistryEntry | undefined, seen: ObservedAgent | undefined, hash: string | undefined): PlanAction[] {
  const address = want.address;
  if (!entry) {
    if (!want.enabled) return [{ kind: 'provision', address, reason: 'new agent (disabled: block reserved, not started)' }];
    return [
      { kind: 'provision', address, reason: 'new agent' },
      { kind: 'start', address, reason: 'new agent' },
    ];
  }
  if (!want.enabled || entry.desired === 'stopped') {
    if (!isAlive(entry, seen)) return [];
    return [{ kind: 'stop', address, reason: want.enabled ? 'stopped by the operator' : 'disabled in the manifest' }];
  }
  const state = seen?.state ?? 'stopped';
  const applied = seen?.appliedHash ?? entry.appliedHash;
  const changed = hash !== undefined && applied !== undefined ? changedParts(applied, hash) : [];
  if (upOrComing(state)) {
    if (changed.length === 0) return [];
    const how = reloadWay(state, changed, want.config);
    if (how.way === 'reconfigure') return [{ kind: 'reconfigure', address, reason: changeReason(changed) }];
    return [{ kind: 'restart', address, reason: how.why ? `${changeReason(changed)}; ${how.why}` : changeReason(changed) }];
  }
  if (state === 'failed') return changed.length > 0 ? [{ kind: 'start', address, reason: changeReason(changed) }] : [];
  return [{ kind: 'start', address, reason: state === 'stopping' ? 'stopping, wanted running' : 'not running' }];
}

// With no runner for it, an agent whose registry entry still records a process may have a
// gateway left over from a previous fleetd: count it as alive so removal stops it.
/** True when a gateway of this agent may be running. */
function isAlive(entry: RegistryEntry | undefined, seen: ObservedAgent | undefined): boolean {
  if (seen) return stateIsAlive(seen.state);
  return entry?.process !== undefined;
}
