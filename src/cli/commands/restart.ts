// `fleetctl restart agent FLEET/AGENT` and `fleetctl restart fleet FLEET` (one agent at a
// time; fleetd stops at the first agent that does not come back).
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import { requireAddress, requireFleet } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { note, printJson, printLines } from '../output.js';
import { groupCommand, intOption } from './group.js';
import { reportAgent } from './report-agent.js';
import { MAX_TIMEOUT_MS } from './stop.js';

const TIMEOUT_HELP = 'grace period of the stop before SIGKILL, in milliseconds';

/** Registers `restart agent` and `restart fleet`. */
export function registerRestart(program: Command, run: CliRun): void {
  const restart = groupCommand(program, 'restart', 'restart an agent or a whole fleet');
  restart
    .command('agent')
    .description('stop an agent, start it again and wait until it is ready')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .option('--timeout <MS>', TIMEOUT_HELP, intOption(0, MAX_TIMEOUT_MS))
    .action(async (addressText: string, opts: { timeout?: number }, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const body = opts.timeout === undefined ? { wait: true } : { wait: true, timeoutMs: opts.timeout };
      const { data, raw } = await callRaw(socket, 'restartAgent', { params, body });
      reportAgent(run, json, 'restarted', data.agent, raw);
    });
  restart
    .command('fleet')
    .description('restart every running agent of a fleet, one at a time, each waiting for readiness')
    .argument('<FLEET>', 'fleet id')
    .option('--timeout <MS>', TIMEOUT_HELP, intOption(0, MAX_TIMEOUT_MS))
    .action(async (fleetText: string, opts: { timeout?: number }, cmd: Command) => {
      const fleet = requireFleet(fleetText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const body = opts.timeout === undefined ? {} : { timeoutMs: opts.timeout };
      const { data, raw } = await callRaw(socket, 'restartFleet', { params: { fleet }, body });
      if (json) printJson(run.deps.io, raw);
      else {
        printLines(run.deps.io, [
          ...data.restarted.map((address) => `restarted ${address}`),
          ...data.skipped.map((address) => `skipped ${address} (stopped by the operator or disabled)`),
        ]);
        if (!data.restarted.length && !data.failed) note(run.deps.io, `nothing to restart in fleet ${data.fleet}`);
      }
      if (data.failed) {
        run.exitCode = 1;
        note(run.deps.io, `fleetctl: ${data.failed.address} did not come back: ${data.failed.reason} (see fleetctl logs ${data.failed.address})`);
      }
    });
}
