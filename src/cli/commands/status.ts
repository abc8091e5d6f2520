// `fleetctl status [FLEET[/AGENT]]`: one line per agent, sorted by address, filtered here.
import type { Command } from 'commander';
import { unknownTarget } from '../../plan/unknown-address.js';
import { callJson, callRaw, protocolMismatch } from '../../protocol/client.js';
import { formatDuration } from '../../util/duration.js';
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
        const all = statusShape(doc);
        const chosen = all.filter((a) => matches(a, filter));
        if (filter && chosen.length === 0) throw unknownTarget(filter.agent ? `${filter.fleet}/${filter.agent}` : filter.fleet, all.map((a) => a.address));
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

// The --json path prints fleetd's answer without parsing every view (~14 ms of a fresh
// fleetctl at 200 agents), but it still must be a status answer: a `daemon` object and a
// list of agent objects each with a string address (what the filter and its error read).
// Anything else is the same protocol mismatch the table path reports, never a raw
// TypeError from reading a field of null.
/** The agents of a raw status answer; INTERNAL (protocol mismatch) when it is not shaped like one. */
function statusShape(doc: Record<string, unknown>): Array<{ address: string; fleet?: unknown; agent?: unknown }> {
  const { agents, daemon } = doc;
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(daemon) || !Array.isArray(agents) || !agents.every((a) => isObject(a) && typeof a.address === 'string')) throw protocolMismatch('status');
  return agents as Array<{ address: string; fleet?: unknown; agent?: unknown }>;
}

/** What fleetd reports about itself that an operator must hear (on stderr, after the table). */
function daemonWarnings(daemon: ResponseBody<'status'>['daemon'], now: number): string[] {
  const out: string[] = [];
  if (daemon.registryBehind) {
    out.push(`registry.json is behind for ${formatDuration(now - daemon.registryBehind.since)} (${daemon.registryBehind.error}); fleetd keeps the changes in memory and writes them again in ${formatDuration(Math.max(0, daemon.registryBehind.retryAt - now))}`);
  }
  if (daemon.logDropped) out.push(`fleetd dropped ${daemon.logDropped} of its own log lines: nobody read its output for a while`);
  return out;
}

function byAddress(a: AgentView, b: AgentView): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}
