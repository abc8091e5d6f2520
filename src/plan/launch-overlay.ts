// Which runtime each agent runs, given the manifest file, `fleetctl upgrade` pins and the
// rollout (pure). The answer is the manifest fleetd applies: the file's, plus
// `launchOverrides` for every agent whose launch is not simply the file's:
//   1. a `fleetctl upgrade` pin stands in for an edit of the file at its scope (fleet or
//      agent); it is dropped once the file's pin at that scope differs from what it was
//      when the pin was made (the operator edited the file: the file wins) or equals it
//      (the operator persisted it);
//   2. an agent in an active rollout runs what its phase says (plan/rollout.ts runtimeAt);
//   3. an agent a failed rollout left on its previous runtime stays there while the wanted
//      runtime is still the one that failed (a hold; a new target releases it);
//   4. a RUNNING agent whose runtime would change keeps its current one and becomes a
//      rollout candidate: the rollout, not the reconcile, restarts it, one batch at a time.
// Only changes between two managed runtimes go through rollouts; a switch between
// `gateway.command` and a managed runtime restarts the agent as before.
import type { GatewayLaunch, Manifest } from '../manifest/schema.js';
import { parseAddress } from '../manifest/ids.js';
import type { Hold, PinOverride, RolloutRecord } from '../protocol/rollout.js';
import { launchRuntimeKey, parseRuntimeKey } from '../runtime/runtime-key.js';
import { desiredAgents, launchOf } from './desired.js';
import { isActive, runtimeAt, type RolloutCandidate } from './rollout.js';
import type { RegistryFile } from './types.js';

/** What an agent runs right now, as the daemon sees it. */
export interface CurrentLaunch {
  launch: GatewayLaunch;
  /** Wanted running and alive (starting, running, backoff): a change needs a restart. */
  alive: boolean;
}

/** Inputs of planLaunches. */
export interface OverlayInput {
  /** The manifest as read from its file (no launchOverrides). */
  file: Manifest;
  registry: RegistryFile;
  overrides: readonly PinOverride[];
  /** The active rollout, or the last one. */
  rollout: RolloutRecord | null;
  /** Agents failed rollouts left on their previous runtime. */
  holds: readonly Hold[];
  current: ReadonlyMap<string, CurrentLaunch>;
}

/** What planLaunches decided. */
export interface OverlayResult {
  /** The manifest to apply (file + launchOverrides). */
  manifest: Manifest;
  kept: PinOverride[];
  dropped: Array<{ override: PinOverride; why: string }>;
  /** Agents whose runtime must change and that no rollout covers yet (running: needs a gated restart). */
  candidates: RolloutCandidate[];
  /** Holds that still apply (the wanted runtime is still the one that failed). */
  held: Hold[];
  /** Holds released: something else is wanted for the agent now (or it is gone). */
  released: Hold[];
  /** Agents of the ACTIVE rollout for which something else is now wanted. */
  conflicts: Array<{ address: string; rolloutTo: string; wanted: string }>;
}

/** The file's pin at an override's scope. */
export function filePinAt(file: Manifest, scope: string): { openclaw: string | null; node: string | null } | undefined {
  const address = parseAddress(scope);
  const fleet = file.fleets[address ? address.fleet : scope];
  if (address) {
    const agent = fleet?.agents[address.agent];
    return { openclaw: agent?.gateway?.openclaw ?? null, node: agent?.gateway?.node ?? null };
  }
  return { openclaw: fleet?.gateway?.openclaw ?? null, node: fleet?.gateway?.node ?? null };
}

/** Splits overrides into those still standing and those the file superseded (with why). */
export function reviewOverrides(file: Manifest, overrides: readonly PinOverride[]): Pick<OverlayResult, 'kept' | 'dropped'> {
  const kept: PinOverride[] = [];
  const dropped: OverlayResult['dropped'] = [];
  for (const o of overrides) {
    const pin = filePinAt(file, o.scope);
    if (!pin || (pin.openclaw === o.base.openclaw && pin.node === o.base.node)) {
      if (pin && pin.openclaw === o.openclaw && (o.node === undefined || pin.node === o.node)) dropped.push({ override: o, why: `the manifest now pins ${o.scope} to ${o.openclaw} itself` });
      else kept.push(o);
    } else {
      dropped.push({ override: o, why: `the manifest's pin of ${o.scope} changed (${o.base.openclaw ?? 'none'} -> ${pin.openclaw ?? 'none'}): the file wins` });
    }
  }
  return { kept, dropped };
}

