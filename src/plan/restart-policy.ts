// The restart decision as a pure function (Nomad's restarts.go style): the runner reports
// what happened, this answers whether to restart, after how long, and why, in words an
// operator can read. No timers, no clock: `now` and `random` come in as arguments.
import type { ManifestInput } from '../manifest/schema.js';
import { formatDuration } from '../util/duration.js';

/** The manifest's `restart` block. */
export type RestartPolicy = ManifestInput['restart'];

/** What the policy remembers between exits: restarts in the current streak. */
export interface RestartHistory {
  /** Restarts decided since the streak began (0 = none yet). */
  attempt: number;
}

/** A fresh history (no restart yet). */
export const EMPTY_HISTORY: RestartHistory = Object.freeze({ attempt: 0 });

/** Fields every ending of a gateway has. */
interface EndingBase {
  /** How long the process lived, ms. */
  runtimeMs: number;
  /** epoch ms when it became healthy (`running`); null when it never did. */
  runningSince: number | null;
}

/** How a gateway ended, as the runner saw it. */
export type GatewayEnding =
  | (EndingBase & {
      kind: 'exited';
      code: number | null;
      signal: string | null;
      /** Last meaningful line(s) of its output, token already redacted. */
      output?: string;
      /** What fleetd saw that explains the exit (a stranger on its port), said with every decision. */
      cause?: string;
    })
  /** `cause`: what else the stop found (a holder that had to be ended: run-stop.ts exitOf). */
  | (EndingBase & { kind: 'unhealthy'; failures: number; cause?: string })
  | (EndingBase & { kind: 'startup-timeout'; timeoutMs: number; cause?: string })
  | (EndingBase & { kind: 'spawn-error'; message: string })
  /** The launch failed before a spawn (runtime, home, config); `transient` as classified where it arose. */
  | (EndingBase & { kind: 'prepare-failed'; message: string; transient: boolean });

/** The answer: restart after delayMs, or fail until an operator acts. */
export interface RestartDecision {
  action: 'restart' | 'fail';
  /** 0 when action is 'fail'. */
  delayMs: number;
  /** epoch ms of the restart (now + delayMs); null when action is 'fail'. */
  restartAt: number | null;
  /** e.g. `exited with code 1 after 3.2 s; restart 4 in 8 s`. */
  reason: string;
  /** History to pass to the next call. */
  history: RestartHistory;
}

/** Largest share of the delay added as jitter (10 %). */
export const JITTER_RATIO = 0.1;

/** The exit code OpenClaw uses for a configuration it refuses (EX_CONFIG). */
export const CONFIG_REFUSED_EXIT_CODE = 78;

// delay(n) = min(maxDelayMs, initialDelayMs * factor^(n-1)) plus up to 10 % jitter (so the
// delay is never shorter than the formula: "restart in 1 s" is at least 1 s). The streak
// restarts at n = 1 when the gateway had been healthy for resetAfterMs before this ending.
/** Decides what to do after a gateway ended. Pure. */
export function nextRestart(
  history: RestartHistory,
  ending: GatewayEnding,
  policy: RestartPolicy,
  now: number,
  random: () => number,
): RestartDecision {
  const what = describeEnding(ending);
  if (ending.kind === 'exited' && ending.code !== null && policy.noRestartExitCodes.includes(ending.code)) {
    const why = ending.code === CONFIG_REFUSED_EXIT_CODE ? 'OpenClaw refused its configuration' : 'the code is listed in restart.noRestartExitCodes';
    const output = ending.output ? `; it said: ${ending.output}` : '';
    return { action: 'fail', delayMs: 0, restartAt: null, reason: `${what}, not restarted because ${why}${output}`, history };
  }
  if (ending.kind === 'prepare-failed' && !ending.transient) {
    return { action: 'fail', delayMs: 0, restartAt: null, reason: `${what}; not retried, since waiting cannot fix it`, history };
  }
  const healthyMs = ending.runningSince === null ? 0 : Math.max(0, now - ending.runningSince);
  const previous = healthyMs >= policy.resetAfterMs ? 0 : history.attempt;
  const attempt = previous + 1;
  const delayMs = backoffDelay(attempt, policy, random);
  return {
    action: 'restart',
    delayMs,
    restartAt: now + delayMs,
    reason: `${what}; restart ${attempt} in ${formatDuration(delayMs)}`,
    history: { attempt },
  };
}

/** Delay before restart number `attempt` (1-based), jitter included. */
export function backoffDelay(attempt: number, policy: RestartPolicy, random: () => number): number {
  const exponent = Math.max(0, attempt - 1);
  const raw = policy.initialDelayMs * Math.pow(policy.factor, exponent);
  const base = Math.min(policy.maxDelayMs, Number.isFinite(raw) ? raw : policy.maxDelayMs);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base + base * JITTER_RATIO * r);
}

/** The first half of a reason: what happened to the gateway. */
export function describeEnding(ending: GatewayEnding): string {
  const after = `after ${formatDuration(ending.runtimeMs)}`;
  switch (ending.kind) {
    case 'exited': {
      const cause = ending.cause ? `: ${ending.cause}` : '';
      if (ending.signal) return `killed by ${ending.signal} ${after}${cause}`;
      if (ending.code !== null) return `exited with code ${ending.code} ${after}${cause}`;
      return `exited ${after}${cause}`;
    }
    case 'unhealthy':
      return `stopped after ${ending.failures} failed health probes in a row, hung ${after}${ending.cause ? `: ${ending.cause}` : ''}`;
    case 'startup-timeout':
      return `no answer on /healthz within ${formatDuration(ending.timeoutMs)}; stopped${ending.cause ? `: ${ending.cause}` : ''}`;
    case 'spawn-error':
      return `could not start: ${ending.message}`;
    case 'prepare-failed':
      return `cannot launch: ${ending.message}`;
  }
}
