// The agent state machine: the one list of states (runner, planner, protocol and fleetctl
// all use it) and the arrows between them. Every arrow carries a human-readable reason,
// which `fleetctl status` shows.
//
//                  start(), restart()                      started (listener owned,
//   +---------+ ---------------------> +----------+        /startupz "started")     +---------+
//   | stopped |                        | starting | ------------------------------> | running |
//   +---------+ <--------------------- +----------+                                 +---------+
//     |  ^  ^    stop() before spawn    |  ^   |  \ exit 78, permanent                 |   |
//     |  |  |                           |  |   |   \ prepare failure                  |   | exit 78
//     |  |  |         exit (crash),     |  |   |    v                                 |   v
//     |  |  |    transient prepare      |  |   |  +--------+ <--------------------------+ +--------+
//     |  |  |    failure                v  |   |  | failed |                             | failed |
//     |  |  |  stop()            +---------+ |   |  +--------+  start(), restart() -> starting
//     |  |  +------------------- | backoff | |   |      | stop() -> stopped
//     |  |                       +---------+ |   |
//     |  |           backoff timer, start() -+   |   exit (crash) from running -> backoff
//     |  |  tree gone    +----------+            |
//     |  +-------------- | stopping | <----------+-- stop(), restart() (from starting or running),
//     |                  +----------+                hung: failureThreshold failed probes (running),
//     |                    stopping -> starting      startup timeout (starting),
//     |                    (restart(): tree gone,    exit that left children behind (either)
//     |                     launch again)
//     |                    stopping -> backoff | failed (after a hang, a timeout, leftovers)
//     +--> running: adopt() a healthy gateway a previous fleetd left running (live restore)
//
//   running <--> reconfiguring: a reload changed only openclaw.json; fleetd wrote it and waits
//   for the gateway to apply it itself (hot reload, or OpenClaw's in-process restart on the
//   same pid); back to running once applied. If it was not applied: stopping -> starting
//   (a restart, with the reason); exit -> backoff | failed; stop() -> stopping.
//
// In words: `starting` covers the whole launch: preparing (runtime ready, home verified,
// openclaw.json and token provisioned), waiting for a start slot, then spawned and waiting
// for the gateway to own its listener and say "started". A crash, a hang or a failure to
// prepare that may pass (disk full, registry unreachable) goes to `backoff` and comes back
// by itself; exit codes in noRestartExitCodes and failures that cannot pass by waiting
// (a symlinked home, a version that does not exist) go to `failed` until an operator acts.
// `stopping` means the runner is taking a process tree down. `reconfiguring` is `running`
// while a config change is being applied in place: the gateway serves throughout.

/** Every agent state, in diagram order; the one list (z.enum on the wire, plan, runner). */
export const AGENT_STATES = ['stopped', 'starting', 'running', 'backoff', 'stopping', 'failed', 'reconfiguring'] as const;

/** One agent state. */
export type AgentState = (typeof AGENT_STATES)[number];

/** Allowed transitions, from -> to (the diagram above as data). */
export const TRANSITIONS: Readonly<Record<AgentState, readonly AgentState[]>> = {
  stopped: ['starting', 'running'],
  starting: ['running', 'backoff', 'failed', 'stopping', 'stopped'],
  running: ['backoff', 'failed', 'stopping', 'reconfiguring'],
  backoff: ['starting', 'stopped'],
  stopping: ['stopped', 'starting', 'backoff', 'failed'],
  failed: ['starting', 'stopped'],
  reconfiguring: ['running', 'stopping', 'backoff', 'failed'],
};

/** True when an agent may go from `from` to `to`. */
export function canTransition(from: AgentState, to: AgentState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** States in which a gateway process of this agent may exist. */
export function hasProcess(state: AgentState): boolean {
  return state === 'starting' || state === 'running' || state === 'stopping' || state === 'reconfiguring';
}

/** States in which a gateway process exists or is about to (a backoff restart is pending). */
export function isAlive(state: AgentState): boolean {
  return hasProcess(state) || state === 'backoff';
}

/** States in which the gateway runs and answers: `running`, and `reconfiguring` (running while a config change is applied in place). */
export function isUp(state: AgentState): boolean {
  return state === 'running' || state === 'reconfiguring';
}

/** States start() acts on; elsewhere it is a no-op (already up or launching, or a stop is finishing). */
export function canStart(state: AgentState): boolean {
  return state === 'stopped' || state === 'failed' || state === 'backoff';
}

/** States in which a start attempt has an outcome: up, given up, waiting to retry, or stopped. */
export function isSettled(state: AgentState): boolean {
  return state === 'running' || state === 'failed' || state === 'backoff' || state === 'stopped';
}
