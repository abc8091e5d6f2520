// The runner's public contract (what fleetd calls) and the record of one spawned gateway
// process it keeps; the state machine itself is in runner.ts.
import type { ListenerOwner } from './listener-owner.js';
import type { AgentAddress } from '../manifest/ids.js';
import type { RecordedProcess } from '../plan/types.js';
import type { LogSink, LogStream, OutputStream } from './log-sink.js';
import type { OutputTail } from './output-tail.js';
import type { TimerHandle } from './runner-deps.js';
import type { OomCounters } from '../isolation/cgroup-agent.js';
import type { GatewayExit, GatewayProcess } from './spawn-gateway.js';
import type { AgentState, LaunchSpec, RunnerStatus } from './types.js';

/** Options of stop() and restart(). */
export interface StopCallOptions {
  /** Grace between SIGTERM and SIGKILL (default spec.stopTimeoutMs). */
  timeoutMs?: number;
  /** Why, for status and the log (default "requested by the operator"). */
  reason?: string;
}

/** What waitForState waits for: a state, any of several, or a predicate. */
export type StatePredicate = AgentState | readonly AgentState[] | ((status: RunnerStatus) => boolean);

/** Events of a runner. */
export interface RunnerEvents {
  /** Every state change, with the new status; also the spawn inside `starting` (the pid appears). */
  state: (status: RunnerStatus) => void;
  /** A gateway was spawned (record it in the registry) or is gone with its tree (null: clear it). */
  process: (process: RecordedProcess | null) => void;
}

/** How an in-place reconfigure ended (see Runner.reconfigure). */
export type ReconfigureSettlement = { applied: true; reason: string } | { applied: false; reason: string };

/** One in-place reconfigure of the running gateway; every call is a no-op once it is no longer current. */
export interface ReconfigureHandle {
  /** The gateway process the change is applied to. */
  readonly pid: number;
  readonly port: number;
  /** True while this reconfigure is the latest one and the agent is still `reconfiguring` on the same process. */
  current(): boolean;
  /** Changes the reason status shows (what fleetd waits for now). */
  progress(reason: string): void;
  /** Applied: back to `running` with `reason`. Not applied: a restart with `reason`. Resolves false when it was no longer current. */
  settle(outcome: ReconfigureSettlement): Promise<boolean>;
}

/** One agent's supervisor. */
export interface Runner {
  readonly address: AgentAddress;
  /** From stopped, failed or backoff: launch (queued behind a stop in progress); resolves once the launch began (`starting`). Elsewhere a no-op. */
  start(reason?: string): Promise<void>;
  /** Cancels any launch or backoff at once (no spawn after this call), stops the whole tree (SIGTERM, then SIGKILL after the timeout); resolves in `stopped`. */
  stop(options?: StopCallOptions): Promise<void>;
  /** Cancels any launch, stops the tree if up, launches again; clears `failed`; counts a restart. Resolves once the new launch began. */
  restart(options?: StopCallOptions): Promise<void>;
  /**
   * Live restore: takes over a gateway a previous fleetd left running (its identity checked
   * by the caller): `running` at once with its real uptime and restart count, probed from
   * now on. False (nothing done) unless the runner is stopped with nothing launched.
   */
  adopt(proc: GatewayProcess, facts: AdoptFacts): Promise<boolean>;
  /** Live restore of a gateway that ended while fleetd was away: its exact exit goes through the restart policy. */
  adoptExit(exit: GatewayExit & { at: number }, facts: Omit<AdoptFacts, 'runningSince'> & { runningSince: number | null; output?: string; pid?: number }): Promise<void>;
  /** Live restore of a gateway that ended while fleetd was away, of an agent not wanted running (stopped, disabled): its exit and count are recorded (status, registry), nothing starts. No-op unless the runner is stopped with nothing launched. */
  recallExit(exit: GatewayExit & { at: number }, facts: { spawnedAt: number; restarts: number; pid?: number }): Promise<void>;
  /** Lets go of the gateway without stopping it (a restart of fleetd): no exit is handled, the next fleetd adopts it. */
  detach(): Promise<void>;
  /**
   * From running (or reconfiguring: a newer change replaces the one in progress): enters
   * `reconfiguring` with `reason` while the gateway keeps running, and resolves with the
   * handle that ends it. Resolves null in any other state (nothing runs that could apply it).
   * While reconfiguring, failed health probes are reported but do not count as a hang: the
   * reconfigure has its own deadline and settles with a restart.
   */
  reconfigure(reason: string): Promise<ReconfigureHandle | null>;
  /** Replaces the spec whose timings apply now (health, restart policy, stop timeout); the next launch prepares its own. */
  updateSpec(spec: LaunchSpec): void;
  /** Its status now, frozen: the same object as the last call while nothing it shows changed (callers compare by identity to skip work; a new object says something changed). */
  status(): RunnerStatus;
  /** Resolves with the first status matching `predicate` (now or later); FleetError TIMEOUT after timeoutMs. */
  waitForState(predicate: StatePredicate, timeoutMs: number): Promise<RunnerStatus>;
  /** Subscribes; returns the unsubscribe function. */
  on<E extends keyof RunnerEvents>(event: E, listener: RunnerEvents[E]): () => void;
  off<E extends keyof RunnerEvents>(event: E, listener: RunnerEvents[E]): void;
}

