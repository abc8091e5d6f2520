// `fleetctl status [FLEET[/AGENT]]`: one line per agent, sorted by address, filtered here.
import type { Command } from 'commander';
import { unknownTarget } from '../../plan/unknown-address.js';
import { callJson, callRaw } from '../../protocol/client.js';
import { FleetError } from '../../errors.js';
import { formatDurationCompact } from '../../util/duration.js';
import type { AgentView, ResponseBody } from '../../protocol/schemas.js';
import { parseFilter, type StatusFilter } from '../address.js';
import { STATUS_HEADER, statusRow } from '../agent-view.js';
import { globalsOf, type CliRun } from '../context.js';
import { renderTable } from '../format.js';
import { note, printJson } from '../output.js';

/** True when an agent (wire view or raw JSON) passes the filter. */
function matches(agent: { fleet?: unknown; agent?: unknown }, filter: StatusFilter | undefined): boolean {
  if (!filter) return true;
  return agent.fleet === filter.fleet && (filter.agent === undefined || agent.agent === filter.agent);
}

/** Registers `status`. */
export function registerStatus(program: Command, run: CliRun): void {
  program
    .command('status')
    .description('show every agent: state, pid, port, uptime, restarts, last exit, health, memory (cgroup, else process tree RSS; against its limit), OpenClaw and Node versions, reason')
    .argument('[FLEET[/AGENT]]', 'only this fleet, or only this agent')
    .action(async (filterText: string | undefined, _opts: unknown, cmd: Command) => {
      const filter = filterText === undefined ? undefined : parseFilter(filterText);
      const { socket, json } = globalsOf(cmd, run.deps);
      if (json) {
        // printed as fleetd sent it: no schema check of every view (see callJson)
        const doc = await callJson(socket, 'status');
        if (!Array.isArray(doc.agents)) throw new FleetError('INTERNAL', "fleetd's answer to status has no agents list");
        const all = doc.agents as { fleet?: unknown; agent?: unknown; address?: unknown }[];
        const chosen = all.filter((a) => matches(a, filter));
        if (filter && chosen.length === 0) throw unknownTarget(filter.agent ? `${filter.fleet}/${filter.agent}` : filter.fleet, all.map((a) => String(a.address)));
        printJson(run.deps.io, filter ? { ...doc, agents: chosen } : doc);
        return;
      }
      const { data } = await callRaw(socket, 'status');
      const agents = data.agents.filter((a) => matches(a, filter));
      if (filter && agents.length === 0) throw unknownTarget(filter.agent ? `${filter.fleet}/${filter.agent}` : filter.fleet, data.agents.map((a) => a.address));
      if (agents.length === 0) {
        note(run.deps.io, `no agents (fleetd ${data.daemon.version}, manifest ${data.daemon.manifest})`);
        return;
      }
      const now = run.deps.now();
      const rows = [...agents].sort(byAddress).map((a) => statusRow(a, now));
      run.deps.io.out(renderTable(STATUS_HEADER, rows));
      for (const warning of daemonWarnings(data.daemon, now)) note(run.deps.io, `fleetctl: ${warning}`);
    });
}

/** What fleetd reports about itself that an operator must hear (on stderr, after the table). */
function daemonWarnings(daemon: ResponseBody<'status'>['daemon'], now: number): string[] {
  const out: string[] = [];
  if (daemon.registryBehind) {
    out.push(`registry.json is behind since ${formatDurationCompact(now - daemon.registryBehind.since)} (${daemon.registryBehind.error}); fleetd keeps the changes in memory and writes them again in ${formatDurationCompact(Math.max(0, daemon.registryBehind.retryAt - now))}`);
  }
  if (daemon.logDropped) out.push(`fleetd dropped ${daemon.logDropped} of its own log lines: nobody read its output for a while`);
  return out;
}

function byAddress(a: AgentView, b: AgentView): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}