/** The launch after overrides: an agent-scope pin wins; a fleet-scope pin applies unless the file pins the agent itself. */
function withOverrides(file: Manifest, fleet: string, agent: string, base: GatewayLaunch, overrides: readonly PinOverride[]): GatewayLaunch {
  const own = overrides.find((o) => o.scope === `${fleet}/${agent}`);
  const agentPinned = file.fleets[fleet]?.agents[agent]?.gateway?.openclaw !== undefined;
  const chosen = own ?? (agentPinned ? undefined : overrides.find((o) => o.scope === fleet));
  if (!chosen) return base;
  const node = chosen.node ?? (base.kind === 'openclaw' ? base.node : undefined);
  return node === undefined ? { kind: 'openclaw', version: chosen.openclaw } : { kind: 'openclaw', version: chosen.openclaw, node };
}

/** The launch of a runtime key. */
export function launchOfKey(key: string): GatewayLaunch {
  const id = parseRuntimeKey(key);
  if (!id) throw new Error(`internal: ${JSON.stringify(key)} is not a runtime key`);
  return id.node === undefined ? { kind: 'openclaw', version: id.openclaw } : { kind: 'openclaw', version: id.openclaw, node: id.node };
}

/** Runtime key of a launch; null for a fixed command. */
export function keyOf(launch: GatewayLaunch): string | null {
  return launch.kind === 'openclaw' ? launchRuntimeKey(launch) : null;
}

/**
 * Agents of `current` in scope that run a fixed `gateway.command` and that `planned` would
 * put on a managed OpenClaw version instead: `fleetctl upgrade` moves agents between
 * OpenClaw versions only, so these are not upgradable (sorted addresses).
 */
export function commandAgentsSwitched(planned: Manifest, current: ReadonlyMap<string, CurrentLaunch>, inScope: (address: string) => boolean): string[] {
  const out: string[] = [];
  for (const [address, cur] of current) {
    const parsed = parseAddress(address);
    if (!parsed || !inScope(address) || cur.launch.kind !== 'command') continue;
    if (launchOf(planned, parsed.fleet, parsed.agent).kind === 'openclaw') out.push(address);
  }
  return out.sort();
}

/** Decides every agent's launch (rules at the top of the file). */
export function planLaunches(input: OverlayInput): OverlayResult {
  const { file, rollout } = input;
  const { kept, dropped } = reviewOverrides(file, input.overrides);
  const plain: Manifest = { ...file, launchOverrides: undefined };
  const overridesOut: Record<string, GatewayLaunch> = {};
  const candidates: RolloutCandidate[] = [];
  const held: Hold[] = [];
  const holdOf = new Map(input.holds.map((h) => [h.address, h]));
  const conflicts: OverlayResult['conflicts'] = [];
  const inRollout = new Map((rollout?.agents ?? []).map((a) => [a.address, a]));
  const active = isActive(rollout);

  for (const d of desiredAgents(plain, input.registry, launchOf)) {
    const base = d.launch;
    const wanted = withOverrides(file, d.fleet, d.agent, base, kept);
    const wantedKey = keyOf(wanted);
    const r = inRollout.get(d.address);
    let launch = wanted;
    if (r && active) {
      if (wantedKey !== r.to) conflicts.push({ address: d.address, rolloutTo: r.to, wanted: wantedKey ?? 'a fixed command' });
      launch = launchOfKey(runtimeAt(r));
    } else if (holdOf.get(d.address)?.to === wantedKey) {
      const hold = holdOf.get(d.address)!;
      held.push(hold);
      launch = launchOfKey(hold.from);
    } else {
      const cur = input.current.get(d.address);
      const curKey = cur ? keyOf(cur.launch) : null;
      if (cur && curKey !== null && wantedKey !== null && curKey !== wantedKey) {
        candidates.push({ address: d.address, fleet: d.fleet, from: curKey, to: wantedKey, running: cur.alive });
        if (cur.alive) launch = cur.launch;
      }
    }
    if (keyOf(launch) !== keyOf(base) || launch.kind !== base.kind) overridesOut[d.address] = launch;
  }
  const manifest: Manifest = Object.keys(overridesOut).length > 0 ? { ...plain, launchOverrides: overridesOut } : plain;
  const released = input.holds.filter((h) => !held.includes(h));
  return { manifest, kept, dropped, candidates, held, released, conflicts };
}
