// The common part of `fleetctl stop fleet F`, `stop --all`, `start fleet F`, `start --all`:
// stream fleetd's NDJSON answer, print a line per agent as it ends (--json: the NDJSON
// lines as they come), a summary on stderr, exit 1 when any agent failed.
import { FleetError } from '../../errors.js';
import { stream } from '../../protocol/client.js';
import { bulkEventSchema, type ResponseBody } from '../../protocol/schemas.js';
import { decodeWireError } from '../../protocol/wire-error.js';
import type { CliRun, Globals } from '../context.js';
import { note, printJsonLine, printLines } from '../output.js';

/** The four bulk routes. */
export type BulkRoute = 'stopFleet' | 'startFleet' | 'stopAll' | 'startAll';

/** Runs one bulk route and reports it; see the file comment. */
export async function runBulk(run: CliRun, globals: Globals, route: BulkRoute, params: Record<string, string>, body: { timeoutMs?: number } | { wait: boolean }): Promise<void> {
  let result: ResponseBody<BulkRoute> | undefined;
  for await (const raw of stream(globals.socket, route, { params, body, query: { progress: '1' } })) {
    const event = bulkEventSchema.safeParse(raw);
    if (!event.success) throw new FleetError('INTERNAL', `fleetd sent an unexpected progress line: ${JSON.stringify(raw).slice(0, 200)}`);
    const data = event.data;
    if ('error' in data) throw decodeWireError(data);
    if (globals.json) printJsonLine(run.deps.io, raw);
    if ('result' in data) result = data.result;
    else if (!globals.json) printLines(run.deps.io, [stepLine(data.progress)]);
  }
  if (!result) throw new FleetError('INTERNAL', `fleetd ended the ${route} answer without a result; see fleetd's log`);
  if (!globals.json) note(run.deps.io, summary(result));
  if (result.failed.length > 0) {
    run.exitCode = 1;
    const first = result.failed[0]!;
    note(run.deps.io, `fleetctl: ${result.failed.length} agent(s) failed to ${result.action}, first ${first.address}: ${first.reason}; see fleetctl logs ${first.address}`);
  }
}

/** `stopped acme/a: pid 12 stopped`; `already stopped acme/b`, `already running acme/c` (agents the command did not have to touch; their reason is in --json). */
function stepLine(step: ResponseBody<BulkRoute>['steps'][number]): string {
  if (step.already) return `already ${step.step === 'stopped' ? 'stopped' : 'running'} ${step.address}`;
  return `${step.step} ${step.address}: ${step.reason}`;
}

/** `stop all: 12 stopped, 2 already stopped, 0 failed` / `start fleet acme: 3 started, 1 skipped, 0 failed`. */
function summary(result: ResponseBody<BulkRoute>): string {
  if (result.steps.length === 0) return `${result.action} ${result.scope}: no agents`;
  const verb = result.action === 'stop' ? 'stopped' : result.steps.some((s) => s.step === 'starting') ? 'starting' : 'started';
  const already = result.already.length > 0 ? `, ${result.already.length} already ${result.action === 'stop' ? 'stopped' : 'running'}` : '';
  const skipped = result.skipped.length > 0 ? `, ${result.skipped.length} skipped` : '';
  return `${result.action} ${result.scope}: ${result.done.length} ${verb}${already}${skipped}, ${result.failed.length} failed`;
}
