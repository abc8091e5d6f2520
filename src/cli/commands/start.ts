// `fleetctl start agent FLEET/AGENT`: start a stopped agent and wait until it is ready.
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
    .description('start a stopped agent and wait until it answers its readiness probe')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .action(async (addressText: string, _opts: unknown, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'startAgent', { params, body: { wait: true } });
      reportAgent(run, json, 'started', data.agent, raw);
    });
}
