// What a runner needs from the outside world, and the real implementations. Tests replace
// any subset (createRunner merges them over these defaults).
import { pino } from 'pino';
import { openLogSink, type LogSink, type OutputStream } from './log-sink.js';
import { probeGateway, type ProbeFn } from './probe.js';
import { createListenerCheck, type ListenerCheck, type SharedListenerCheck } from './listener-owner.js';
import { countLeftovers, processesWithEnv, trackTree } from './proc.js';
import { spawnGateway, type SpawnFn } from './spawn-gateway.js';
import { stopTree, type StopOptions, type StopReport, type StopTarget } from './stop-tree.js';
import type { ExitInfo, LaunchSpec } from './types.js';
import { createWatchWheel, type WatchWheel } from './watch-wheel.js';
import { merge } from '../util/merge.js';

/** The pino methods the runner uses (a pino Logger fits). */
export interface RunnerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): RunnerLogger;
}

/** Opaque timer handle of RunnerDeps.setTimer. */
export type TimerHandle = unknown;

/** Everything the runner touches outside itself; real defaults in createRunner. */
export interface RunnerDeps {
  spawn: SpawnFn;
  probe: ProbeFn;
  stopTree: (target: StopTarget, options: StopOptions) => Promise<StopReport>;
  /** Which process holds a port: the agent's own (given its pids), a stranger (named), or none (supervise/listener-owner.ts); fleetd's shares its table reads among agents (async). */
  listenerCheck: ListenerCheck | SharedListenerCheck;
  /** Remembers the living descendants of `pid` in `known` (pid -> start time). */
  trackTree: (pid: number, known: Map<number, string>) => void;
  /** Counts processes left of a tree whose root died (group members + remembered descendants). */
  countLeftovers: (pid: number, known: Map<number, string>) => number;
  /**
   * Processes carrying this agent's environment marker (OPENCLAW_CONFIG_PATH), wherever they
   * were re-parented, from a search made after `since` (clock ms: when the stop was asked
   * for; default now). Stops asked for together may share one search.
   */
  findMarked: (spec: LaunchSpec, since?: number) => Array<{ pid: number; startTime: string }>;
  /**
   * Readies everything one launch needs and resolves with the spec to spawn (runtime
   * installed, home verified, openclaw.json and token provisioned). Runs before EVERY
   * spawn, automatic restarts included. `report` tells the status what it waits for.
   * Rejects with a FleetError whose `transient` says whether waiting can help; must give
   * up promptly when `signal` aborts (the launch was cancelled by a stop). Without it the
   * runner launches the spec it was given (tests, fixed commands).
   */
  prepare?: (signal: AbortSignal, report: (step: string) => void) => Promise<LaunchSpec>;
  /** Waits for a start slot (fleetd's startConcurrency); resolves with its release; rejects once `signal` aborts. */
  bootSlot: (signal: AbortSignal) => Promise<() => void>;
  /** Opens the captured log of one gateway process; `onError` hears of writes the disk refused. */
  openLog: (spec: LaunchSpec, onText: (stream: OutputStream, text: string) => void, onError: (err: unknown) => void) => LogSink;
  clock: { now(): number };
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /** The timers shared by the watched agents (watch-wheel.ts): fleetd passes one to every runner; by default each runner gets its own on setTimer/clearTimer. */
  watchWheel: WatchWheel;
  /** [0, 1) for restart jitter. */
  random(): number;
  logger: RunnerLogger;
  /** The agent's own logger, whose lines already carry `{ agent }`; absent: the runner makes one, a child of `logger`. A pino child is ~290 bytes of heap. */
  agentLogger?: RunnerLogger;
  /** What a previous fleetd last knew of this agent (registry: restart count, last exit); the runner starts from it instead of from nothing. */
  recalled?: { restarts: number; lastExit: ExitInfo | null };
}

/** The dependencies whose real implementations hold no state. */
type StatelessDeps = Omit<RunnerDeps, 'listenerCheck' | 'watchWheel' | 'logger' | 'agentLogger' | 'recalled'>;

/** Their real implementations: made once, shared by every runner. */
const STATELESS_DEFAULTS: Readonly<StatelessDeps> = Object.freeze<StatelessDeps>({
  spawn: spawnGateway,
  bootSlot: async () => () => {},
  findMarked: (spec) => {
    const marker = spec.env.OPENCLAW_CONFIG_PATH;
    return marker ? processesWithEnv('OPENCLAW_CONFIG_PATH', marker) : [];
  },
  probe: probeGateway,
  stopTree,
  trackTree: (pid, known) => trackTree(pid, known),
  countLeftovers: (pid, known) => countLeftovers(pid, known),
  openLog: (spec, onText, onError) =>
    openLogSink({ file: spec.logFile, maxBytes: spec.logs.maxBytes, maxFiles: spec.logs.maxFiles, secrets: [spec.token, ...(spec.secrets ?? [])], onText, onError }),
  clock: Object.freeze({ now: () => Date.now() }),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
  random: Math.random,
});

// A runner keeps its deps for its whole life, one per agent. Built per call, the defaults
// were ~12 closures, a clock and a listener check per runner even where fleetd passes its
// own (its runners replace all but openLog, clock, timers, random), and the object itself,
// `{ ...resolved, watchWheel }`, got a hidden class of its own (util/merge.ts): ~2 KB per
// agent. The stateless defaults are now made once; only what holds state (a listener check,
// a watch wheel, a logger: each pino destination holds a stream) is made, and only when
// not given.
/** `deps` completed with the real dependencies. */
export function resolveRunnerDeps(deps: Partial<RunnerDeps> = {}): RunnerDeps {
  const resolved = merge(STATELESS_DEFAULTS, deps, {
    listenerCheck: deps.listenerCheck ?? createListenerCheck(),
    logger: deps.logger ?? pino({ name: 'fleetd' }, pino.destination(2)),
  }) as Omit<RunnerDeps, 'watchWheel'> & { watchWheel?: WatchWheel };
  resolved.watchWheel ??= createWatchWheel(resolved);
  return resolved as RunnerDeps;
}
