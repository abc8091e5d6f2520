// Live restore at start-up (Docker's live-restore, containerd's shims, Nomad's task
// re-attachment): for every agent the registry says had a gateway (or whose run dir holds a
// shim record the registry had not caught up with), attach to its shim and
// check who runs there. Adopted, with its pid, uptime and restart count: a gateway whose pid
// and /proc start time are the recorded ones and whose launch hash is the one the agent
// would have now (its spawn's, or the one a reconfigure applied to it in place since). Its exit replayed through the restart policy: a gateway that ended while
// fleetd was away (the shim recorded the exact code). Stopped, and the log says why: any
// other case (the launch changed while fleetd was away, the agent is no longer wanted, the
// shim is gone or does not answer, the record does not match). Runs before the plan, so
// the planner sees adopted agents running and starts nothing twice.
import type { Manifest } from '../manifest/schema.js';
import { runningHash } from '../plan/hot-reload.js';
import type { RecordedProcess, RegistryFile } from '../plan/types.js';
import { agentPaths } from '../provision/home.js';
import { readShimRecord, removeRunFiles } from '../shim/records.js';
import { stopMarkedProcesses, stopRecordedProcess, type OrphanDeps } from '../supervise/orphans.js';
import { AGENT_MARKER_ENV } from '../supervise/proc.js';
import type { ProcTable } from '../supervise/proc-table.js';
import { attachShim, type AttachResult } from '../supervise/shim-client.js';
import { processOfShim } from '../supervise/shim-spawn.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './logger.js';

/** What happened to one agent's leftover gateway. */
export type LeftoverOutcome = 'adopted' | 'exited' | 'stopped' | 'gone';

/** Dependencies (real defaults). */
export interface LiveRestoreDeps {
  attach: (runDir: string, options: Parameters<typeof attachShim>[1]) => Promise<AttachResult>;
  stopRecorded: typeof stopRecordedProcess;
  stopMarked: typeof stopMarkedProcesses;
}

const DEFAULTS: LiveRestoreDeps = { attach: (dir, options) => attachShim(dir, options), stopRecorded: stopRecordedProcess, stopMarked: stopMarkedProcesses };

// The marker search of every registered agent (one read of every process's environment
// each, ~450 reads at 200 agents) becomes ONE search shared by all: its moment is fixed by
// the first agent that asks, which is after every recorded gateway was handled (the search
// phase follows them), and the calls all come in the same turn.
/** LiveRestoreDeps on fleetd's shared /proc table (supervise/proc-table.ts), stopping through `stopTree` (the shared table's). */
export function sharedRestoreDeps(procs: ProcTable, stopTree: OrphanDeps['stopTree']): LiveRestoreDeps {
  let searchAt: number | undefined;
  return {
    attach: DEFAULTS.attach,
    stopRecorded: (record, timeoutMs) => stopRecordedProcess(record, timeoutMs, { stopTree }),
    stopMarked: (configPath, timeoutMs) => {
      searchAt ??= procs.now();
      const at = searchAt;
      return stopMarkedProcesses(configPath, timeoutMs, { stopTree, marked: (path) => procs.marked(AGENT_MARKER_ENV, path, at) });
    },
  };
}

/** Adopts or stops every gateway a previous fleetd left, judged against `manifest` (the one the fleet will apply: the file under any rollout's overlay); returns the outcome per address. Never throws for one agent. */
export async function restoreLeftovers(
  fleet: Fleet,
  manifest: Manifest,
  log: Logger,
  deps: LiveRestoreDeps = DEFAULTS,
  hooks: {
    onAdopted?: (address: string, pid: number, reason: string) => void;
    /** Why an agent's gateway must not be adopted whatever it runs (a rollout caught it mid-step), or undefined. */
    refuse?: (address: string) => string | undefined;
  } = {},
): Promise<Map<string, LeftoverOutcome>> {
  const reg: Readonly<RegistryFile> = fleet.registry();
  const outcomes = new Map<string, LeftoverOutcome>();
  const timeoutMs = manifest.gateway.stopTimeoutMs;
  await Promise.all(
    Object.entries(reg.agents).map(async ([address, entry]) => {
      const alog = log.child({ agent: address });
      const runDir = agentPaths(manifest.stateDir, entry.fleet, entry.agent).supervisorDir;
      const record = entry.process ?? (await recordOfUnregisteredRun(runDir, entry, alog));
      if (!record) return;
      try {
        const outcome = await restoreOne(fleet, manifest, address, record, runDir, timeoutMs, alog, deps, hooks.refuse?.(address));
        outcomes.set(address, outcome);
        if (outcome === 'adopted') hooks.onAdopted?.(address, record.pid, 'same pid and start time as recorded, same launch');
      } catch (err) {
        alog.error({ err: (err as Error).message, pid: record.pid }, 'could not restore the gateway a previous fleetd left; stopping it');
        await deps.stopRecorded(record, timeoutMs).catch(() => undefined);
        outcomes.set(address, 'stopped');
      }
    }),
  );
  // Children re-parented before the registry saw them (a crash mid-boot) still carry their
  // agent's OPENCLAW_CONFIG_PATH: stop those, except in agents whose gateway was adopted.
  await Promise.all(
    Object.values(reg.agents).map(async (entry) => {
      const address = `${entry.fleet}/${entry.agent}`;
      if (outcomes.get(address) === 'adopted') return;
      const pids = await deps.stopMarked(agentPaths(manifest.stateDir, entry.fleet, entry.agent).configPath, timeoutMs);
      if (pids.length > 0) log.warn({ agent: address, pids }, 'stopped leftover gateway processes of a previous fleetd');
    }),
  );
  return outcomes;
}

