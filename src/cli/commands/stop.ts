// `fleetctl stop agent FLEET/AGENT`, `stop fleet FLEET`, `stop --all` [--timeout MS]: stop
// agents and keep them stopped (across fleetd restarts too) until they are started.
// --timeout belongs to `stop` itself so every form reads it (commander hands an option
// defined on the parent to the parent, wherever it is typed).
import type { Command } from 'commander';
import { FleetError } from '../../errors.js';
import { callRaw } from '../../protocol/client.js';
import { requireAddress, requireFleet } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { runBulk } from './bulk.js';
import { groupCommand, intOption } from './group.js';
import { reportAgent } from './report-agent.js';

/** Upper bound of --timeout, as the protocol allows. */
export const MAX_TIMEOUT_MS = 3_600_000;

/** Options of the `stop` group, read by each form. */
interface StopOpts {
  all?: boolean;
  timeout?: number;
}

/** Registers `stop agent`, `stop fleet` and `stop --all`. */
export function registerStop(program: Command, run: CliRun): void {
  const stop = groupCommand(program, 'stop', 'stop an agent, a fleet, or every agent (--all)')
    .option('--all', 'stop every agent of every fleet, all at once (fleetd keeps running)')
    .option('--timeout <MS>', 'grace period before SIGKILL, in milliseconds', intOption(0, MAX_TIMEOUT_MS))
    .action(async (opts: StopOpts, cmd: Command) => {
      if (!opts.all) throw new FleetError('USAGE', 'say what to stop: `fleetctl stop agent FLEET/AGENT`, `fleetctl stop fleet FLEET` or `fleetctl stop --all`');
      await runBulk(run, globalsOf(cmd, run.deps), 'stopAll', {}, bodyOf(opts));
    });
  stop
    .command('agent')
    .description('stop an agent (SIGTERM to its process tree, SIGKILL after the timeout); it stays stopped until started')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .action(async (addressText: string, _opts: unknown, cmd: Command) => {
      const opts = groupOpts(cmd);
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'stopAgent', { params, body: bodyOf(opts) });
      reportAgent(run, json, 'stopped', data.agent, raw);
    });
  stop
    .command('fleet')
    .description('stop every agent of a fleet, all at once; each stays stopped until started. Prints a line per agent as it stops (--json: NDJSON, one object per agent, then the result)')
    .argument('<FLEET>', 'fleet id')
    .action(async (fleetText: string, _opts: unknown, cmd: Command) => {
      const opts = groupOpts(cmd);
      const fleet = requireFleet(fleetText);
      await runBulk(run, globalsOf(cmd, run.deps), 'stopFleet', { fleet }, bodyOf(opts));
    });
}

/** The `stop` group's options as a subcommand sees them; --all with a subcommand is a usage error. */
function groupOpts(cmd: Command): StopOpts {
  const opts = cmd.optsWithGlobals<StopOpts>();
  if (opts.all) throw new FleetError('USAGE', `--all stops every agent: use \`fleetctl stop --all\` alone, without \`${cmd.name()}\``);
  return opts;
}

/** The request body of a stop. */
function bodyOf(opts: StopOpts): { timeoutMs?: number } {
  return opts.timeout === undefined ? {} : { timeoutMs: opts.timeout };
}
