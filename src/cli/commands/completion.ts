// `fleetctl completion bash`: prints the shell completion script.
import type { Command } from 'commander';
import { Argument } from 'commander';
import { bashCompletion } from '../completion.js';
import type { CliRun } from '../context.js';

/** Registers `completion`. */
export function registerCompletion(program: Command, run: CliRun): void {
  program
    .command('completion')
    .description('print a shell completion script: source <(fleetctl completion bash)')
    .addArgument(new Argument('<SHELL>', 'shell to complete for').choices(['bash']))
    .action(() => {
      run.deps.io.out(bashCompletion(program));
    });
}
