// The runner's state machine. Every arrow carries a human-readable reason in the status.
//
//   +---------+  start()   +----------+  /healthz 200   +---------+
//   | stopped | ---------> | starting | --------------> | running |
//   +---------+            +----------+                 +---------+
//      ^   ^                 |  ^   |                     |    |
//      |   |    exit (crash) |  |   | exit 78             |    | exit (crash)
//      |   |                 v  |   v                     |    |
//      |   |  stop()   +---------+  +--------+   exit 78  |    |
//      |   +---------- | backoff |  | failed | <----------+    |
//      |   |           +---------+  +--------+                 |
//      |   |  stop()     ^  ^   |      |                       |
//      |   +-------------|--|---|------+ start(), restart() -> starting
//      |                 |  |   +-> starting  (backoff timer, start())
//      |                 |  +------------------------------------+
//      |                 | tree gone after a hang, a startup timeout,
//      |                 | or a crash that left children behind
//      |  tree gone  +----------+
//      +------------ | stopping | <- stop(), restart() (from starting or running),
//                    +----------+    hung: failureThreshold failed probes (from running),
//                                    startup timeout (from starting),
//                                    exit that left children behind (from either)
//                    stopping -> starting  (restart(): tree gone, spawn again)
//                    stopping -> failed    (exit 78 that left children behind)
//
// In words: spawned is not started (`starting` until /healthz answers 200); a crash goes
// to `backoff` and comes back by itself; a code in noRestartExitCodes goes to `failed`
// until an operator acts; `stopping` means this runner is taking a process tree down.
import type { AgentState } from './types.js';

/** Allowed transitions, from -> to (the diagram above as data). */
export const TRANSITIONS: Readonly<Record<AgentState, readonly AgentState[]>> = {
  stopped: ['starting'],
  starting: ['running', 'backoff', 'failed', 'stopping'],
  running: ['backoff', 'failed', 'stopping'],
  backoff: ['starting', 'stopped'],
  stopping: ['stopped', 'starting', 'backoff', 'failed'],
  failed: ['starting', 'stopped'],
};

/** Every state, in diagram order. */
export const AGENT_STATES: readonly AgentState[] = ['stopped', 'starting', 'running', 'backoff', 'stopping', 'failed'];

/** True when the runner may go from `from` to `to`. */
export function canTransition(from: AgentState, to: AgentState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** States in which a gateway process of this agent may exist. */
export function hasProcess(state: AgentState): boolean {
  return state === 'starting' || state === 'running' || state === 'stopping';
}

/** States start() acts on; elsewhere it is a no-op (already up, or a stop is finishing). */
export function canStart(state: AgentState): boolean {
  return state === 'stopped' || state === 'failed' || state === 'backoff';
}
