// `fleetctl runtime list|install VERSION|remove VERSION|prune`: the OpenClaw versions fleetd keeps
// installed (each with its own Node), shared by the agents that pin them.
import type { Command } from 'commander';
import { FleetError } from '../../errors.js';
import { callRaw, stream } from '../../protocol/client.js';
import { installEventSchema, type ResponseBody } from '../../protocol/schemas.js';
import { requireVersion } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { renderTable } from '../format.js';
import { formatDurationCompact as formatDuration } from '../../util/duration.js';
import { note, printJson, printLines } from '../output.js';
import { decodeWireError } from '../../protocol/wire-error.js';

/** Registers `runtime list`, `runtime install`, `runtime remove` and `runtime prune`. */
export function registerRuntime(program: Command, run: CliRun): void {
  const runtime = program.command('runtime').description('manage installed OpenClaw versions');
  runtime
    .command('list')
    .description('list installed OpenClaw versions and the agents using each')
    .action(async (_opts: unknown, cmd: Command) => {
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'runtimes');
      if (json) return printJson(run.deps.io, raw);
      if (!data.runtimes.length) return note(run.deps.io, 'no runtime installed (fleetctl runtime install VERSION)');
      const rows = data.runtimes.map((r) => [r.version, r.nodeVersion, r.installedAt ?? '-', r.usedBy.join(',') || '-', r.dir]);
      run.deps.io.out(renderTable(['VERSION', 'NODE', 'INSTALLED', 'USED-BY', 'DIR'], rows));
    });
  runtime
    .command('install')
    .description('download and install an exact OpenClaw version (and the Node it needs)')
    .argument('<VERSION>', 'exact version, e.g. 2026.9.6')
    .action(async (versionText: string, _opts: unknown, cmd: Command) => {
      const version = requireVersion(versionText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const started = run.deps.now();
      const result = await install(run, socket, version);
      if (json) return printJson(run.deps.io, result);
      const seconds = ((run.deps.now() - started) / 1000).toFixed(1);
      printLines(run.deps.io, [`installed openclaw ${result.version} (node ${result.nodeVersion}) in ${seconds} s`]);
    });
  runtime
    .command('remove')
    .description('delete one installed version (refused while an agent uses it)')
    .argument('<VERSION>', 'exact version, e.g. 2026.9.6')
    .action(async (versionText: string, _opts: unknown, cmd: Command) => {
      const version = requireVersion(versionText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'removeRuntime', { params: { version } });
      if (json) return printJson(run.deps.io, raw);
      printLines(run.deps.io, [`removed openclaw ${data.removed}`]);
    });
  runtime
    .command('prune')
    .description('delete installed versions that no agent uses')
    .action(async (_opts: unknown, cmd: Command) => {
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'pruneRuntimes');
      if (json) return printJson(run.deps.io, raw);
      printLines(run.deps.io, [
        data.removed.length ? `removed ${data.removed.join(', ')}` : 'nothing to remove',
        ...(data.kept.length ? [`kept ${data.kept.join(', ')}`] : []),
      ]);
    });
}

/** Follows the install stream: progress lines to stderr, then the result or the error. */
async function install(run: CliRun, socket: string, version: string): Promise<ResponseBody<'installRuntime'>> {
  for await (const raw of stream(socket, 'installRuntime', { body: { version } })) {
    const event = installEventSchema.safeParse(raw);
    if (!event.success) throw new FleetError('INTERNAL', `fleetd sent an unexpected install event: ${JSON.stringify(raw).slice(0, 200)}`);
    const data = event.data;
    if ('progress' in data) note(run.deps.io, `[${formatDuration(data.progress.elapsedMs)}] ${data.progress.phase}: ${data.progress.message}`);
    else if ('result' in data) return data.result;
    else throw decodeWireError(data);
  }
  throw new FleetError('RUNTIME_FAILED', `fleetd ended the install of openclaw ${version} without a result; see fleetd's log`);
}
