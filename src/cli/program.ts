// Builds the commander program of fleetctl: global options, help text, every command.
// Commander never exits or prints on its own here: output goes to the injected io and
// errors are thrown to run.ts, which maps them to exit codes.
import { Command, Option } from 'commander';
import { registerAdd } from './commands/add.js';
import { registerCompletion } from './commands/completion.js';
import { registerDaemon } from './commands/daemon.js';
import { registerFederation } from './commands/federation.js';
import { registerBackup } from './commands/backup.js';
import { registerConfig } from './commands/config.js';
import { registerDoctor } from './commands/doctor.js';
import { registerExec } from './commands/exec.js';
import { registerLogs } from './commands/logs.js';
import { registerReload } from './commands/reload.js';
import { registerRemove } from './commands/remove.js';
import { registerRestart } from './commands/restart.js';
import { registerRuntime } from './commands/runtime.js';
import { registerStart } from './commands/start.js';
import { registerStatus } from './commands/status.js';
import { registerStop } from './commands/stop.js';
import { registerToken } from './commands/token.js';
import { registerEvents } from './commands/events.js';
import { registerUpgrade } from './commands/upgrade.js';
import type { CliRun } from './context.js';
import { LOCAL_SOCKET, SOCKET_ENV, SYSTEM_SOCKET } from './socket-path.js';
import { VERSION } from '../version.js';

const HELP_AFTER = `
Examples:
  fleetctl status
  fleetctl status acme
  fleetctl add agent acme/new --set agents.defaults.model.primary='"anthropic/claude-sonnet-4-6"' --set browser.enabled=false
  fleetctl restart fleet acme
  fleetctl logs acme/korax -f
  fleetctl reload --dry-run
  fleetctl federation
  fleetctl token acme/goreos --hooks
  fleetctl upgrade acme --to 2026.9.6 --dry-run
  fleetctl events -f
  fleetctl doctor acme/korax

Socket: --socket, else $${SOCKET_ENV}, else ${SYSTEM_SOCKET} when it exists,
else ./${LOCAL_SOCKET} (where \`fleetd start --manifest FILE\` puts it by default).

Output: results on stdout, errors and diagnostics on stderr. --json: only JSON, only on
stdout (fleetd's answer as one document, NDJSON for progress; an error as
{"error":{"code","message"}}), nothing on stderr; the exit code says whether it failed.
Exit codes: 0 success, 1 the operation failed, 2 usage error, 3 fleetd not reachable.`;

/** The fleetctl program, wired to `run` (its io, environment and exit code). */
export function buildProgram(run: CliRun): Command {
  const program = new Command('fleetctl')
    .description('control openclaw-fleetd: the agents of your OpenClaw fleets, their logs, tokens and runtimes')
    .version(VERSION, '-V, --version', 'print the fleetctl version')
    .addOption(new Option('--socket <PATH>', `fleetd control socket (default: $${SOCKET_ENV}, ${SYSTEM_SOCKET} if present, else ./${LOCAL_SOCKET})`))
    .option('--json', 'machine-readable output: one JSON document on stdout')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', HELP_AFTER)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => run.deps.io.out(text),
      writeErr: (text) => run.deps.io.err(text),
    });
  registerStatus(program, run);
  registerAdd(program, run);
  registerRemove(program, run);
  registerStart(program, run);
  registerStop(program, run);
  registerRestart(program, run);
  registerLogs(program, run);
  registerReload(program, run);
  registerToken(program, run);
  registerFederation(program, run);
  registerRuntime(program, run);
  registerConfig(program, run);
  registerBackup(program, run);
  registerExec(program, run);
  registerDaemon(program, run);
  registerUpgrade(program, run);
  registerEvents(program, run);
  registerDoctor(program, run);
  registerCompletion(program, run);
  return program;
}
