// Runs fleetctl once and returns its exit code: 0 success, 1 failed, 2 usage, 3 fleetd
// unreachable (EXIT_CODES). Nothing here exits the process; main.ts does.
import { CommanderError } from 'commander';
import { EXIT_CODES, FleetError } from '../errors.js';
import type { CliDeps, CliRun } from './context.js';
import { errorDocument, printJsonLine, reportError } from './output.js';
import { splitPassthrough } from './exec/passthrough.js';
import { buildProgram } from './program.js';

/** Commander outcomes that are not errors. */
const COMMANDER_SUCCESS = new Set(['commander.helpDisplayed', 'commander.version']);

/** True when --json was given (checked on argv so even commander's own usage errors honour it). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Parses `argv` (without node and script), runs the command, reports any error; returns the exit code.
 * The --json rule, for every command: fleetctl writes only JSON, only on stdout (the answer,
 * its NDJSON progress, or the error document `{"error":{code,message}}`), and nothing on
 * stderr; the exit code says whether it failed. Without --json, results go to stdout and
 * errors and diagnostics to stderr. (exec/openclaw pass the command's own stderr through.)
 */
export async function runCli(argv: readonly string[], given: CliDeps): Promise<number> {
  const split = splitPassthrough(argv);
  const json = wantsJson(split.argv);
  // one place enforces the rule: no command, nor commander itself, can reach stderr with --json
  const deps: CliDeps = json ? { ...given, io: { out: (text) => given.io.out(text), err: () => {} } } : given;
  const run: CliRun = { deps, exitCode: 0, ...(split.command ? { passthrough: split.command } : {}) };
  try {
    await buildProgram(run).parseAsync(split.argv, { from: 'user' });
    return run.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (COMMANDER_SUCCESS.has(err.code) || (err.code === 'commander.help' && err.exitCode === 0)) return 0;
      // commander has already written its message (or the help, for a missing subcommand) to stderr
      const message = err.code === 'commander.help' ? 'missing command; see fleetctl --help' : err.message.replace(/^error: /, '');
      if (json) printJsonLine(deps.io, errorDocument('USAGE', message));
      return EXIT_CODES.USAGE;
    }
    const error = reportError(deps.io, err, json);
    return err instanceof FleetError ? EXIT_CODES[error.code] : EXIT_CODES.INTERNAL;
  }
}
