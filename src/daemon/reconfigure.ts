// One in-place reconfigure of a running agent (a reload changed only its openclaw.json):
// the runner enters `reconfiguring`, fleetd merges the new openclaw.json into the file
// (the same three-way merge as before a start, no stop), then watches the gateway apply it
// (reconfigure-verify.ts). Applied: back to `running`, same pid. Not applied (rejected,
// reload off, a restart OpenClaw will not do itself, no confirmation in time): the runner
// restarts the agent and the reason says why. A stop, an exit or a newer change that comes
// first ends the watch and leaves the runner to whoever acted. An agent that is not running
// when the reconfigure's turn comes is left to its next launch, which provisions the file.
import { stat } from 'node:fs/promises';
import type { VerdictLimits } from '../plan/reconfigure-verdict.js';
import type { ProvisionedConfig } from '../provision/provision-agent.js';
import type { ReconfigureOutcome } from '../protocol/schemas.js';
import type { Runner } from '../supervise/runner.js';
import { probeStartup, type StartupProbe, type StartupState } from '../supervise/startup-probe.js';
import { STARTUP_TIMEOUT_MS, verifyReconfigure, type VerifyInput } from './reconfigure-verify.js';

/** Thrown by beforeWrite when the reconfigure is no longer current. */
const SUPERSEDED = new Error('superseded');

/** The logger methods used here (a pino Logger fits). */
interface ReconfigureLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** One reconfigure to carry out (built by Agent.reconfigurePlanned). */
export interface ReconfigureJob {
  address: string;
  /** Why (the plan's reason: "openclaw.json changed"). */
  reason: string;
  runner: Runner;
  /** The agent's captured output, gateway.log. */
  logFile: string;
  /** Merges the new openclaw.json into the file (provisionConfig), calling `beforeWrite` right before it (when its turn comes). */
  writeConfig: (beforeWrite: () => Promise<void>) => Promise<ProvisionedConfig>;
  /** Told once the file is written (record the applied hash, log overrides). */
  onWritten: (written: ProvisionedConfig) => void;
  /** Told once the running gateway `pid` took the file written with `hash` (live restore adopts it with that hash). */
  onApplied: (pid: number, hash: string) => void;
  /** The agent is not running when the turn comes: why nothing is done (its next launch provisions the file). */
  notRunning: () => string;
  limits: VerdictLimits;
  /** Aborted when a newer reconfigure of the same agent starts. */
  signal: AbortSignal;
  log: ReconfigureLogger;
}

/** Side effects of reconfigureAgent (real defaults). */
export interface ReconfigureDeps {
  verify: (input: VerifyInput) => Promise<{ done: true; applied: true; how: string } | { done: true; applied: false; why: string }>;
  probeStartup: StartupProbe;
  /** Size of a file in bytes, 0 when it does not exist. */
  fileSize: (path: string) => Promise<number>;
  now: () => number;
}

/** The real side effects. */
export const defaultReconfigureDeps: ReconfigureDeps = {
  verify: (input) => verifyReconfigure(input),
  probeStartup,
  fileSize: (path) => stat(path).then((s) => s.size, () => 0),
  now: () => Date.now(),
};

/** Carries out one reconfigure; never rejects (an unexpected error becomes a restart with its message). */
export async function reconfigureAgent(job: ReconfigureJob, deps: ReconfigureDeps = defaultReconfigureDeps): Promise<ReconfigureOutcome> {
  const started = deps.now();
  const outcome = (result: ReconfigureOutcome['result'], reason: string, pid: number | null): ReconfigureOutcome => ({ address: job.address, result, reason, pid, durationMs: deps.now() - started });
  const handle = await job.runner.reconfigure(`${job.reason}; writing openclaw.json for the running gateway to apply`);
  if (!handle) {
    // Crashed, stopped or restarted since the plan was made: its next launch provisions the file.
    return outcome('skipped', `${job.reason}; ${job.notRunning()}`, null);
  }
  const watch = new AbortController();
  const stopWatch = () => watch.abort();
  const off = job.runner.on('state', () => {
    if (!handle.current()) stopWatch();
  });
  job.signal.addEventListener('abort', stopWatch, { once: true });
  const notApplied = async (why: string): Promise<ReconfigureOutcome> => {
    const reason = `${job.reason}; not applied in place, so fleetd restarts the agent on the new file: ${why}`;
    job.log.warn({ pid: handle.pid, why }, 'reconfigure not applied in place; restarting the agent');
    return (await handle.settle({ applied: false, reason })) ? outcome('restarted', reason, handle.pid) : outcome('skipped', 'stopped, exited or changed again meanwhile', handle.pid);
  };
  try {
    // Taken right before the write: only what the gateway says about THIS file counts.
    let baseline: StartupState = { state: 'no-answer', uptimeMs: null, detail: 'not probed' };
    let logOffset = 0;
    let written: ProvisionedConfig;
    try {
      written = await job.writeConfig(async () => {
        // stopped, removed or superseded while waiting for its turn: write nothing (a purge may follow)
        if (!handle.current() || watch.signal.aborted) throw SUPERSEDED;
        baseline = await deps.probeStartup(handle.port, STARTUP_TIMEOUT_MS);
        logOffset = await deps.fileSize(job.logFile);
      });
    } catch (err) {
      if (err === SUPERSEDED) return outcome('skipped', 'stopped, exited or changed again meanwhile', handle.pid);
      return await notApplied(`openclaw.json could not be written (${err instanceof Error ? err.message : String(err)})`);
    }
    job.onWritten(written);
    const applied = async (reason: string): Promise<ReconfigureOutcome> => {
      if (!(await handle.settle({ applied: true, reason }))) return outcome('skipped', 'stopped, exited or changed again meanwhile', handle.pid);
      job.onApplied(handle.pid, written.hash);
      return outcome('applied', reason, handle.pid);
    };
    if (!written.written || written.text === undefined) return await applied(`${job.reason}; openclaw.json already held these values, nothing for pid ${handle.pid} to apply`);
    handle.progress(`${job.reason}; waiting for pid ${handle.pid} to apply the new openclaw.json`);
    const verdict = await deps.verify({
      port: handle.port,
      logFile: job.logFile,
      logOffset,
      configPath: written.configPath,
      writtenText: written.text,
      baseline,
      limits: job.limits,
      signal: watch.signal,
      onPhase: (phase) => handle.progress(`${job.reason}; ${phase} (pid ${handle.pid})`),
    });
    if (watch.signal.aborted || !handle.current()) return outcome('skipped', 'stopped, exited or changed again meanwhile', handle.pid);
    if (!verdict.applied) return await notApplied(verdict.why);
    job.log.info({ pid: handle.pid, how: verdict.how }, 'reconfigured in place');
    return await applied(`${job.reason}; applied in place by pid ${handle.pid}: ${verdict.how}`);
  } catch (err) {
    return await notApplied(`unexpected error while applying it (${err instanceof Error ? err.message : String(err)})`);
  } finally {
    off();
    job.signal.removeEventListener('abort', stopWatch);
  }
}
