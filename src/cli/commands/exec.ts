// `fleetctl exec FLEET/AGENT [--] CMD [ARGS...]` and `fleetctl openclaw FLEET/AGENT ARGS...`:
// run a command as the agent (its user, clean env, home, pinned runtime first on PATH,
// OPENCLAW_SUPERVISOR_MODE=external). fleetctl asks fleetd for the exec spec, then spawns
// the command itself with the terminal inherited; its exit code is fleetctl's.
import type { Command } from 'commander';
import { FleetError } from '../../errors.js';
import { call } from '../../protocol/client.js';
import type { ExecSpec } from '../../protocol/operate-schemas.js';
import { requireAddress } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { openclawArgv, prepareLaunch, runInherited } from '../exec/launch.js';

const EXEC_HELP = `
The command runs as the agent's user, in its home, with the environment its gateway gets
(HOME, OPENCLAW_HOME, OPENCLAW_STATE_DIR, OPENCLAW_CONFIG_PATH, TMPDIR, ...; secret files
read by fleetctl, as the caller), its OpenClaw runtime's node and openclaw first on PATH,
and OPENCLAW_SUPERVISOR_MODE=external. stdin, stdout, stderr and the terminal pass through;
fleetctl exits with the command's code (128+N when signal N ended it).
Only the agent's user or root may do this (root switches user with setpriv).

Examples:
  fleetctl exec acme/korax -- ls -la .openclaw
  fleetctl exec acme/korax -- sh -c 'echo $OPENCLAW_STATE_DIR'
  fleetctl openclaw acme/korax channels login        # WhatsApp QR code in this terminal
  fleetctl openclaw acme/korax config set agents.defaults.heartbeat.every 2h`;

/** Registers `exec` and `openclaw`. */
export function registerExec(program: Command, run: CliRun): void {
  program
    .command('exec')
    .description("run a command as an agent: its user, environment, home and OpenClaw runtime")
    .usage('[options] FLEET/AGENT [--] CMD [ARGS...]')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .addHelpText('after', EXEC_HELP)
    .action(async (addressText: string, _opts: unknown, cmd: Command) => {
      const command = run.passthrough ?? [];
      if (command.length === 0) throw new FleetError('USAGE', 'exec needs a command: fleetctl exec FLEET/AGENT [--] CMD [ARGS...]');
      await execAs(run, cmd, addressText, () => command);
    });
  program
    .command('openclaw')
    .description("run the agent's own openclaw CLI as the agent (= exec FLEET/AGENT openclaw ARGS...)")
    .usage('[options] FLEET/AGENT [ARGS...]')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .addHelpText('after', EXEC_HELP)
    .action(async (addressText: string, _opts: unknown, cmd: Command) => {
      await execAs(run, cmd, addressText, (spec) => openclawArgv(spec, run.passthrough ?? []));
    });
}

/** Fetches the exec spec, prepares the launch and runs it; the run's exit code becomes the command's. */
async function execAs(run: CliRun, cmd: Command, addressText: string, command: (spec: ExecSpec) => string[]): Promise<void> {
  const params = requireAddress(addressText);
  const { socket } = globalsOf(cmd, run.deps);
  const spec = await call(socket, 'execSpec', { params });
  const launch = await prepareLaunch(spec, command(spec), { callerUid: process.getuid?.() ?? 0, callerEnv: run.deps.env });
  run.exitCode = await runInherited(launch);
}
