// `fleetctl start agent FLEET/AGENT`, `start fleet FLEET`, `start --all` [--no-wait]: start
// agents (at most startConcurrency booting at once) and wait until each is running (or,
// with --no-wait, answer once the launches began). --no-wait belongs to `start` itself so
// every form reads it.
import type { Command } from 'commander';
import { FleetError } from '../../errors.js';
import { callRaw } from '../../protocol/client.js';
import { requireAddress, requireFleet } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { runBulk } from './bulk.js';
import { groupCommand } from './group.js';
import { reportAgent } from './report-agent.js';

/** Options of the `start` group, read by each form. */
interface StartOpts {
  all?: boolean;
  wait: boolean;
}

/** Registers `start agent`, `start fleet` and `start --all`. */
export function registerStart(program: Command, run: CliRun): void {
  const start = groupCommand(program, 'start', 'start an agent, a fleet, or every agent (--all)')
    .option('--all', 'start every enabled agent of every fleet (at most startConcurrency booting at once)')
    .option('--no-wait', 'answer once the launches began (starting); `fleetctl status` shows the rest')
    .action(async (opts: StartOpts, cmd: Command) => {
      if (!opts.all) throw new FleetError('USAGE', 'say what to start: `fleetctl start agent FLEET/AGENT`, `fleetctl start fleet FLEET` or `fleetctl start --all`');
      await runBulk(run, globalsOf(cmd, run.deps), 'startAll', {}, { wait: opts.wait });
    });
  start
    .command('agent')
    .description('start a stopped, failed or backing-off agent and wait until it is running')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .action(async (addressText: string, _opts: unknown, cmd: Command) => {
      const { wait } = groupOpts(cmd);
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'startAgent', { params, body: { wait } });
      reportAgent(run, json, wait ? 'started' : 'starting', data.agent, raw);
    });
  start
    .command('fleet')
    .description('start every enabled agent of a fleet (at most startConcurrency booting at once) and wait until each is running. Prints a line per agent as it ends (--json: NDJSON, one object per agent, then the result)')
    .argument('<FLEET>', 'fleet id')
    .action(async (fleetText: string, _opts: unknown, cmd: Command) => {
      const { wait } = groupOpts(cmd);
      const fleet = requireFleet(fleetText);
      await runBulk(run, globalsOf(cmd, run.deps), 'startFleet', { fleet }, { wait });
    });
}

/** The `start` group's options as a subcommand sees them; --all with a subcommand is a usage error. */
function groupOpts(cmd: Command): StartOpts {
  const opts = cmd.optsWithGlobals<StartOpts>();
  if (opts.all) throw new FleetError('USAGE', `--all starts every agent: use \`fleetctl start --all\` alone, without \`${cmd.name()}\``);
  return opts;
}
