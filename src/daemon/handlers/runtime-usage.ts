// Which OpenClaw versions the fleet's agents pin: shown by `runtime list`, protected from removal.
import type { DaemonContext } from '../context.js';

/** Versions the fleet's agents are pinned to, with the agents that use each. */
export function versionsInUse(ctx: DaemonContext): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const slot of ctx.fleet.slots.values()) {
    if (slot.desired.launch.kind !== 'openclaw') continue;
    const list = used.get(slot.desired.launch.version) ?? [];
    list.push(slot.desired.address);
    used.set(slot.desired.launch.version, list);
  }
  return used;
}
