// Taking one run's process tree down: SIGTERM to the gateway, its group and every
// descendant the runner saw (and processes carrying the agent's environment marker,
// wherever they were re-parented), SIGKILL after the timeout; then the exit event, bounded
// in case it never comes. The runner decides when; this file only does it.
import type { RunnerDeps, RunnerLogger } from './runner-deps.js';
import type { Run } from './runner-types.js';
import type { GatewayExit } from './spawn-gateway.js';
import type { StopTarget } from './stop-tree.js';
import { AGENT_MARKER_ENV, zombieExit } from './proc.js';
import { formatDuration } from '../util/duration.js';
import { stopCgroup } from '../isolation/cgroup-stop.js';
import { oomExitReason } from '../isolation/oom-reason.js';

/** How long to wait for the exit event of a process whose tree is already gone (ms). */
export const EXIT_EVENT_WAIT_MS = 5000;

/** Adds every process carrying the agent's environment marker to the tree `run` must stop (found by a search made after `since`, clock ms; default now). */
export function rememberMarked(run: Run, deps: Pick<RunnerDeps, 'findMarked'>, since?: number): void {
  for (const p of deps.findMarked(run.spec, since)) run.known.set(p.pid, p.startTime);
}

/** The agent's environment marker (its OPENCLAW_CONFIG_PATH), inherited through fork and exec; null when the spec has none. */
export function markerOf(run: Run): { name: string; value: string } | null {
  const value = run.spec.env[AGENT_MARKER_ENV];
  return value ? { name: AGENT_MARKER_ENV, value } : null;
}

/** The processes `run` knows of, as stop-tree refs. */
export function knownRefs(run: Run): Array<{ pid: number; startTime: string }> {
  return [...run.known].map(([pid, startTime]) => ({ pid, startTime }));
}

// With a cgroup, the agent is its cgroup's members: SIGTERM to each (frozen first, so no fork
// slips between), kill-all after the timeout (v2 cgroup.kill; v1 freeze + SIGKILL + thaw).
// A daemon that double-forked, called setsid and cleared its environment is still a member.
// Without one, the tree walk of stop-tree.ts (pid, group, known descendants, env marker).
/** Stops the whole tree of `run` (nothing when it never spawned); `since`: when the stop was asked for (clock ms). Failures are logged, never thrown. */
export async function stopRunTree(run: Run, deps: Pick<RunnerDeps, 'findMarked' | 'stopTree'>, log: RunnerLogger, timeoutMs: number, since?: number): Promise<void> {
  const cgroup = run.spec.isolation?.cgroup;
  if (cgroup) {
    try {
      const report = await stopCgroup(cgroup, { timeoutMs });
      if (report.killed.length > 0) log.warn({ cgroup: cgroup.name, killed: report.killed, timeoutMs }, 'SIGKILLed processes that outlived SIGTERM');
      if (report.survivors.length > 0) log.error({ cgroup: cgroup.name, survivors: report.survivors }, 'processes survived SIGKILL');
    } catch (err) {
      log.error({ err, cgroup: cgroup.name }, 'stopping the cgroup failed');
    }
    return;
  }
  const pid = run.proc.pid;
  if (pid === null) return;
  rememberMarked(run, deps, since);
  // The marker is passed, not guessed from the tree: a child forked during the stop may be
  // all that is left, re-parented to init, when stopTree looks.
  const target: StopTarget = { pid, pgid: pid, trustGroup: true, extra: knownRefs(run), marker: markerOf(run) };
  if (run.record?.startTime) target.startTime = run.record.startTime;
  try {
    const report = await deps.stopTree(target, { timeoutMs });
    if (report.killed.length > 0) log.warn({ pid, killed: report.killed, timeoutMs }, 'SIGKILLed processes that outlived SIGTERM');
    if (report.survivors.length > 0) log.error({ pid, survivors: report.survivors }, 'processes survived SIGKILL');
  } catch (err) {
    log.error({ err, pid }, 'stopping the process tree failed');
  }
}

/** Members of the run's cgroup still alive after its gateway exited (a crash that left children); -1 without a cgroup (use the tree walk). */
export function cgroupLeftovers(run: Run): number {
  const cgroup = run.spec.isolation?.cgroup;
  if (!cgroup) return -1;
  try {
    return cgroup.pids().length;
  } catch {
    return 0;
  }
}

/** The OOM reason of an exit ("killed: memory limit 1.5G reached") when the kernel killed it for memory; undefined otherwise. */
export function oomCause(run: Run, exit: { code: number | null; signal: string | null }): string | undefined {
  const cgroup = run.spec.isolation?.cgroup;
  if (!cgroup || !run.oomBaseline) return undefined;
  try {
    return oomExitReason(run.oomBaseline, cgroup.oomCounters(), exit, run.spec.isolation?.memoryText);
  } catch {
    return undefined;
  }
}

// A holder (shim) that is stopped or stuck tells no exit: the tree is down but the exit event
// never comes, the holder still holds the run dir (the next launch would be refused: "shim
// pid N already holds ...") and, being the gateway's parent, keeps it a zombie. So once the
// wait is over, fleetd reads the exit status the kernel keeps in the zombie (the holder has
// not reaped it), SIGKILLs the holder (init reaps the gateway), and waits for the handle to
// settle so close() removes the holder's files.
/** The exit of `run` (at once when already known); after EXIT_EVENT_WAIT_MS without it, its holder is ended (see above) and the exit says so in `lost`. */
export function exitOf(run: Run, deps: Pick<RunnerDeps, 'setTimer' | 'clearTimer'>, log: RunnerLogger): Promise<GatewayExit> {
  if (run.exit) return Promise.resolve(run.exit);
  return new Promise((resolve) => {
    let abandoning = false;
    const timer = deps.setTimer(() => {
      const gateway = run.proc.pid !== null && run.proc.startTime ? { pid: run.proc.pid, startTime: run.proc.startTime } : null;
      const zombie = gateway ? zombieExit(gateway) : null;
      const killed = run.proc.killHolder?.() ?? null;
      if (killed === null) {
        log.warn({ pid: run.proc.pid }, 'no exit event after the process tree was stopped');
        return resolve({ code: null, signal: null });
      }
      abandoning = true;
      const how = zombie ? (zombie.signal ? `killed by ${zombie.signal}` : `exited with code ${zombie.code}`) : 'exit status unknown';
      const lost = `${killed} (no exit told ${formatDuration(EXIT_EVENT_WAIT_MS)} after the stop); gateway pid ${run.proc.pid ?? '-'} ${how}`;
      log.warn({ pid: run.proc.pid }, lost);
      const exit: GatewayExit = { code: zombie?.code ?? null, signal: zombie?.signal ?? null, lost };
      // the handle settles once the socket closes: bounded in case it does not
      const settled = deps.setTimer(() => resolve(exit), EXIT_EVENT_WAIT_MS);
      void run.proc.exited.then(() => {
        deps.clearTimer(settled);
        resolve(exit);
      });
    }, EXIT_EVENT_WAIT_MS);
    void run.proc.exited.then((exit) => {
      if (abandoning) return;
      deps.clearTimer(timer);
      resolve(exit);
    });
  });
}
