// `fleetctl doctor [FLEET/AGENT] [--no-openclaw]`: fleetd checks the installation (or one
// agent) and says, for each problem, the next step. Exit 1 when something needs attention
// (a check at warn or fail); fleetctl adds one check of its own: its version against fleetd's.
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import type { DoctorReport } from '../../protocol/doctor-schemas.js';
import { VERSION } from '../../version.js';
import { requireAddress } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { printJson, printLines } from '../output.js';
import { clientVersionCheck, renderDoctor } from '../doctor-view.js';

/** Registers `doctor`. */
export function registerDoctor(program: Command, run: CliRun): void {
  program
    .command('doctor')
    .description('check the installation (or one agent) and say what needs attention, with the next step for each; exit 1 when something does')
    .argument('[FLEET/AGENT]', 'check this agent, and run `openclaw doctor --lint` as it')
    .option('--no-openclaw', 'with an agent: skip `openclaw doctor` (it takes a few seconds of CPU)')
    .option('-v, --verbose', 'also list the checks that passed')
    .addHelpText(
      'after',
      `
Checks: the manifest on disk (valid, applied), runtimes intact, fleetd and Node versions,
the per-agent shim and memory reclaim fleetd runs (native, on), free disk, cgroup and per-agent user isolation available, fleetd's files and each agent's
home at their modes and owner, each agent's state and port (held by its own gateway),
processes of an agent outside its gateway tree, OpenClaw's lock files of removed agents.

Examples:
  fleetctl doctor
  fleetctl doctor acme/korax
  fleetctl doctor acme/korax --no-openclaw --json`,
    )
    .action(async (addressText: string | undefined, opts: { openclaw: boolean; verbose?: boolean }, cmd: Command) => {
      const params = addressText === undefined ? undefined : requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data } = params
        ? await callRaw(socket, 'agentDoctor', { params, query: opts.openclaw ? {} : { openclaw: '0' } })
        : await callRaw(socket, 'doctor');
      const own = clientVersionCheck(data.fleetd.version, VERSION);
      const report: DoctorReport = { ...data, checks: [own, ...data.checks], attention: data.attention || own.level !== 'ok' };
      if (report.attention) run.exitCode = 1;
      if (json) return printJson(run.deps.io, report);
      printLines(run.deps.io, renderDoctor(report, opts.verbose === true));
    });
}
