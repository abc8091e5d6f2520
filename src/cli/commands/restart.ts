// `fleetctl restart agent FLEET/AGENT [--no-wait]` and `fleetctl restart fleet FLEET` (one
// agent at a time, progress as it goes; fleetd stops at the first agent that does not come back).
import type { Command } from 'commander';
import { FleetError } from '../../errors.js';
import { callRaw, stream } from '../../protocol/client.js';
import { rollingEventSchema, type ResponseBody } from '../../protocol/schemas.js';
import { decodeWireError } from '../../protocol/wire-error.js';
import { requireAddress, requireFleet } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { note, printJsonLine, printLines } from '../output.js';
import { groupCommand, intOption } from './group.js';
import { reportAgent } from './report-agent.js';
import { MAX_TIMEOUT_MS } from './stop.js';

const TIMEOUT_HELP = 'grace period of the stop before SIGKILL, in milliseconds';

/** Registers `restart agent` and `restart fleet`. */
export function registerRestart(program: Command, run: CliRun): void {
  const restart = groupCommand(program, 'restart', 'restart an agent or a whole fleet');
  restart
    .command('agent')
    .description('stop an agent, start it again (same port and token) and wait until it is running')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .option('--timeout <MS>', TIMEOUT_HELP, intOption(0, MAX_TIMEOUT_MS))
    .option('--no-wait', 'answer once the restart began (starting); `fleetctl status` shows the rest')
    .action(async (addressText: string, opts: { timeout?: number; wait: boolean }, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const body = opts.timeout === undefined ? { wait: opts.wait } : { wait: opts.wait, timeoutMs: opts.timeout };
      const { data, raw } = await callRaw(socket, 'restartAgent', { params, body });
      reportAgent(run, json, opts.wait ? 'restarted' : 'restarting', data.agent, raw);
    });
  restart
    .command('fleet')
    .description('rolling restart: every agent of a fleet, one at a time, each running again before the next; stops at the first that does not come back. Prints a line per agent as it goes (--json: NDJSON, one object per step, then the result)')
    .argument('<FLEET>', 'fleet id')
    .option('--timeout <MS>', TIMEOUT_HELP, intOption(0, MAX_TIMEOUT_MS))
    .action(async (fleetText: string, opts: { timeout?: number }, cmd: Command) => {
      const fleet = requireFleet(fleetText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const body = opts.timeout === undefined ? {} : { timeoutMs: opts.timeout };
      let result: ResponseBody<'restartFleet'> | undefined;
      for await (const raw of stream(socket, 'restartFleet', { params: { fleet }, body, query: { progress: '1' } })) {
        const event = rollingEventSchema.safeParse(raw);
        if (!event.success) throw new FleetError('INTERNAL', `fleetd sent an unexpected rolling-restart event: ${JSON.stringify(raw).slice(0, 200)}`);
        const data = event.data;
        if ('error' in data) throw decodeWireError(data);
        if (json) printJsonLine(run.deps.io, raw);
        if ('result' in data) result = data.result;
        else if (!json) printLines(run.deps.io, [progressLine(data.progress)]);
      }
      if (!result) throw new FleetError('INTERNAL', `fleetd ended the rolling restart of ${fleet} without a result; see fleetd's log`);
      if (!json && !result.restarted.length && !result.failed) note(run.deps.io, `nothing to restart in fleet ${result.fleet}`);
      if (result.failed) {
        run.exitCode = 1;
        note(run.deps.io, `fleetctl: ${result.failed.address} did not come back: ${result.failed.reason}; see fleetctl logs ${result.failed.address}`);
      }
    });
}

/** One line per step: `restarting acme/a ...`, `restarted acme/a: running again as pid 42`, `skipped acme/b: stopped by the operator`. */
function progressLine(p: { address: string; step: string; reason: string }): string {
  return p.step === 'restarting' ? `restarting ${p.address} ...` : `${p.step} ${p.address}: ${p.reason}`;
}
