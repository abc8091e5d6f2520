// Which reload changes a running gateway can take in place (pure). OpenClaw watches its
// openclaw.json and applies most keys itself: hot, or by an in-process restart on the same
// pid with OPENCLAW_NO_RESPAWN=1 (runtime docs: docs/gateway/configuration/hot-reload.md).
// So a reload whose only change for an agent is its openclaw.json writes the file and lets
// the gateway apply it (`reconfigure`); an environment or launch change needs a new process
// (`restart`), as does a gateway told not to watch (`gateway.reload.mode: "off"`).
import { isUp, type AgentState } from './agent-states.js';
import { changedParts, type HashPart } from './hash.js';
import { isPlainObject, type JsonObject } from './merge.js';

/** How a changed agent is brought in line: in place, or by a restart with the reason to add. */
export type ReloadWay = { way: 'reconfigure' } | { way: 'restart'; why?: string };

/** `gateway.reload.mode` of a config ("hybrid", OpenClaw's default, when unset or not a string). */
export function reloadModeOf(config: JsonObject): string {
  const gateway = config['gateway'];
  const reload = isPlainObject(gateway) ? gateway['reload'] : undefined;
  const mode = isPlainObject(reload) ? reload['mode'] : undefined;
  return typeof mode === 'string' ? mode : 'hybrid';
}

/** Decides between reconfigure and restart for an agent in `state` whose hash changed in `changed`; `config` is its desired openclaw.json fragment. */
export function reloadWay(state: AgentState, changed: readonly HashPart[], config: JsonObject): ReloadWay {
  if (!isUp(state)) return { way: 'restart' }; // only a gateway that runs and answers can apply it in place
  if (changed.length !== 1 || changed[0] !== 'config') return { way: 'restart' };
  if (reloadModeOf(config) === 'off') return { way: 'restart', why: 'gateway.reload.mode is "off", so the gateway does not apply edits itself' };
  return { way: 'reconfigure' };
}

// Live restore compares the hash a leftover gateway runs with to the one wanted now. The shim
// recorded the hash of its spawn; a reconfigure applied in place since is in the registry's
// record of that same process (pid and start time checked by the caller). Only the config
// part may differ from the spawn's: a record that claims another env or launch is ignored.
/** The launch hash a gateway spawned with `spawnHash` runs with, given the `appliedHash` a reconfigure recorded for it (if any). */
export function runningHash(spawnHash: string, appliedHash: string | undefined): string {
  if (appliedHash === undefined || appliedHash === spawnHash) return spawnHash;
  const differs = changedParts(spawnHash, appliedHash);
  return differs.length === 1 && differs[0] === 'config' ? appliedHash : spawnHash;
}
