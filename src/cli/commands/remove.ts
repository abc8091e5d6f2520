// `fleetctl remove agent FLEET/AGENT [--purge]`.
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import { requireAddress } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { printJson, printLines } from '../output.js';
import { groupCommand } from './group.js';

/** Registers `remove agent`. */
export function registerRemove(program: Command, run: CliRun): void {
  groupCommand(program, 'remove', 'remove an agent added with fleetctl add')
    .command('agent')
    .description('stop an agent added with `fleetctl add`, free its port block and forget it')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .option('--purge', 'also delete its home directory (config, token, sessions, logs); also works on the home a removed agent left')
    .action(async (addressText: string, opts: { purge?: boolean }, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'removeAgent', { params, body: { purge: opts.purge === true } });
      if (json) return printJson(run.deps.io, raw);
      printLines(run.deps.io, [
        data.freedPort === null ? `no agent ${data.address} was left; its home remained` : `removed ${data.address} (port ${data.freedPort} freed)`,
        data.purged ? `deleted ${data.home}` : `kept its home ${data.home} (delete it with: fleetctl remove agent ${data.address} --purge)`,
      ]);
    });
}
