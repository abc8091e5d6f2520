// `fleetctl upgrade FLEET[/AGENT] --to VERSION [--node V] [--dry-run]`: the same as editing
// the fleet's (or agent's) gateway.openclaw pin and reloading, without editing the file:
// a rollout, one batch at a time, each agent gated on /startupz and /readyz, rolled back on
// failure. Progress on stderr (--json: the NDJSON lines on stdout); exit 1 when it failed.
// `fleetctl upgrade status`: the rollout in progress (or the last one) and the pins set.
import type { Command } from 'commander';
import { EXIT_CODES, FleetError } from '../../errors.js';
import { NODE_VERSION_PATTERN, VERSION_PATTERN } from '../../manifest/ids.js';
import { callRaw, stream } from '../../protocol/client.js';
import { upgradeEventSchema, type RolloutRecord } from '../../protocol/rollout.js';
import type { ResponseBody } from '../../protocol/schemas.js';
import { parseFilter } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import {renderTable} from '../format.js';
import { formatDuration } from '../../util/duration.js';
import { note, printJson, printJsonLine, printLines } from '../output.js';
import { decodeWireError as errorFromEvent } from '../../protocol/wire-error.js';

/** Registers `upgrade`. */
export function registerUpgrade(program: Command, run: CliRun): void {
  program
    .command('upgrade')
    .description('move a fleet or agent to another OpenClaw version with a gated, rolled-back-on-failure rollout; `upgrade status` shows it')
    .argument('<FLEET[/AGENT]|status>', 'what to upgrade, or `status`')
    .option('--to <VERSION>', 'exact OpenClaw version, e.g. 2026.9.6')
    .option('--node <VERSION>', 'also pin the Node release it runs on, e.g. 24.21.0')
    .option('--dry-run', 'show the plan (which agents, in which batches) and change nothing')
    .option('--restore', 'roll back across a schema migration: each agent also gets back the state VERSION left (the snapshot taken when it left VERSION); what it wrote since is kept in that snapshot\'s replaced/ folder')
    .addHelpText(
      'after',
      `
Examples:
  fleetctl upgrade acme --to 2026.9.6 --dry-run
  fleetctl upgrade acme --to 2026.9.6
  fleetctl upgrade acme/korax --to 2026.9.5            # back, when the state still fits 2026.9.5
  fleetctl upgrade acme/korax --to 2026.9.5 --restore  # back across a schema migration, with the state from then
  fleetctl upgrade status
The pin lasts across fleetd restarts until the manifest's pin for that fleet or agent is
edited; the command prints the manifest line that makes it permanent.`,
    )
    .action(async (targetText: string, opts: { to?: string; node?: string; dryRun?: boolean; restore?: boolean }, cmd: Command) => {
      const { socket, json } = globalsOf(cmd, run.deps);
      if (targetText === 'status' && opts.to === undefined) return status(run, socket, json);
      const filter = parseFilter(targetText);
      if (opts.to === undefined) throw new FleetError('USAGE', 'upgrade needs --to VERSION (an exact OpenClaw version such as 2026.9.6)');
      if (!VERSION_PATTERN.test(opts.to)) throw new FleetError('USAGE', `--to ${JSON.stringify(opts.to)} is not an exact OpenClaw version such as 2026.9.6`);
      if (opts.node !== undefined && !NODE_VERSION_PATTERN.test(opts.node)) throw new FleetError('USAGE', `--node ${JSON.stringify(opts.node)} is not an exact Node release such as 24.21.0`);
      const target = filter.agent ? `${filter.fleet}/${filter.agent}` : filter.fleet;
      const body = { target, to: opts.to, dryRun: opts.dryRun === true, restore: opts.restore === true, ...(opts.node ? { node: opts.node } : {}) };
      let result: ResponseBody<'upgrade'> | undefined;
      for await (const raw of stream(socket, 'upgrade', { body })) {
        if (json) printJsonLine(run.deps.io, raw);
        const event = upgradeEventSchema.safeParse(raw);
        if (!event.success) throw new FleetError('INTERNAL', `fleetd sent an unexpected upgrade event: ${JSON.stringify(raw).slice(0, 200)}`);
        const e = event.data;
        if ('progress' in e) {
          if (!json) note(run.deps.io, e.progress.message);
        } else if ('result' in e) {
          result = e.result;
        } else if (json) {
          // the error line is already on stdout (NDJSON: its last line), and --json writes nothing on stderr
          run.exitCode = EXIT_CODES[errorFromEvent(e).code];
          return;
        } else throw errorFromEvent(e);
      }
      if (!result) throw new FleetError('INTERNAL', 'fleetd ended the upgrade without a result; see `fleetctl upgrade status` and fleetd\'s log');
      if (!json) printLines(run.deps.io, [...describeRollout(result.rollout, result.dryRun), ...(result.dryRun ? [] : [result.persist])]);
      if (result.rollout.state === 'failed') {
        run.exitCode = 1;
        note(run.deps.io, `fleetctl: rollout failed: ${result.rollout.failure?.address ?? 'install'}: ${result.rollout.failure?.cause ?? 'see fleetctl upgrade status'}`);
      }
    });
}

/** `upgrade status`. */
async function status(run: CliRun, socket: string, json: boolean): Promise<void> {
  const { data, raw } = await callRaw(socket, 'upgradeStatus');
  if (json) return printJson(run.deps.io, raw);
  const lines: string[] = [];
  if (data.rollout) lines.push(...describeRollout(data.rollout, false));
  else lines.push('no rollout yet');
  for (const h of data.held) lines.push(`held: ${h.address} stays on ${h.from} (${h.to} failed in rollout ${h.rollout}; released when the manifest or fleetctl upgrade asks for another version, retried by fleetctl upgrade ${h.address} --to ...)`);
  for (const o of data.overrides) lines.push(`pin set by fleetctl upgrade: ${o.scope} -> openclaw ${o.openclaw}${o.node ? ` on node ${o.node}` : ''} (manifest says ${o.base.openclaw ?? 'nothing'} there)`);
  printLines(run.deps.io, lines);
}

/** A rollout for people: a header line and a table of its agents. */
export function describeRollout(r: RolloutRecord, dryRun: boolean): string[] {
  const active = r.agents.filter((a) => a.phase !== 'passive');
  if (r.agents.length === 0) return [`nothing to do: every agent in ${r.scope} already runs the wanted version`];
  const took = r.finishedAt !== null ? ` in ${formatDuration(r.finishedAt - r.createdAt)}` : '';
  const head = dryRun
    ? `plan (dry run, nothing changed): ${active.length} agent(s) to restart on ${r.targets.join(', ') || '-'}, ${r.agents.length - active.length} switched without a restart`
    : `rollout ${r.id} (${r.source}, ${r.scope}): ${r.state}${took}`;
  const rows = r.agents.map((a) => [a.address, a.batch === null ? '-' : String(a.batch + 1), `${a.from} -> ${a.to}`, a.phase, a.cause ?? a.preflight ?? (a.phase === 'passive' ? 'not running: switched, starts on it when started' : '')]);
  return [head, renderTable(['AGENT', 'BATCH', 'RUNTIME', 'PHASE', 'DETAIL'], rows).trimEnd()];
}
