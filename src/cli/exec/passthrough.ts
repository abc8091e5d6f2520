// `fleetctl exec F/A [--] CMD ARGS...` and `fleetctl openclaw F/A ARGS...` hand everything
// after the address to the command: `fleetctl openclaw acme/korax --version` must reach
// OpenClaw, not print fleetctl's version. commander cannot pass options through without
// turning off global options after subcommands, so the command part is cut off here,
// before commander parses what is fleetctl's. Pure.

/** Commands whose arguments after the address belong to the command they run. */
export const PASSTHROUGH_COMMANDS: readonly string[] = ['exec', 'openclaw'];

/** fleetctl's own argv, and the argv of the command to run (undefined: not a pass-through command). */
export interface SplitArgv {
  argv: string[];
  command: string[] | undefined;
}

/** Global options that take a value (their next word is not a command). */
const VALUE_OPTIONS = new Set(['--socket']);

/** Splits argv at the agent address of `exec`/`openclaw`; other command lines come back whole. */
export function splitPassthrough(argv: readonly string[]): SplitArgv {
  const whole = { argv: [...argv], command: undefined };
  let i = skipOptions(argv, 0);
  if (i < 0 || i >= argv.length || !PASSTHROUGH_COMMANDS.includes(argv[i]!)) return whole;
  i = skipOptions(argv, i + 1);
  if (i < 0 || i >= argv.length) return whole; // --help, or the address is missing: commander says so
  let command = argv.slice(i + 1);
  if (command[0] === '--') command = command.slice(1);
  return { argv: argv.slice(0, i + 1), command };
}

/** Index of the first word at or after `from` that is not one of fleetctl's options; -1 for --help/--version/`--`. */
function skipOptions(argv: readonly string[], from: number): number {
  let i = from;
  while (i < argv.length) {
    const word = argv[i]!;
    if (word === '--' || word === '-h' || word === '--help' || word === '-V' || word === '--version') return -1;
    if (!word.startsWith('-')) return i;
    i += VALUE_OPTIONS.has(word) ? 2 : 1;
  }
  return i;
}
