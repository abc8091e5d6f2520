// Which OpenClaw versions the fleet's agents pin: shown by `runtime list`, protected from removal.
import { launchRuntimeKey } from '../../runtime/runtime-key.js';
import type { DaemonContext } from '../context.js';

/** Runtime keys (`2026.9.6`, `2026.9.6+node-24.21.0`) the fleet's agents are pinned to, with the agents that use each. */
export function versionsInUse(ctx: DaemonContext): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const slot of ctx.fleet.slots.values()) {
    if (slot.desired.launch.kind !== 'openclaw') continue;
    const key = launchRuntimeKey(slot.desired.launch);
    const list = used.get(key) ?? [];
    list.push(slot.desired.address);
    used.set(key, list);
  }
  return used;
}