/** What the runner must know of a gateway it adopts. */
export interface AdoptFacts {
  /** The spec it would launch now (timings, port, token for redaction). */
  spec: LaunchSpec;
  /** epoch ms of its spawn (uptime counts from here). */
  spawnedAt: number;
  /** epoch ms it became running, when recorded. */
  runningSince: number | null;
  /** The restart count recorded with it. */
  restarts: number;
  /** Why it could be adopted, for the reason ("same start time, same launch hash"). */
  why: string;
}

/** One spawned gateway process and what the runner knows about it. */
export interface Run {
  spec: LaunchSpec;
  proc: GatewayProcess;
  record: RecordedProcess | null;
  spawnedAt: number;
  runningSince: number | null;
  failures: number;
  /** Descendants seen so far (pid -> start time), to stop them even after re-parenting. */
  known: Map<number, string>;
  tail: OutputTail;
  sink: LogSink;
  streams: Record<OutputStream, LogStream>;
  /** The OS reported the exit (output may still be draining). */
  exitSeen: boolean;
  /** epoch ms of that exit. */
  exitAt: number | null;
  /** Set once the process exited and its output was drained. */
  exit: GatewayExit | null;
  /** The runner is taking this tree down: its exit is expected. */
  stopping: boolean;
  /** Exit recorded, log closed, registry told. */
  finished: boolean;
  probeTimer: TimerHandle | null;
  startupTimer: TimerHandle | null;
  /** Set while a process outside the agent holds its port (the reason names it); null otherwise. */
  foreign: string | null;
  /** Why this run was launched ("restarted by the operator"), the start of every reason while it starts. */
  why: string;
  /** fleetd let go of it (a restart of fleetd): its end is the next fleetd's to see. */
  detached: boolean;
  /** The cgroup's OOM counters right before the spawn (or the adoption): an OOM kill shows as their increase. */
  oomBaseline: OomCounters | null;
  /** Probes made while starting (their delays grow: runner.ts startingProbeDelayMs). */
  startProbes: number;
  /** The last listener check of this run while starting and when (clock ms): a refused probe reuses it for a while. */
  listener: { owner: ListenerOwner; at: number } | null;
  /**
   * Who checks the readiness of this running gateway (runner.ts watchReadiness): `fleetd`
   * (its own probe rounds), `asking` its holder to watch, `holder` (the shim checks /readyz
   * every interval; fleetd hears only of a miss), `resync` (fleetd took the checks back and
   * waits for the holder to confirm it watches nothing: runner.ts resyncHolder), `fleetd-only`
   * (the holder would not, or cannot be reached: fleetd probes for the rest of the run).
   */
  watch: 'fleetd' | 'asking' | 'holder' | 'resync' | 'fleetd-only';
  /** Clock ms since the holder has not answered a ping or a watch (status shows it); null while it answers. */
  holderSilentSince: number | null;
  /** The interval and timeout the holder was asked to watch with (a reload that changes them asks again). */
  watched: { intervalMs: number; timeoutMs: number } | null;
  /** Turns of the watch wheel passed while the holder watches (runner.ts startWatchTicks: which of them ping the holder). */
  watchTicks: number;
  /** Leaves the watch wheel (runner.ts startWatchTicks); null while the run has no place on it. */
  watchLeave: (() => void) | null;
}

