// `fleetctl add agent FLEET/AGENT [--set KEY=VALUE ...] [--env KEY=VALUE ...] [--no-start]`.
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import { requireAddress } from '../address.js';
import { describeAgent, isFailedState } from '../agent-view.js';
import { globalsOf, type CliRun } from '../context.js';
import { note, printJson, printLines } from '../output.js';
import { parseEnv, parseEnvRefs, parseSets } from '../parse-set.js';
import { formatAction, skippedPortsNote } from './actions.js';
import { collect, groupCommand } from './group.js';

/** Registers `add agent`. */
export function registerAdd(program: Command, run: CliRun): void {
  groupCommand(program, 'add', 'add an agent outside the manifest (kept across restarts)')
    .command('agent')
    .description('provision a new agent with its own home, port block and token, and start it')
    .argument('<FLEET/AGENT>', 'address of the new agent')
    .option('--set <KEY=VALUE>', 'openclaw.json setting: dotted key, JSON5 value (repeatable)', collect, [])
    .option('--env <KEY=VALUE>', 'environment variable of the gateway (repeatable)', collect, [])
    .option('--env-file <KEY=PATH>', 'variable whose value fleetd reads from a file at each start (0600, not group/world-readable; repeatable)', collect, [])
    .option('--env-credential <KEY=ID>', "variable read from fleetd's systemd credential ID ($CREDENTIALS_DIRECTORY/ID) at each start (repeatable)", collect, [])
    .option('--no-start', 'provision only, do not start it')
    .addHelpText(
      'after',
      `\nExamples:\n  fleetctl add agent acme/new --set agents.defaults.model.primary='"anthropic/claude-sonnet-4-6"' --set browser.enabled=false\n  fleetctl add agent acme/new --env-file ANTHROPIC_API_KEY=/etc/fleetd/secrets/anthropic --no-start`,
    )
    .action(async (addressText: string, opts: { set: string[]; env: string[]; envFile: string[]; envCredential: string[]; start: boolean }, cmd: Command) => {
      const { fleet, agent } = requireAddress(addressText);
      const config = parseSets(opts.set);
      const env = parseEnvRefs(parseEnv(opts.env), opts.envFile, opts.envCredential, run.deps.cwd);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'addAgent', { body: { fleet, agent, config, env, start: opts.start } });
      if (json) printJson(run.deps.io, raw);
      else printLines(run.deps.io, [...data.actions.map(formatAction), `added ${describeAgent(data.agent)}`, `home: ${data.agent.home}`]);
      const skipped = skippedPortsNote(data.skippedPorts);
      if (skipped) note(run.deps.io, skipped);
      if (isFailedState(data.agent)) {
        run.exitCode = 1;
        note(run.deps.io, `fleetctl: ${data.agent.address} was added but did not start: ${data.agent.reason} (see fleetctl logs ${data.agent.address})`);
      }
    });
}
