// Which reload changes a running gateway can take in place (pure). OpenClaw watches its
// openclaw.json and applies most keys itself: hot, or by an in-process restart on the same
// pid with OPENCLAW_NO_RESPAWN=1 (runtime docs: docs/gateway/configuration/hot-reload.md).
// So a reload whose only change for an agent is its openclaw.json writes the file and lets
// the gateway apply it (`reconfigure`); an environment or launch change needs a new process
// (`restart`), as does a gateway told not to watch (`gateway.reload.mode: "off"`).
import type { AgentState } from './agent-states.js';
import type { HashPart } from './hash.js';
import { isPlainObject, type JsonObject } from './merge.js';

/** States in which a gateway can apply a config change in place: it runs and answers. */
export const IN_PLACE_STATES: ReadonlySet<AgentState> = new Set(['running', 'reconfiguring']);

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
  if (!IN_PLACE_STATES.has(state)) return { way: 'restart' };
  if (changed.length !== 1 || changed[0] !== 'config') return { way: 'restart' };
  if (reloadModeOf(config) === 'off') return { way: 'restart', why: 'gateway.reload.mode is "off", so the gateway does not apply edits itself' };
  return { way: 'reconfigure' };
}
