// `fleetctl events [-n N] [--since SEQ] [-f]`: what happened in the fleet, one line per
// event (`--json`: the NDJSON objects as fleetd sends them); -f keeps following until Ctrl-C.
import type { Command } from 'commander';
import { FleetError } from '../../errors.js';
import { stream } from '../../protocol/client.js';
import { eventSchema, type FleetEvent } from '../../protocol/events.js';
import { errorBodySchema } from '../../protocol/schemas.js';
import { globalsOf, type CliRun } from '../context.js';
import { formatDuration } from '../../util/duration.js';
import { decodeWireError as errorFromEvent } from '../../protocol/wire-error.js';
import { intOption } from './group.js';

/** One event as a line for people: time, type, what. */
export function formatEvent(e: FleetEvent): string {
  const time = new Date(e.at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const head = `${time} #${e.seq} ${e.type}`;
  switch (e.type) {
    case 'agent.state':
      return `${head} ${e.address}: ${e.from ?? '-'} -> ${e.to} (${e.reason})`;
    case 'agent.exit':
      return `${head} ${e.address}: pid ${e.pid ?? '-'} ${e.signal ? `killed by ${e.signal}` : e.code !== null ? `exited with code ${e.code}` : 'ended without an exit status (it could not start, or its shim was lost)'} after ${formatDuration(e.runtimeMs)}`;
    case 'agent.restart':
      return `${head} ${e.address}: restart ${e.restarts} (${e.reason})`;
    case 'agent.reconfigured':
      return `${head} ${e.address}: ${e.result}${e.pid !== null ? ` pid ${e.pid}` : ''} after ${formatDuration(e.durationMs)} (${e.reason})`;
    case 'agent.adopted':
      return `${head} ${e.address}: pid ${e.pid} (${e.reason})`;
    case 'fleet.reload':
      return `${head} ${e.applied ? `applied${e.actions.length ? `: ${e.actions.join('; ')}` : ' (nothing to do)'}` : `refused: ${e.error ?? 'unknown'}`}`;
    case 'rollout.step':
      return `${head} ${e.rollout} ${e.phase}: ${e.message}`;
    case 'daemon':
      return `${head} fleetd ${e.event} (pid ${e.pid}, ${e.version})`;
    case 'events.dropped':
      return `${head} ${e.count} events skipped: this reader was too slow`;
  }
}

/** Registers `events`. */
export function registerEvents(program: Command, run: CliRun): void {
  program
    .command('events')
    .description('print recent fleet events (state changes with reasons, exits, restarts, reloads, rollouts); -f follows until Ctrl-C')
    .option('-n, --lines <N>', 'only the last N buffered events', intOption(0, 100_000))
    .option('--since <SEQ>', 'only events after this sequence number (the #N of a previous line)', intOption(0, Number.MAX_SAFE_INTEGER))
    .option('-f, --follow', 'keep printing new events as they happen')
    .addHelpText('after', '\nExamples:\n  fleetctl events -f\n  fleetctl events --since 120 --json | jq .\nA --since cursor from before a fleetd restart prints every buffered event again.')
    .action(async (opts: { lines?: number; since?: number; follow?: boolean }, cmd: Command) => {
      const { socket, json } = globalsOf(cmd, run.deps);
      const query: Record<string, string> = {};
      if (opts.lines !== undefined) query.limit = String(opts.lines);
      else if (opts.follow && opts.since === undefined) query.limit = '20';
      if (opts.since !== undefined) query.since = String(opts.since);
      if (opts.follow) query.follow = '1';
      const controller = new AbortController();
      const off = run.deps.onInterrupt(() => controller.abort());
      try {
        for await (const raw of stream(socket, 'events', { query, signal: controller.signal })) {
          const error = errorBodySchema.safeParse(raw);
          if (error.success) throw errorFromEvent(error.data);
          if (json) {
            run.deps.io.out(`${JSON.stringify(raw)}\n`);
            continue;
          }
          const event = eventSchema.safeParse(raw);
          if (event.success) run.deps.io.out(`${formatEvent(event.data)}\n`);
          else if (typeof raw === 'object' && raw !== null && 'type' in raw) run.deps.io.out(`${JSON.stringify(raw)}\n`); // a newer fleetd's event type
          else throw new FleetError('INTERNAL', `fleetd sent something that is not an event: ${JSON.stringify(raw).slice(0, 200)}`);
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        throw err;
      } finally {
        off();
      }
    });
}
