// `fleetctl logs FLEET/AGENT [-n N] [-f]`: the last lines of an agent's log, or a live
// follow (NDJSON `{ line }` objects) until Ctrl-C, which ends the run with exit 0.
import type { Command } from 'commander';
import { FleetError } from '../../errors.js';
import { callRaw, stream } from '../../protocol/client.js';
import { errorBodySchema, logLineSchema } from '../../protocol/schemas.js';
import { requireAddress } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { printJson, printLines } from '../output.js';
import { decodeWireError } from '../../protocol/wire-error.js';
import { intOption } from './group.js';

/** Most lines one request may ask for. */
export const MAX_LOG_LINES = 100_000;

/** Registers `logs`. */
export function registerLogs(program: Command, run: CliRun): void {
  program
    .command('logs')
    .description("print the last lines of an agent's gateway log (or OpenClaw's own log with --openclaw); -f keeps following it until Ctrl-C")
    .argument('<FLEET/AGENT>', 'address of the agent')
    .option('-n, --lines <N>', 'number of lines', intOption(0, MAX_LOG_LINES), 50)
    .option('-f, --follow', 'keep printing new lines as they are written')
    .option('--openclaw', "OpenClaw's own log (<home>/logs/openclaw.log, JSON lines, logging.level decides what is in it) instead of the captured gateway output")
    .action(async (addressText: string, opts: { lines: number; follow?: boolean; openclaw?: boolean }, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const route = opts.openclaw ? 'openclawLogs' : 'logs';
      if (!opts.follow) {
        const { data, raw } = await callRaw(socket, route, { params, query: { lines: String(opts.lines) } });
        if (json) printJson(run.deps.io, raw);
        else printLines(run.deps.io, data.lines);
        return;
      }
      await follow(run, socket, route, params, opts.lines, json);
    });
}

/** Streams the log until fleetd ends it or Ctrl-C aborts the request; --json prints the NDJSON objects as they come. */
async function follow(run: CliRun, socket: string, route: 'logs' | 'openclawLogs', params: { fleet: string; agent: string }, lines: number, json: boolean): Promise<void> {
  const controller = new AbortController();
  const off = run.deps.onInterrupt(() => controller.abort());
  try {
    for await (const event of stream(socket, route, { params, query: { follow: '1', lines: String(lines) }, signal: controller.signal })) {
      const line = logLineSchema.safeParse(event);
      if (line.success) {
        run.deps.io.out(json ? `${JSON.stringify(event)}\n` : `${line.data.line}\n`);
        continue;
      }
      const error = errorBodySchema.safeParse(event);
      if (error.success) throw decodeWireError(error.data);
      throw new FleetError('INTERNAL', `fleetd sent an unexpected log event: ${JSON.stringify(event).slice(0, 200)}`);
    }
  } catch (err) {
    if (controller.signal.aborted) return;
    throw err;
  } finally {
    off();
  }
}
