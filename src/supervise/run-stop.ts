// Taking one run's process tree down: SIGTERM to the gateway, its group and every
// descendant the runner saw (and processes carrying the agent's environment marker,
// wherever they were re-parented), SIGKILL after the timeout; then the exit event, bounded
// in case it never comes. The runner decides when; this file only does it.
import type { RunnerDeps, RunnerLogger } from './runner-deps.js';
import type { Run } from './runner-types.js';
import type { GatewayExit } from './spawn-gateway.js';
import type { StopTarget } from './stop-tree.js';

/** How long to wait for the exit event of a process whose tree is already gone (ms). */
export const EXIT_EVENT_WAIT_MS = 5000;

/** Adds every process carrying the agent's environment marker to the tree `run` must stop (found by a search made after `since`, clock ms; default now). */
export function rememberMarked(run: Run, deps: Pick<RunnerDeps, 'findMarked'>, since?: number): void {
  for (const p of deps.findMarked(run.spec, since)) run.known.set(p.pid, p.startTime);
}

/** The processes `run` knows of, as stop-tree refs. */
export function knownRefs(run: Run): Array<{ pid: number; startTime: string }> {
  return [...run.known].map(([pid, startTime]) => ({ pid, startTime }));
}

/** Stops the whole tree of `run` (nothing when it never spawned); `since`: when the stop was asked for (clock ms). Failures are logged, never thrown. */
export async function stopRunTree(run: Run, deps: Pick<RunnerDeps, 'findMarked' | 'stopTree'>, log: RunnerLogger, timeoutMs: number, since?: number): Promise<void> {
  const pid = run.proc.pid;
  if (pid === null) return;
  rememberMarked(run, deps, since);
  const target: StopTarget = { pid, pgid: pid, trustGroup: true, extra: knownRefs(run) };
  if (run.record?.startTime) target.startTime = run.record.startTime;
  try {
    const report = await deps.stopTree(target, { timeoutMs });
    if (report.killed.length > 0) log.warn({ pid, killed: report.killed, timeoutMs }, 'SIGKILLed processes that outlived SIGTERM');
    if (report.survivors.length > 0) log.error({ pid, survivors: report.survivors }, 'processes survived SIGKILL');
  } catch (err) {
    log.error({ err, pid }, 'stopping the process tree failed');
  }
}

/** The exit of `run` (at once when already known); a null exit after EXIT_EVENT_WAIT_MS if the event never comes. */
export function exitOf(run: Run, deps: Pick<RunnerDeps, 'setTimer' | 'clearTimer'>, log: RunnerLogger): Promise<GatewayExit> {
  if (run.exit) return Promise.resolve(run.exit);
  return new Promise((resolve) => {
    const timer = deps.setTimer(() => {
      log.warn({ pid: run.proc.pid }, 'no exit event after the process tree was stopped');
      resolve({ code: null, signal: null });
    }, EXIT_EVENT_WAIT_MS);
    void run.proc.exited.then((exit) => {
      deps.clearTimer(timer);
      resolve(exit);
    });
  });
}
