// `fleetctl reload [--dry-run]`: re-read the manifest and apply (or just show) the difference.
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import { globalsOf, type CliRun } from '../context.js';
import { note, printJson, printLines } from '../output.js';
import { formatAction, formatReconfigured, skippedPortsNote } from './actions.js';

/** Registers `reload`. */
export function registerReload(program: Command, run: CliRun): void {
  program
    .command('reload')
    .description('re-read the manifest and start, stop or restart only the agents whose definition changed; a change of openclaw.json alone is applied by the running gateway itself (reconfigure), with a restart only when it does not take it')
    .option('--dry-run', 'print what would change, change nothing')
    .action(async (opts: { dryRun?: boolean }, cmd: Command) => {
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'reload', { body: { dryRun: opts.dryRun === true } });
      if (json) return printJson(run.deps.io, raw);
      if (data.actions.length === 0) printLines(run.deps.io, ['no changes']);
      else printLines(run.deps.io, data.actions.map(formatAction));
      if (data.reconfigured.length > 0) printLines(run.deps.io, data.reconfigured.map(formatReconfigured));
      if (opts.dryRun && data.actions.length) note(run.deps.io, '(dry run: nothing was changed; run fleetctl reload to apply)');
      const skipped = skippedPortsNote(data.skippedPorts);
      if (skipped) note(run.deps.io, skipped);
    });
}
