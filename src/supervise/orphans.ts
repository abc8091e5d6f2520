// After fleetd itself was killed (SIGKILL, OOM, crash) its gateways live on in their own
// process groups. The registry recorded pid, pgid and start time of each; this stops such a
// gateway's whole tree, but only when the pid still names the very process recorded: a
// pid reused by an unrelated process has another start time and is left alone.
import { AGENT_MARKER_ENV, processesWithEnv, readStat, type ProcRef } from './proc.js';
import { stopTree, type StopReport, type StopTarget, type StopOptions } from './stop-tree.js';
import type { RecordedProcess } from '../plan/types.js';

/** What stopRecordedProcess found and did. */
export type OrphanOutcome =
  | { action: 'stopped'; pid: number; report: StopReport; detail: string }
  | { action: 'gone'; pid: number; detail: string }
  | { action: 'pid-reused'; pid: number; detail: string };

/** Dependencies of stopRecordedProcess (real defaults). */
export interface OrphanDeps {
  stopTree: (target: StopTarget, options: StopOptions) => Promise<StopReport>;
  /** Processes carrying OPENCLAW_CONFIG_PATH=`configPath` (default: a read of every environment; fleetd shares one read among all agents). */
  marked: (configPath: string) => ProcRef[];
}

/** Stops the recorded gateway tree if (and only if) its pid still has the recorded start time. */
export async function stopRecordedProcess(rec: RecordedProcess, timeoutMs: number, deps: Partial<OrphanDeps> = {}): Promise<OrphanOutcome> {
  const stop = deps.stopTree ?? stopTree;
  const stat = readStat(rec.pid);
  if (!stat || stat.state === 'Z') {
    return { action: 'gone', pid: rec.pid, detail: `pid ${rec.pid} (spawned ${rec.spawnedAt}) is no longer running` };
  }
  if (stat.startTime !== rec.startTime) {
    return {
      action: 'pid-reused',
      pid: rec.pid,
      detail: `pid ${rec.pid} now belongs to another process ("${stat.comm}", start time ${stat.startTime}, recorded ${rec.startTime}); left alone`,
    };
  }
  // The group is only ours if the process still leads or belongs to the recorded one.
  const target: StopTarget = { pid: rec.pid, startTime: rec.startTime };
  if (stat.pgid === rec.pgid) target.pgid = rec.pgid;
  const report = await stop(target, { timeoutMs });
  const parts = [`stopped the tree of pid ${rec.pid} left by a previous fleetd`, `${report.terminated.length} process(es) sent SIGTERM`];
  if (report.killed.length > 0) parts.push(`${report.killed.length} needed SIGKILL after ${timeoutMs} ms`);
  if (report.survivors.length > 0) parts.push(`still alive: ${report.survivors.join(', ')}`);
  return { action: 'stopped', pid: rec.pid, report, detail: parts.join('; ') };
}

/** Stops every process still carrying an agent's environment marker (its OPENCLAW_CONFIG_PATH); returns their pids. */
export async function stopMarkedProcesses(configPath: string, timeoutMs: number, deps: Partial<OrphanDeps> = {}): Promise<number[]> {
  const stop = deps.stopTree ?? stopTree;
  const marked = deps.marked ? deps.marked(configPath) : processesWithEnv(AGENT_MARKER_ENV, configPath);
  const [first, ...rest] = marked;
  if (!first) return [];
  await stop({ pid: first.pid, startTime: first.startTime, extra: rest, marker: { name: AGENT_MARKER_ENV, value: configPath } }, { timeoutMs });
  return marked.map((p) => p.pid);
}
