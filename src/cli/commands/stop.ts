// `fleetctl stop agent FLEET/AGENT [--timeout MS]`: stop an agent and keep it stopped.
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import { requireAddress } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { groupCommand, intOption } from './group.js';
import { reportAgent } from './report-agent.js';

/** Upper bound of --timeout, as the protocol allows. */
export const MAX_TIMEOUT_MS = 3_600_000;

/** Registers `stop agent`. */
export function registerStop(program: Command, run: CliRun): void {
  groupCommand(program, 'stop', 'stop an agent')
    .command('agent')
    .description('stop an agent (SIGTERM to its process group, SIGKILL after the timeout); it stays stopped until started')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .option('--timeout <MS>', 'grace period before SIGKILL, in milliseconds', intOption(0, MAX_TIMEOUT_MS))
    .action(async (addressText: string, opts: { timeout?: number }, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'stopAgent', { params, body: opts.timeout === undefined ? {} : { timeoutMs: opts.timeout } });
      reportAgent(run, json, 'stopped', data.agent, raw);
    });
}
