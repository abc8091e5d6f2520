// Did the running gateway apply the openclaw.json fleetd just wrote? (pure; time comes in.)
// Evidence arrives from three places while fleetd watches: the gateway's output lines
// (plan/reload-lines.ts), /startupz (state and uptimeMs: an uptime that went DOWN on the same
// pid is OpenClaw's in-process restart), and openclaw.json.last-good (OpenClaw copies a
// config there once it accepted it; a change that needs no reload action says nothing else).
//
//   rejected / disabled / restart refused / failed        -> not applied: restart, with why
//   restart required or begun, then started again         -> applied by an in-process restart
//     ... not back within restartMs (+ deferMs when OpenClaw deferred it for active work)
//                                                         -> not applied: restart
//   "hot reload applied"                                  -> applied in place
//   last-good = the file written, seen one round ago, no restart evidence -> applied
//   nothing conclusive within confirmMs                   -> not applied: restart
// "One round ago": OpenClaw logs a restart it needs BEFORE it promotes last-good, but its
// output reaches fleetd through a pipe; a full probe round after seeing last-good lets
// that line arrive before the verdict.
import { formatDuration } from '../util/duration.js';
import type { ReloadSignal } from './reload-lines.js';

/** What /startupz said (state as in supervise/startup-probe.ts; uptimeMs when it told). */
export interface StartupObservation {
  state: 'started' | 'starting' | 'draining' | 'absent' | 'no-answer';
  uptimeMs: number | null;
}

/** Deadlines of one verification, ms. */
export interface VerdictLimits {
  /** For the gateway to apply the change or start its own restart (from the write). */
  confirmMs: number;
  /** For an in-process restart to be "started" again (from its announcement): health.startupTimeoutMs. */
  restartMs: number;
  /** Extra wait when OpenClaw defers its restart until active work ends: gateway.stopTimeoutMs. */
  deferMs: number;
}

/** Everything seen so far. Build with `startEvidence`, feed with `observe*`. */
export interface Evidence {
  startedAt: number;
  /** Probe rounds so far (the caller counts them with `nextRound`). */
  round: number;
  detected?: string[];
  applied?: string[];
  restartRequired?: { at: number; paths: string[]; deferred: boolean };
  restartBegan?: { at: number; how: string };
  backStarted?: { at: number; uptimeMs: number | null };
  notApplied?: string;
  lastGoodRound?: number;
  /** Highest uptime /startupz reported (ms), to notice a restart by its drop. */
  maxUptimeMs: number | null;
}

/** The verdict: still open, applied (how, for people), or not applied (why, for people). */
export type Verdict =
  | { done: false; phase: string }
  | { done: true; applied: true; how: string }
  | { done: true; applied: false; why: string };

/** Evidence at the moment of the write; `baseline` is /startupz just before it. */
export function startEvidence(now: number, baseline: StartupObservation): Evidence {
  return { startedAt: now, round: 0, maxUptimeMs: baseline.state === 'started' ? baseline.uptimeMs : null };
}

/** Takes one line's signal into the evidence. */
export function observeSignal(ev: Evidence, signal: ReloadSignal, now: number): void {
  switch (signal.kind) {
    case 'detected':
      ev.detected = signal.paths;
      break;
    case 'applied':
      ev.applied = signal.paths;
      break;
    case 'restart-required':
      ev.restartRequired = { at: ev.restartRequired?.at ?? now, paths: signal.paths, deferred: signal.deferred };
      break;
    case 'restarting':
      ev.restartBegan ??= { at: now, how: 'the gateway restarts in-process' };
      break;
    case 'ready':
      if (ev.restartBegan) ev.backStarted ??= { at: now, uptimeMs: null };
      break;
    case 'rejected':
      // OpenClaw keeps its previous config for now, but fleetd restarts it (reconfigure.ts), and a
      // start validates the same file: it exits 78 and the agent is failed until the manifest is fixed
      ev.notApplied ??= `the gateway rejected the new openclaw.json (${signal.detail}), which it will refuse at start too (exit 78: failed until the manifest is fixed)`;
      break;
    case 'disabled':
      ev.notApplied ??= 'the gateway does not apply edits itself (gateway.reload.mode=off in its openclaw.json)';
      break;
    case 'restart-refused':
      ev.notApplied ??= `the change needs a gateway restart that OpenClaw will not do itself (${signal.detail})`;
      break;
    case 'failed':
      ev.notApplied ??= `the gateway could not apply it (${signal.detail})`;
      break;
  }
}