// Registry writes are batched (one fsynced write per batch): a fleetd killed right after a
// spawn may not have written its process record yet, while the shim wrote its own shim.json
// before it reported ready. Without this, such a gateway was found only by the marker sweep
// below and stopped (measured: 22 of 200 gateways restarted after a SIGKILL at load 8).
/** The process record of a run the registry does not know (from the shim's own shim.json), or undefined when the run dir holds none. */
async function recordOfUnregisteredRun(runDir: string, entry: Readonly<RegistryFile['agents'][string]>, log: Logger): Promise<RecordedProcess | undefined> {
  const read = await readShimRecord(runDir).catch(() => undefined);
  if (read?.state !== 'ok') return undefined;
  const { gatewayPid, gatewayStartTime, spawnedAt } = read.value;
  if (gatewayPid === null || gatewayStartTime === null) return undefined;
  log.info({ pid: gatewayPid }, "the registry has no record of this gateway (fleetd ended before writing it); judging it by its shim's record");
  return { pid: gatewayPid, pgid: gatewayPid, startTime: gatewayStartTime, spawnedAt: new Date(spawnedAt).toISOString(), ...(entry.restarts !== undefined ? { restarts: entry.restarts } : {}) };
}

/** One agent: attach, check, adopt or stop. */
async function restoreOne(fleet: Fleet, manifest: Manifest, address: string, record: RecordedProcess, runDir: string, timeoutMs: number, log: Logger, deps: LiveRestoreDeps, refused: string | undefined): Promise<LeftoverOutcome> {
  const attached = await deps.attach(runDir, { takeover: true, expect: { gatewayPid: record.pid, gatewayStartTime: record.startTime } });
  const wanted = fleet.wantedHash(address, manifest);
  if (attached.ok) {
    const { handle } = attached;
    const runs = runningHash(handle.record.specHash, record.appliedHash);
    if (refused === undefined && wanted !== undefined && runs === wanted) {
      const why = `same pid and start time as recorded, same launch (hash ${wanted.slice(0, 12)}${runs === handle.record.specHash ? '' : ', its openclaw.json applied in place'})`;
      if (await fleet.adoptRunning(address, processOfShim(handle), record, why, manifest)) {
        log.info({ pid: record.pid }, `gateway adopted: ${why}`);
        return 'adopted';
      }
    }
    const why = refused ?? (wanted === undefined ? 'the agent is no longer wanted running (removed, disabled or stopped)' : 'its launch changed while fleetd was away (config, env or runtime)');
    log.warn({ pid: record.pid }, `stopping the gateway a previous fleetd left: ${why}`);
    const result = await deps.stopRecorded(record, timeoutMs);
    log.info({ pid: record.pid, result: result.detail }, 'gateway left by a previous fleetd stopped');
    await handle.exited;
    await handle.close().catch(() => undefined);
    return 'stopped';
  }
  switch (attached.reason) {
    case 'exited': {
      const exit = attached.exit;
      // An agent not wanted running (the operator stopped it, perhaps just before fleetd died):
      // its exit is recorded, nothing restarts, and the log does not call it a crash.
      if (wanted === undefined) log.info({ pid: record.pid, code: exit.code, signal: exit.signal }, `${attached.message}; not restarted: the agent is not wanted running (stopped, disabled or removed)`);
      else log.warn({ pid: record.pid, code: exit.code, signal: exit.signal }, `${attached.message} while fleetd was away`);
      const output = [exit.tail.stderr, exit.tail.stdout].join('\n').trim().split('\n').filter(Boolean).slice(-1)[0];
      await fleet.adoptExited(address, { code: exit.code, signal: exit.signal, at: exit.at, ...(exit.error ? { error: exit.error } : {}) }, record, output, wanted !== undefined, manifest);
      await attached.handle.close().catch(() => undefined);
      return 'exited';
    }
    case 'no-shim': {
      // A gateway from before shims (or whose shim never wrote its record): found by pid and start time.
      const result = await deps.stopRecorded(record, timeoutMs);
      if (result.action !== 'gone') log.warn({ pid: record.pid, result: result.detail }, 'gateway left by a previous fleetd handled');
      return result.action === 'gone' ? 'gone' : 'stopped';
    }
    default: {
      // shim-dead, refused, busy, protocol, mismatch, invalid: nothing to adopt safely.
      log.warn({ pid: record.pid, reason: attached.reason }, `cannot adopt the gateway a previous fleetd left (${attached.message}); stopping it`);
      const result = await deps.stopRecorded(record, timeoutMs);
      if (attached.reason === 'shim-dead') await removeRunFiles(runDir).catch(() => undefined);
      return result.action === 'gone' ? 'gone' : 'stopped';
    }
  }
}
