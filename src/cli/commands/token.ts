// `fleetctl token FLEET/AGENT [--hooks]`: prints the gateway token (or, with --hooks, the
// hooks token other agents call it with) and nothing else (for scripts).
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import { requireAddress } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { printJson } from '../output.js';

/** Registers `token`. */
export function registerToken(program: Command, run: CliRun): void {
  program
    .command('token')
    .description("print an agent's gateway auth token, or with --hooks its hooks token (only the token, for scripts)")
    .argument('<FLEET/AGENT>', 'address of the agent')
    .option('--hooks', 'the hooks token its callers use (federation), not the gateway token')
    .action(async (addressText: string, opts: { hooks?: boolean }, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, opts.hooks ? 'hooksToken' : 'token', { params });
      if (json) printJson(run.deps.io, raw);
      else run.deps.io.out(`${data.token}\n`);
    });
}
