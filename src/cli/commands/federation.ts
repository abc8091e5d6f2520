// `fleetctl federation`: who may call whom, knowledge per agent, mailbox backlogs.
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import type { FederationView } from '../../protocol/schemas.js';
import { globalsOf, type CliRun } from '../context.js';
import { renderTable } from '../format.js';
import { note, printJson } from '../output.js';

/** The human report of a federation view: agents table, edges table, and the enforcement note. */
export function renderFederation(view: FederationView): string {
  if (view.agents.length === 0) return '';
  const agentRows = view.agents.map((a) => [
    a.address,
    a.enabled ? 'yes' : 'no',
    a.calls.join(',') || '-',
    a.callers.join(',') || '-',
    a.hooks ? 'on' : '-',
    a.knowledge.map((k) => `${k.name}${k.writable === true ? '(writable!)' : k.writable === null ? '(unreadable)' : ''}`).join(',') || '-',
    a.description ?? '',
  ]);
  let out = renderTable(['AGENT', 'ENABLED', 'CALLS', 'CALLED BY', 'HOOKS', 'KNOWLEDGE', 'DESCRIPTION'], agentRows);
  if (view.edges.length > 0) {
    out += '\n' + renderTable(['FROM', 'TO', 'BACKLOG', 'MAILBOX'], view.edges.map((e) => [e.from, e.to, e.backlog === null ? '?' : String(e.backlog), e.mailbox]));
  }
  return out;
}

/** Registers `federation`. */
export function registerFederation(program: Command, run: CliRun): void {
  program
    .command('federation')
    .description('show the federation: who may call whom, knowledge per agent, mailbox backlogs (never tokens)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'federation');
      if (json) {
        printJson(run.deps.io, raw);
        return;
      }
      if (data.agents.length === 0) {
        note(run.deps.io, 'no federation: no agent has "calls" or "knowledge" in the manifest');
        return;
      }
      run.deps.io.out(renderFederation(data));
      if (!data.usersEnforced) {
        note(run.deps.io, 'note: agents run as fleetd\'s own user, so knowledge is not read-only to them and mailboxes are not private between them');
      }
    });
}
