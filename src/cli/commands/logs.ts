// `fleetctl logs FLEET/AGENT [-n N] [-f] [--openclaw]`: the last lines of an agent's log, or a
// live follow (NDJSON `{ line }` objects) until Ctrl-C, which ends the run with exit 0. A log
// file that does not exist yet is said on stderr (exit 0: nothing failed, there is no log yet).
import type { Command } from 'commander';
import { FleetError } from '../../errors.js';
import { callRaw, stream } from '../../protocol/client.js';
import { errorBodySchema, logLineSchema } from '../../protocol/schemas.js';
import { requireAddress } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { note, printJson, printLines } from '../output.js';
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
      // a follow asks first (no lines) only to say that the file is not there yet
      const { data, raw } = await callRaw(socket, route, { params, query: { lines: String(opts.follow ? 0 : opts.lines) } });
      if (data.exists === false) note(run.deps.io, missingLogNote(data.address, data.file, route, opts.follow === true));
      if (!opts.follow) {
        if (json) printJson(run.deps.io, raw);
        else printLines(run.deps.io, data.lines);
        return;
      }
      await follow(run, socket, route, params, opts.lines, json);
    });
}

/** Why `logs` prints nothing: the file is not there yet (an empty file needs no words); with -f, that it waits for it. */
export function missingLogNote(address: string, file: string, route: 'logs' | 'openclawLogs', following: boolean): string {
  const what =
    route === 'openclawLogs'
      ? `${address}: OpenClaw's own log ${file} does not exist yet (OpenClaw creates it when the gateway first logs; its captured output: fleetctl logs ${address})`
      : `${address}: no gateway output captured yet: ${file} does not exist (it is written from the agent's first start; fleetctl status says why it has not run)`;
  return `fleetctl: ${what}${following ? '; waiting for it (Ctrl-C to stop)' : ''}`;
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