/** Takes one /startupz answer into the evidence: an uptime lower than before is a new start of the process. */
export function observeStartup(ev: Evidence, answer: StartupObservation, now: number): void {
  if (answer.state === 'started') {
    const up = answer.uptimeMs;
    if (up !== null && ev.maxUptimeMs !== null && up < ev.maxUptimeMs) {
      ev.restartBegan ??= { at: now, how: 'the gateway restarted in-process' };
      ev.backStarted ??= { at: now, uptimeMs: up };
    } else if (ev.restartBegan && !ev.backStarted && (up === null || ev.maxUptimeMs === null)) {
      // no uptime to compare: "started" after a restart was announced is the new start
      ev.backStarted = { at: now, uptimeMs: up };
    }
    if (up !== null) ev.maxUptimeMs = Math.max(ev.maxUptimeMs ?? 0, up);
    return;
  }
  // draining / starting / no answer after OpenClaw announced its restart: the restart is under way
  if (ev.restartRequired && answer.state !== 'absent') ev.restartBegan ??= { at: now, how: `the gateway restarts in-process (/startupz: ${answer.state})` };
}

/** Records that openclaw.json.last-good now holds exactly the text fleetd wrote. */
export function observeLastGood(ev: Evidence): void {
  ev.lastGoodRound ??= ev.round;
}

/** Starts the next probe round. */
export function nextRound(ev: Evidence): void {
  ev.round += 1;
}

/** Paths for people: `(a, b)` or nothing. */
function paths(list: string[] | undefined): string {
  return list && list.length > 0 ? ` (${list.join(', ')})` : '';
}


/** The verdict on the evidence at `now`. */
export function judge(ev: Evidence, now: number, limits: VerdictLimits): Verdict {
  if (ev.notApplied) return { done: true, applied: false, why: ev.notApplied };
  if (ev.backStarted) {
    return { done: true, applied: true, how: `in-process restart${paths(ev.restartRequired?.paths ?? ev.detected)}, back after ${formatDuration(ev.backStarted.at - ev.startedAt)}` };
  }
  if (ev.restartRequired || ev.restartBegan) {
    const from = ev.restartRequired?.at ?? ev.restartBegan!.at;
    const deferred = ev.restartRequired?.deferred === true && !ev.restartBegan;
    const limit = limits.restartMs + (ev.restartRequired?.deferred ? limits.deferMs : 0);
    if (now - from > limit) {
      return {
        done: true,
        applied: false,
        why: deferred
          ? `the gateway deferred the restart it needs${paths(ev.restartRequired?.paths)} for active work longer than ${formatDuration(limit)}`
          : `the gateway's in-process restart${paths(ev.restartRequired?.paths)} did not come back "started" within ${formatDuration(limit)}`,
      };
    }
    return { done: false, phase: deferred ? `the gateway defers the restart it needs${paths(ev.restartRequired?.paths)} until active work ends` : `the gateway restarts in-process${paths(ev.restartRequired?.paths)}` };
  }
  if (ev.applied) return { done: true, applied: true, how: `hot reload${paths(ev.applied)} after ${formatDuration(now - ev.startedAt)}` };
  if (ev.lastGoodRound !== undefined && ev.round > ev.lastGoodRound) {
    return { done: true, applied: true, how: `accepted${paths(ev.detected)}, no reload action needed, after ${formatDuration(now - ev.startedAt)}` };
  }
  if (now - ev.startedAt > limits.confirmMs) {
    const seen = ev.detected ? `it saw the change${paths(ev.detected)} but did not confirm applying it` : 'it did not react to the new file';
    return { done: true, applied: false, why: `the gateway did not confirm within ${formatDuration(limits.confirmMs)}: ${seen}` };
  }
  return { done: false, phase: ev.detected ? `the gateway evaluates the change${paths(ev.detected)}` : 'waiting for the gateway to pick up the new file' };
}

/** The longest a verification can last from the write (ms): its hard stop. */
export function verdictHardStopMs(limits: VerdictLimits): number {
  return limits.confirmMs + limits.deferMs + limits.restartMs;
}
