// `fleetctl start agent FLEET/AGENT [--no-wait]`: start a stopped agent and wait until it is
// running (or, with --no-wait, answer at once with the state it is in).
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import { requireAddress } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { groupCommand } from './group.js';
import { reportAgent } from './report-agent.js';

/** Registers `start agent`. */
export function registerStart(program: Command, run: CliRun): void {
  groupCommand(program, 'start', 'start an agent')
    .command('agent')
    .description('start a stopped, failed or backing-off agent and wait until it is running')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .option('--no-wait', 'answer at once with the state the agent is in (starting); `fleetctl status` shows the rest')
    .action(async (addressText: string, opts: { wait: boolean }, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'startAgent', { params, body: { wait: opts.wait } });
      reportAgent(run, json, opts.wait ? 'started' : 'starting', data.agent, raw);
    });
}
