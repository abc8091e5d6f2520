// Shared steps of the start/stop/restart handlers: find the agent, refuse what cannot be,
// and turn "did not come back" into an error the CLI exits 1 on.
import { FleetError } from '../../errors.js';
import { toAddress } from '../../manifest/ids.js';
import type { RunnerStatus } from '../../supervise/types.js';
import type { DaemonContext } from '../context.js';

/** The slot of `:fleet/:agent`, refusing agents the manifest disables. */
export function enabledSlot(ctx: DaemonContext, params: { fleet?: string; agent?: string }) {
  const address = toAddress(params.fleet!, params.agent!);
  const slot = ctx.fleet.slotOf(address);
  if (!slot.desired.enabled) {
    throw new FleetError('REFUSED', `${address} is disabled in the manifest ${ctx.fleet.manifest.manifestPath}; set enabled: true there and run \`fleetctl reload\``);
  }
  return { address, slot };
}

/** Records the operator's wish (running/stopped) so it survives fleetd restarts. */
export async function setDesired(ctx: DaemonContext, address: string, desired: 'running' | 'stopped'): Promise<void> {
  await ctx.fleet.persist((r) => {
    const entry = r.agents[address];
    if (entry) entry.desired = desired;
  });
}

/** Throws AGENT_FAILED unless the start attempt ended with the agent running. */
export function expectRunning(address: string, status: RunnerStatus | undefined, ctx: DaemonContext): void {
  if (status?.state === 'running') return;
  const view = ctx.fleet.viewOf(address);
  throw new FleetError('AGENT_FAILED', `${address} did not come back: ${view.state}, ${view.reason}. See \`fleetctl logs ${address}\``, { details: { agent: view } });
}
