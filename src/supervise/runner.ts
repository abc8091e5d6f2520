// One runner per agent: the agent's single state (plan/agent-states.ts draws it) and the
// whole life of its gateway: the launch (prepare: runtime, home, config; a start slot;
// spawn), the health-gated start, probes and hang detection, backoff restarts from the pure
// plan/restart-policy.ts, and stops that leave no stray process behind.
//
// Concurrency. Operations that take a process tree down or bring one up (operator calls,
// exits, hangs, startup timeouts, backoff timers) run through one promise queue, one at a
// time, and re-check the state when their turn comes. A launch's slow waits (preparing,
// waiting for a start slot) happen OUTSIDE that queue, tagged with a launch number: stop()
// and restart() bump the number and abort the launch's signal at the moment they are
// called, before queueing, so a stop never waits behind a launch and no spawn can happen
// after a stop was accepted. Probe results act outside the queue too, but only on the run
// they were started for, while it is still live.
//
// (Above ~300 lines on purpose: the state machine is one concern, and splitting its
// transitions across files would hide the races the queue and the launch number close.)
import { FleetError } from '../errors.js';
import { RunnerEventHub } from './runner-events.js';
import type { AgentAddress } from '../manifest/ids.js';
import { canStart, canTransition } from '../plan/agent-states.js';
import { describeEnding, EMPTY_HISTORY, nextRestart, type GatewayEnding, type RestartDecision, type RestartHistory } from '../plan/restart-policy.js';
import { formatDuration } from '../util/duration.js';
import { judgeStart } from '../plan/start-verdict.js';
import { joinFailure } from '../isolation/launch-chain.js';
import { createOutputTail, type OutputTail } from './output-tail.js';
import type { LogSink, OutputStream } from './log-sink.js';
import type { ProbeResult } from './probe.js';
import type { ListenerOwner } from './listener-owner.js';
import { resolveRunnerDeps, type RunnerDeps, type RunnerLogger, type TimerHandle } from './runner-deps.js';
import type { AdoptFacts, ReconfigureHandle, ReconfigureSettlement, Run, Runner, RunnerEvents, StatePredicate, StopCallOptions } from './runner-types.js';
import type { GatewayExit, GatewayProcess } from './spawn-gateway.js';
import type { WatchMiss } from './shim-handle.js';
import { cgroupLeftovers, exitOf, knownRefs, markerOf, oomCause, rememberMarked, stopRunTree } from './run-stop.js';
import { NOT_STARTED_REASON, type AgentState, type ExitInfo, type HealthInfo, type LaunchSpec, type RunnerStatus } from './types.js';

export { resolveRunnerDeps, type RunnerDeps, type RunnerLogger, type TimerHandle };
export type { AdoptFacts, ReconfigureHandle, ReconfigureSettlement, Runner, RunnerEvents, StatePredicate, StopCallOptions } from './runner-types.js';

/** After a refused probe, the listener is checked again at most this often (ms; see listenerOf). */
export const LISTENER_REFUSED_RECHECK_MS = 500;

/** The last exit of a gateway that ended while fleetd was away (its shim recorded it), as status shows it. */
function recalledExit(exit: GatewayExit & { at: number }, facts: { spawnedAt: number; pid?: number }): ExitInfo {
  return { code: exit.code, signal: exit.signal, at: exit.at, runtimeMs: exit.at - facts.spawnedAt, pid: facts.pid ?? null };
}

/** Probe interval while starting, at most (a 10 s health interval should not delay `running` by 10 s). */
export const STARTING_PROBE_MS = 500;

// A gateway that listens within milliseconds (or a restart of one that was just killed)
// should not wait half a second for its next probe: a refused connection costs little. The
// first probe goes as the spawn returns and usually finds the port not bound yet (a busybox
// child at N = 200 listened 1-8 ms after its spawn returned; the second probe, 20 ms later,
// made the verdict): the second came after 5 ms, then 10, 20. A restart after a kill -9 at
// N = 200 then waited a median 12.5 ms from its first probe to the one that found it (issue
// 14's kill timeline), most of it the gap of a step it had just missed: the steps are 2, 4,
// 8 ms now (probes at 0, 2, 6, 14, 30 ms instead of 0, 5, 15, 35).
/** Delay before probe number `attempt` + 1 of a boot (0-based): 2, 4, 8, 16 ... ms, up to STARTING_PROBE_MS and the health interval. */
export function startingProbeDelayMs(attempt: number, intervalMs: number): number {
  return Math.min(intervalMs, STARTING_PROBE_MS, 2 * 2 ** Math.min(attempt, 10));
}

/** Creates the runner of one agent, in state `stopped`; `spec` serves until the first launch prepares its own. */
export function createRunner(spec: LaunchSpec, deps: Partial<RunnerDeps> = {}): Runner {
  return new GatewayRunner(spec, resolveRunnerDeps(deps));
}

/** The state machine; see the file comment. */
class GatewayRunner implements Runner {
  readonly address: AgentAddress;
  private spec: LaunchSpec;
  private readonly deps: RunnerDeps;
  private readonly log: RunnerLogger;
  private state: AgentState = 'stopped';
  private reason = NOT_STARTED_REASON;
  private since: number;
  private current: Run | null = null;
  /** The previous run's holder cleaning up (its shim exiting, its files going): the next spawn waits for it. */
  private closing: Promise<void> = Promise.resolve();
  private restarts = 0;
  private history: RestartHistory = EMPTY_HISTORY;
  private lastExit: ExitInfo | null = null;
  private health: HealthInfo = { live: null, ready: null };
  private nextStartAt: number | null = null;
  private backoffTimer: TimerHandle | null = null;
  /** Number of the launch in flight (or of the last one); bumped to cancel it. */
  private launchSeq = 0;
  private launchAbort: AbortController | null = null;
  /** Number of the latest reconfigure; a newer one (or none being current) ends the older handle. */
  private reconfigureSeq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly events: RunnerEventHub;
  /** The last status() made, and the health and lastExit it was made from (see status()). */
  private shown: { status: RunnerStatus; health: HealthInfo; lastExit: ExitInfo | null } | null = null;

  constructor(spec: LaunchSpec, deps: RunnerDeps) {
    this.address = spec.address;
    this.spec = spec;
    this.deps = deps;
    this.log = deps.agentLogger ?? deps.logger.child({ agent: spec.address });
    this.events = new RunnerEventHub(this.log);
    this.since = deps.clock.now();
    if (deps.recalled) {
      this.restarts = deps.recalled.restarts;
      this.lastExit = deps.recalled.lastExit ? { ...deps.recalled.lastExit } : null;
    }
  }

  start(reason = 'started'): Promise<void> {
    return this.enqueue(() => {
      if (!canStart(this.state)) return;
      this.cancelLaunch();
      if (this.state === 'failed') this.history = EMPTY_HISTORY;
      this.beginLaunch(reason);
    });
  }

  stop(options: StopCallOptions = {}): Promise<void> {
    this.cancelLaunch(); // now, not when the queue gets to it: nothing may spawn after this call
    const askedAt = this.deps.clock.now();
    return this.enqueue(async () => {
      this.cancelLaunch();
      const run = this.current;
      let lost: string | undefined;
      if (run) {
        this.transition('stopping', `stopping pid ${run.proc.pid ?? '-'}: ${options.reason ?? 'requested by the operator'}`);
        lost = (await this.stopRun(run, options.timeoutMs ?? this.spec.stopTimeoutMs, askedAt)).lost;
      }
      const why = options.reason === undefined ? 'stopped by the operator' : `stopped: ${options.reason}`;
      if (this.state !== 'stopped') this.transition('stopped', lost ? `${why}; ${lost}` : why);
    });
  }

  restart(options: StopCallOptions = {}): Promise<void> {
    this.cancelLaunch();
    return this.enqueue(() => this.restartNow(options));
  }

  reconfigure(reason: string): Promise<ReconfigureHandle | null> {
    return this.enqueue(() => {
      const run = this.current;
      if (!run || !this.isLive(run) || run.proc.pid === null || (this.state !== 'running' && this.state !== 'reconfiguring')) return null;
      const seq = ++this.reconfigureSeq;
      this.transition('reconfiguring', reason);
      const current = () => seq === this.reconfigureSeq && this.current === run && this.state === 'reconfiguring' && this.isLive(run);
      return {
        pid: run.proc.pid,
        port: run.spec.port,
        current,
        progress: (text: string) => {
          if (current()) this.setReason(text);
        },
        settle: (outcome: ReconfigureSettlement) =>
          this.enqueue(async () => {
            if (!current()) return false;
            if (outcome.applied) {
              run.failures = 0;
              this.transition('running', outcome.reason);
            } else {
              await this.restartNow({ reason: outcome.reason });
            }
            return true;
          }),
      };
    });
  }

  adopt(proc: GatewayProcess, facts: AdoptFacts): Promise<boolean> {
    return this.enqueue(() => {
      if (this.state !== 'stopped' || this.current || proc.pid === null) return false;
      this.cancelLaunch();
      this.restarts = facts.restarts;
      const run = this.startRun(proc, facts.spec, 'adopted', facts.spawnedAt);
      this.spec = facts.spec;
      run.runningSince = facts.runningSince ?? this.deps.clock.now();
      this.emit('process', { ...run.record!, runningSince: new Date(run.runningSince).toISOString() });
      const up = formatDuration(this.deps.clock.now() - facts.spawnedAt);
      this.transition('running', `adopted from a previous fleetd: pid ${proc.pid} on port ${facts.spec.port}, up ${up}; ${facts.why}`);
      this.health = { live: null, ready: null };
      this.scheduleProbe(run, 0);
      return true;
    });
  }

  adoptExit(exit: GatewayExit & { at: number }, facts: Omit<AdoptFacts, 'runningSince'> & { runningSince: number | null; output?: string; pid?: number }): Promise<void> {
    return this.enqueue(() => {
      if (this.state !== 'stopped' || this.current) return;
      this.restarts = facts.restarts;
      this.spec = facts.spec;
      this.lastExit = recalledExit(exit, facts);
      const base = { runtimeMs: exit.at - facts.spawnedAt, runningSince: facts.runningSince };
      const ending: GatewayEnding = exit.error
        ? { ...base, kind: 'spawn-error', message: exit.error }
        : { ...base, kind: 'exited', code: exit.code, signal: exit.signal, ...(facts.output ? { output: facts.output } : {}), cause: 'while fleetd was away' };
      this.transition('starting', `the gateway ${describeEnding(ending)}`);
      this.applyDecision(nextRestart(this.history, ending, this.spec.restart, this.deps.clock.now(), this.deps.random));
    });
  }

  recallExit(exit: GatewayExit & { at: number }, facts: { spawnedAt: number; restarts: number; pid?: number }): Promise<void> {
    return this.enqueue(() => {
      if (this.state !== 'stopped' || this.current) return;
      this.restarts = facts.restarts;
      this.lastExit = recalledExit(exit, facts);
      this.emit('process', null); // the registry forgets the process and keeps its exit
    });
  }

  detach(): Promise<void> {
    this.cancelLaunch();
    return this.enqueue(async () => {
      this.cancelLaunch();
      const run = this.current;
      if (!run || run.detached) return; // a second detachAll (after start-up ended) finds it done
      run.detached = true;
      this.clearRunTimer(run, 'probeTimer');
      this.clearRunTimer(run, 'startupTimer');
      await run.proc.detach?.().catch((err: unknown) => this.log.warn({ err }, 'could not detach from the gateway\'s shim'));
      this.log.info({ pid: run.proc.pid }, 'left running for the next fleetd to adopt');
    });
  }

  updateSpec(spec: LaunchSpec): void {
    const previous = this.spec;
    this.spec = spec;
    // a shim watching with the old timings: fleetd probes now, and asks again once ready
    const run = this.current;
    if (run && run.watched && (run.watch === 'holder' || run.watch === 'asking') && (run.watched.intervalMs !== spec.health.intervalMs || run.watched.timeoutMs !== spec.health.timeoutMs)) {
      this.endWatch(run);
      if (this.isLive(run)) this.scheduleProbe(run, 0);
    } else if (run && run.watch === 'holder' && run.watchLeave && previous.health.failureThreshold !== spec.health.failureThreshold) {
      // the pings' period follows failureThreshold (startWatchTicks): count from here
      this.clearRunTimer(run, 'probeTimer');
      this.startWatchTicks(run);
    }
  }

  // A monitor polling status (the benchmark every 2 ms, a dashboard) asks every agent's status
  // on each call, and the views compare it with the one they were built from: at N = 200 a
  // copy per agent per call (health, lastExit, failing copied too) and a field-by-field
  // comparison of each, ~0.5-1 ms of fleetd's one thread per poll while almost nothing
  // changed. The status is now made once per change and the same frozen object is returned
  // while nothing it shows changed: callers tell "unchanged" by identity. The check is made
  // on what it is built from (health and lastExit are replaced, never edited in place).
  /** The agent's status now: the same (frozen) object as the last call while nothing it shows changed. */
  status(): RunnerStatus {
    const run = this.current && !this.current.finished ? this.current : null;
    const pid = run?.proc.pid ?? null;
    const port = (run?.spec ?? this.spec).port;
    const spawnedAt = run?.spawnedAt ?? null;
    const runningSince = run?.runningSince ?? null;
    const nextStartAt = this.state === 'backoff' ? this.nextStartAt : null;
    const last = this.shown;
    if (
      last !== null &&
      last.health === this.health &&
      last.lastExit === this.lastExit &&
      last.status.state === this.state &&
      last.status.reason === this.reason &&
      last.status.since === this.since &&
      last.status.pid === pid &&
      last.status.port === port &&
      last.status.spawnedAt === spawnedAt &&
      last.status.runningSince === runningSince &&
      last.status.restarts === this.restarts &&
      last.status.nextStartAt === nextStartAt
    )
      return last.status;
    const health = this.health;
    const status: RunnerStatus = Object.freeze({
      address: this.address,
      state: this.state,
      reason: this.reason,
      since: this.since,
      pid,
      port,
      spawnedAt,
      runningSince,
      restarts: this.restarts,
      lastExit: this.lastExit ? Object.freeze({ ...this.lastExit }) : null,
      health: Object.freeze({ ...health, ...(health.failing ? { failing: Object.freeze([...health.failing]) as string[] } : {}) }),
      nextStartAt,
    });
    this.shown = { status, health, lastExit: this.lastExit };
    return status;
  }

  waitForState(predicate: StatePredicate, timeoutMs: number): Promise<RunnerStatus> {
    return this.events.waitFor(() => this.status(), predicate, timeoutMs, this.deps, () => `${this.address} did not reach the expected state; it is ${this.state}: ${this.reason}`);
  }

  on<E extends keyof RunnerEvents>(event: E, listener: RunnerEvents[E]): () => void {
    return this.events.on(event, listener);
  }

  off<E extends keyof RunnerEvents>(event: E, listener: RunnerEvents[E]): void {
    this.events.off(event, listener);
  }

  /** Runs `op` after every operation queued before it; failures are logged, never unhandled. */
  private enqueue<T>(op: () => T | Promise<T>): Promise<T> {
    const result = this.queue.then(op);
    this.queue = result.catch((err: unknown) => this.log.error({ err }, 'runner operation failed'));
    return result;
  }

  // The launch: `starting` from here on. prepare() and the start slot are awaited outside
  // the queue; the spawn itself is queued and happens only if this launch is still the
  // current one (same number) and nothing else brought a process up meanwhile.
  /** Starts launch number ++launchSeq: prepare, take a start slot, spawn. Call inside the queue. */
  private beginLaunch(why: string): void {
    const seq = ++this.launchSeq;
    const abort = new AbortController();
    this.launchAbort = abort;
    this.transition('starting', `${why}; preparing the launch`);
    const live = () => seq === this.launchSeq && this.state === 'starting' && this.current === null;
    void (async () => {
      let spec: LaunchSpec;
      try {
        const prepare = this.deps.prepare ?? (async () => this.spec);
        spec = await prepare(abort.signal, (step) => {
          if (live()) this.setReason(`${why}; ${step}`);
        });
      } catch (err) {
        if (!live() || abort.signal.aborted) return;
        await this.enqueue(() => {
          if (live()) this.onPrepareFailed(err);
        });
        return;
      }
      if (!live()) return;
      this.spec = spec;
      this.setReason(`${why}; waiting for a start slot`);
      let release: () => void;
      try {
        release = await this.deps.bootSlot(abort.signal);
      } catch {
        return; // aborted: the launch was cancelled while waiting
      }
      await this.enqueue(async () => {
        if (!live()) return release();
        this.setReason(`${why}; launching`);
        await this.spawnRun(why, abort.signal);
        // The launch is over: its signal has no listener left (the spawn removes its own), and a
        // stop from here on ends the run. Kept, the controller (its signal with a hidden class
        // of its own and two Maps) was ~1 KB per agent for the whole run.
        if (this.launchAbort === abort) this.launchAbort = null;
        this.releaseWhenBooted(release);
      });
    })().catch((err: unknown) => this.log.error({ err }, 'launch failed unexpectedly'));
  }

  /** The body of restart(): stop the tree if up, launch again, counted as a restart. Call inside the queue. */
  private async restartNow(options: StopCallOptions): Promise<void> {
    this.cancelLaunch();
    this.restarts += 1;
    this.history = EMPTY_HISTORY;
    const why = options.reason ?? 'restarted by the operator';
    const run = this.current;
    if (run) {
      this.transition('stopping', `restarting pid ${run.proc.pid ?? '-'}: ${why}`);
      await this.stopRun(run, options.timeoutMs ?? this.spec.stopTimeoutMs);
    }
    this.beginLaunch(why);
  }

  /** Cancels the launch in flight and any pending backoff restart (safe to call anywhere). */
  private cancelLaunch(): void {
    this.launchSeq += 1;
    this.launchAbort?.abort();
    this.launchAbort = null;
    if (this.backoffTimer !== null) this.deps.clearTimer(this.backoffTimer);
    this.backoffTimer = null;
  }

  /** prepare() failed: the restart policy decides, with the classification made where the error arose. */
  private onPrepareFailed(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const transient = err instanceof FleetError && err.transient;
    this.log.warn({ err: message, transient }, 'launch could not be prepared');
    const ending: GatewayEnding = { kind: 'prepare-failed', message, transient, runtimeMs: 0, runningSince: null };
    this.applyDecision(nextRestart(this.history, ending, this.spec.restart, this.deps.clock.now(), this.deps.random));
  }

  /** Spawns the gateway of the current spec; the state is already `starting`. */
  private async spawnRun(why: string, signal?: AbortSignal): Promise<void> {
    // A shim of the previous run still on its way out would hold the run dir (CONFLICT).
    await this.closing;
    const spec = this.spec;
    const now = this.deps.clock.now();
    // Output arrives through `io`; until the run's log exists (the spawn may be async) it waits here.
    let deliver: ((stream: OutputStream, chunk: Buffer) => void) | null = null;
    const early: Array<[OutputStream, Buffer]> = [];
    const io = {
      onStdout: (c: Buffer) => (deliver ? deliver('stdout', c) : early.push(['stdout', c])),
      onStderr: (c: Buffer) => (deliver ? deliver('stderr', c) : early.push(['stderr', c])),
      ...(signal ? { signal } : {}),
    };
    let proc: GatewayProcess;
    try {
      proc = await this.deps.spawn(spec, io);
    } catch (err) {
      // Cancelled (stop, restart): the spawn gave up and killed what it had started; the
      // operation that cancelled it is queued next and settles the state.
      if (signal?.aborted) return;
      // The holder of its output could not be started (shim): an ending like a failed spawn.
      const message = err instanceof Error ? err.message : String(err);
      proc = { pid: null, startTime: null, exitSeen: Promise.resolve(), exited: Promise.resolve({ code: null, signal: null, error: message }) };
    }
    const run = this.startRun(proc, spec, why, now);
    deliver = (stream, chunk) => run.streams[stream].write(chunk);
    for (const [stream, chunk] of early) deliver(stream, chunk);
    if (proc.pid === null) {
      this.setReason(`${why}; spawning ${spec.argv[0] ?? '(no command)'}`);
      return;
    }
    // A shim writes the log and notes the spawn and the exit itself (also while no fleetd runs).
    if (!proc.log) run.sink.note(`spawned pid ${proc.pid} on port ${spec.port}: ${spec.argv.join(' ')}`);
    this.emit('process', run.record);
    this.setReason(`${why}; spawned pid ${proc.pid}, waiting for /healthz on port ${spec.port}`);
    this.emit('state', this.status()); // same state, now with a pid: listeners waiting for the spawn hear it
    run.startupTimer = this.deps.setTimer(() => void this.enqueue(() => this.onStartupTimeout(run)), spec.health.startupTimeoutMs);
    this.scheduleProbe(run, 0);
  }

  /** The log of one run: fleetd's own sink, or (when a shim writes the log) the tail alone, with notes sent to the writer. */
  private openRunLog(proc: GatewayProcess, spec: LaunchSpec, tail: OutputTail): LogSink {
    if (proc.log) {
      const holder = proc.log;
      if (holder.tail) for (const stream of ['stdout', 'stderr'] as const) if (holder.tail[stream]) tail.push(stream, holder.tail[stream]);
      holder.subscribe?.((stream, text) => tail.push(stream, text));
      const toTail = (stream: OutputStream) => ({ write: (chunk: Buffer | string) => tail.push(stream, chunk.toString()), end: () => undefined });
      return { stream: toTail, note: (text) => holder.note(text), close: () => undefined };
    }
    let warned = false;
    return this.deps.openLog(
      spec,
      (stream, text) => tail.push(stream, text),
      (err) => {
        if (!warned) this.log.warn({ err, file: spec.logFile }, 'cannot write the gateway log; output is lost until the next start');
        warned = true;
      },
    );
  }

  /** Makes `proc` the current run (a fresh spawn, or an adopted gateway) and wires its exit. */
  private startRun(proc: GatewayProcess, spec: LaunchSpec, why: string, spawnedAt: number): Run {
    const tail = createOutputTail();
    const sink = this.openRunLog(proc, spec, tail);
    const run: Run = {
      spec,
      proc,
      record: proc.pid === null ? null : { pid: proc.pid, pgid: proc.pid, startTime: proc.startTime ?? '', spawnedAt: new Date(spawnedAt).toISOString(), restarts: this.restarts },
      spawnedAt,
      runningSince: null,
      failures: 0,
      known: new Map(),
      tail,
      sink,
      streams: { stdout: sink.stream('stdout'), stderr: sink.stream('stderr') },
      exitSeen: false,
      exitAt: null,
      exit: null,
      stopping: false,
      finished: false,
      probeTimer: null,
      startupTimer: null,
      foreign: null,
      why,
      detached: false,
      oomBaseline: readOomBaseline(spec),
      startProbes: 0,
      listener: null,
      watch: 'fleetd',
      watched: null,
      watchTicks: 0,
      watchLeave: null,
      holderSilentSince: null,
    };
    this.current = run;
    this.health = { live: false, ready: null };
    void proc.exitSeen.then(() => {
      run.exitSeen = true;
      run.exitAt = this.deps.clock.now();
    });
    void proc.exited.then((exit) => {
      if (exit.detached || run.detached) return;
      run.exit = exit;
      if (exit.at !== undefined) run.exitAt = exit.at;
      void this.enqueue(() => this.onExit(run));
    });
    return run;
  }

  /** True while probe results of `run` may still act. */
  private isLive(run: Run): boolean {
    return run === this.current && !run.finished && !run.stopping && !run.exitSeen && run.exit === null;
  }

  private scheduleProbe(run: Run, delayMs: number): void {
    run.probeTimer = this.deps.setTimer(() => {
      run.probeTimer = null;
      void this.probeOnce(run).catch((err: unknown) => this.log.error({ err }, 'health probe failed unexpectedly'));
    }, delayMs);
  }

  // OpenClaw's external-supervisor contract (docs/cli/gateway/restart-and-supervision.md): a
  // start succeeded only once the gateway's OWN processes hold the listener and /startupz
  // says "started" (plan/start-verdict.ts); a stranger on the port is named and the agent is
  // never `running` on its answers. Once running, /healthz is liveness (hang detection) and
  // /readyz is reported, never acted on; the listener is not checked again (ours holds it).
  /** One probe round: the start verdict while starting, hang detection while running. */
  private async probeOnce(run: Run): Promise<void> {
    if (!this.isLive(run) || run.proc.pid === null) return;
    // With a cgroup its members are the agent (read from one file); without, the /proc walk remembers the tree.
    const cgroup = run.spec.isolation?.cgroup;
    if (!cgroup) this.deps.trackTree(run.proc.pid, run.known);
    const health = this.spec.health; // timings follow the latest spec (a reload applies them live)
    let result: ProbeResult;
    try {
      result = await this.deps.probe(run.spec.port, health.timeoutMs);
    } catch (err) {
      result = { live: false, ready: null, error: err instanceof Error ? err.message : String(err) };
    }
    if (!this.isLive(run)) return;
    const now = this.deps.clock.now();
    const observed: HealthInfo = {
      live: result.live,
      ready: result.ready,
      ...(result.failing ? { failing: result.failing } : {}),
      ...(result.startup ? { startup: result.startup.state } : {}),
      ...(run.holderSilentSince !== null ? { holder: holderText(run, now) } : {}),
    };
    if (this.state === 'starting') {
      const listener = await this.listenerOf(run, result, now);
      if (!this.isLive(run) || this.state !== 'starting') return;
      // the health and the reason of one round change together (status never shows one without the other)
      this.health = observed;
      const verdict = judgeStart({ probe: result, listener, port: run.spec.port });
      if (verdict.state === 'started') {
        this.clearRunTimer(run, 'startupTimer');
        run.runningSince = now;
        this.transition('running', `started after ${formatDuration(now - run.spawnedAt)}: ${verdict.reason}`);
        if (run.record) this.emit('process', { ...run.record, runningSince: new Date(now).toISOString(), restarts: this.restarts });
      } else if (verdict.state === 'foreign') {
        run.foreign = verdict.reason;
        this.health = { ...this.health, live: false };
        this.setReason(`${run.why}; ${verdict.reason}; pid ${run.proc.pid} is waiting for its port`);
      } else {
        run.foreign = null;
        this.setReason(`${run.why}; spawned pid ${run.proc.pid}, ${verdict.reason}`);
      }
    } else if (this.state === 'running' || this.state === 'reconfiguring') {
      this.health = observed;
      if (result.live) {
        run.failures = 0;
      } else {
        run.failures += 1;
        this.log.warn({ pid: run.proc.pid, failures: run.failures, error: result.error }, 'health probe failed');
        // reconfiguring: an in-process restart is expected to miss probes; its own deadline ends it
        if (run.failures >= health.failureThreshold && this.state === 'running') {
          const failures = run.failures;
          void this.enqueue(() => this.onHung(run, failures));
          return;
        }
      }
    }
    if (this.state === 'running' && result.live && result.ready === true && run.watch === 'fleetd' && run.proc.readiness) return this.watchReadiness(run);
    this.scheduleProbe(run, this.state === 'starting' ? startingProbeDelayMs(run.startProbes++, health.intervalMs) : health.intervalMs);
  }

  // A ready gateway's steady round is one GET of /readyz (probe.ts). Its shim can make that
  // same request in C every interval and say nothing while it answers 200 (protocol.ts
  // `watch`): fleetd then opens no socket to that gateway (its one timer for the agent is
  // scheduleWatchTick's) until the shim reports a miss, and takes over with its own rounds
  // from there (the same judgement as always: liveness failures, failureThreshold, hang);
  // once ready again, it asks the shim again. A shim that will not (an older fleetd's) is
  // probed by fleetd for the rest of the run.
  /** Hands the readiness checks of a running, ready gateway to its holder (see above). */
  private watchReadiness(run: Run): void {
    const readiness = run.proc.readiness!;
    const { intervalMs, timeoutMs } = this.spec.health;
    run.watch = 'asking';
    run.watched = { intervalMs, timeoutMs };
    readiness.watch({ port: run.spec.port, path: '/readyz', intervalMs, timeoutMs }, (miss) => this.onWatchMiss(run, miss)).then(
      () => {
        if (run.watch !== 'asking' || !this.isLive(run)) return;
        run.watch = 'holder';
        this.startWatchTicks(run);
      },
      (err: unknown) => {
        if (run.watch !== 'asking') return;
        const live = this.isLive(run);
        if (err instanceof FleetError && err.code === 'TIMEOUT') {
          // the shim is stopped or stuck: it may still take the watch when it resumes (see resyncHolder)
          this.log.warn({ err, pid: run.proc.pid }, "the gateway's shim did not answer its watch: fleetd probes the gateway, and hands over once the shim answers");
          this.holderSilent(run);
          this.resyncHolder(run);
        } else {
          run.watch = 'fleetd-only';
          run.watched = null;
          this.log.warn({ err, pid: run.proc.pid }, "the gateway's shim does not watch its readiness: fleetd probes it");
        }
        if (live && run.probeTimer === null) this.scheduleProbe(run, this.spec.health.intervalMs);
      },
    );
  }

  /** The holder saw /readyz answer other than 200 (its watch has ended): fleetd probes at once. */
  private onWatchMiss(run: Run, miss: WatchMiss): void {
    if (run.watch !== 'holder' && run.watch !== 'asking') return;
    run.watch = 'fleetd';
    run.watched = null;
    if (!this.isLive(run)) return;
    this.clearRunTimer(run, 'probeTimer');
    this.log.info({ pid: run.proc.pid, status: miss.status, error: miss.error }, 'the shim saw /readyz fail: fleetd probes the gateway');
    this.scheduleProbe(run, 0);
  }

  /** Ends the holder's watch of `run` (fleetd probes from here; it hands over again once the holder confirmed: resyncHolder). */
  private endWatch(run: Run): void {
    if (run.watch !== 'holder' && run.watch !== 'asking') return;
    this.clearRunTimer(run, 'probeTimer');
    this.resyncHolder(run);
  }

  // A shim handles its requests in order, however late: a stopped shim that is continued
  // runs the `watch` fleetd gave up on, and would check the gateway beside fleetd's own rounds
  // for the rest of the run. So whenever fleetd takes the checks back without knowing what
  // the holder does (a ping or a watch not answered, new timings), it sends `unwatch`
  // (idempotent) and waits for its answer without a time limit: that answer comes after
  // every earlier request was handled, so from then on the holder watches nothing and fleetd
  // may hand over again (its next ready round). Until then (`resync`) fleetd probes and asks
  // the holder nothing more; a holder that cannot be reached any more leaves fleetd probing.
  /** Takes the checks back from the holder of `run` and confirms it watches nothing (see above). */
  private resyncHolder(run: Run): void {
    run.watch = 'resync';
    run.watched = null;
    const readiness = run.proc.readiness;
    if (!readiness) return;
    readiness.unwatch(null).then(
      () => {
        if (run.watch !== 'resync') return;
        run.watch = 'fleetd';
        if (run.holderSilentSince !== null) {
          this.log.info({ pid: run.proc.pid }, 'the shim answers again and watches nothing: fleetd hands over once the gateway is ready');
          run.holderSilentSince = null;
          if (this.current === run && this.health.holder !== undefined) {
            const { holder: _holder, ...health } = this.health;
            this.health = health;
          }
        }
      },
      (err: unknown) => {
        if (run.watch !== 'resync') return;
        run.watch = 'fleetd-only';
        if (this.isLive(run)) this.log.warn({ err, pid: run.proc.pid }, "could not end the shim's watch: fleetd probes the gateway for the rest of its run");
      },
    );
  }

  /** Notes that the holder of `run` did not answer (status shows it in the health, until it answers). */
  private holderSilent(run: Run): void {
    run.holderSilentSince ??= this.deps.clock.now();
    if (this.current === run) this.health = { ...this.health, holder: holderText(run, this.deps.clock.now()) };
  }

  // While the holder watches, fleetd still has work for the agent: every failureThreshold
  // intervals it checks that the holder answers at all, within the health timeout (a shim
  // that is stopped or stuck, a stalled disk under its log writes, makes no checks and sends
  // no miss: without this a gateway hung meanwhile would never be noticed; no answer counts
  // as a miss); and without a cgroup, every interval, it refreshes the gateway's known
  // descendants as a probe round did (so a stop finds them after re-parenting). With a
  // cgroup its members are the agent: nothing to do between two pings, so the agent's turn
  // comes every failureThreshold intervals only. The turns are the watch wheel's
  // (watch-wheel.ts): one timer for every watched agent with the same period, their pings
  // sent in one turn, instead of one wake-up of fleetd per agent per interval.
  /** Puts a watched run on the wheel: its pings, and without a cgroup its descendant tracking (see above). */
  private startWatchTicks(run: Run): void {
    const { intervalMs, failureThreshold } = this.spec.health;
    const pingEvery = Math.max(1, failureThreshold);
    const tracks = !run.spec.isolation?.cgroup;
    run.watchTicks = 0;
    run.watchLeave = this.deps.watchWheel.join(tracks ? intervalMs : intervalMs * pingEvery, () => {
      if (run.watch !== 'holder' || !this.isLive(run) || run.proc.pid === null) return this.leaveWatchWheel(run);
      if (tracks) this.deps.trackTree(run.proc.pid, run.known);
      run.watchTicks += 1;
      if (!tracks || run.watchTicks % pingEvery === 0) this.pingHolder(run);
    });
  }

  /** Asks the holder of a watched run to answer within the health timeout; no answer ends the watch and fleetd probes at once. */
  private pingHolder(run: Run): void {
    run.proc.readiness?.ping(this.spec.health.timeoutMs).catch((err: unknown) => {
      if (run.watch !== 'holder' || !this.isLive(run)) return;
      this.log.warn({ err, pid: run.proc.pid }, 'the shim watching the gateway did not answer: fleetd probes the gateway');
      this.holderSilent(run);
      this.endWatch(run);
      this.scheduleProbe(run, 0);
    });
  }

  /** Takes `run` off the watch wheel (nothing when it is not on it). */
  private leaveWatchWheel(run: Run): void {
    const leave = run.watchLeave;
    run.watchLeave = null;
    leave?.();
  }

  // A refused probe says nothing listens on 127.0.0.1 at the port: while a gateway boots that
  // is most probes (20, 40, 80 ... ms apart), and each check reads the kernel's TCP tables and
  // the agent's fds. Then the last check, up to LISTENER_REFUSED_RECHECK_MS old, still says
  // what matters (a stranger on another address is named a little later, never missed).
  /** Who holds the run's port: checked now, or after a refused probe the last check while it is recent. */
  private async listenerOf(run: Run, result: ProbeResult, now: number): Promise<ListenerOwner> {
    const last = run.listener;
    if (result.refused && last && now - last.at >= 0 && now - last.at < LISTENER_REFUSED_RECHECK_MS) return last.owner;
    const cgroup = run.spec.isolation?.cgroup;
    // the cgroup's members are read only if the table shows a listener to attribute: most
    // first probes find the port not bound yet, and reading every hierarchy's cgroup.procs
    // (and its sub-cgroups) for them cost ~0.3 ms each, ~120 ms of a start of 200 agents
    // (lazily, hierarchy by hierarchy: the check stops at the holder; memberPidsOf)
    const members: Iterable<number> = cgroup ? { [Symbol.iterator]: () => cgroup.memberPids()[Symbol.iterator]() } : [run.proc.pid!, ...run.known.keys()];
    // a probe that got an HTTP answer proves a listener: the check must not judge from a table read before the bind
    const owner = await this.deps.listenerCheck(run.spec.port, members, { answered: result.live || (result.startup !== undefined && result.startup.state !== 'no-answer') });
    run.listener = { owner, at: now };
    return owner;
  }

  /** The process ended on its own (crash, exit 78, spawn error): clean up, then backoff or failed. */
  private async onExit(run: Run): Promise<void> {
    if (run.finished || run.stopping || run !== this.current) return;
    const exit = run.exit as GatewayExit;
    this.clearRunTimer(run, 'probeTimer');
    this.clearRunTimer(run, 'startupTimer');
    const base = { runtimeMs: (run.exitAt ?? this.deps.clock.now()) - run.spawnedAt, runningSince: run.runningSince };
    const cause = oomCause(run, exit) ?? joinFailure(exit.code, run.tail.text('stderr', 4096)) ?? run.foreign ?? exit.lost;
    const ending: GatewayEnding = exit.error
      ? { ...base, kind: 'spawn-error', message: exit.error }
      : { ...base, kind: 'exited', code: exit.code, signal: exit.signal, output: run.tail.summary(), ...(cause ? { cause } : {}) };
    const pid = run.proc.pid;
    const inCgroup = cgroupLeftovers(run);
    if (inCgroup > 0) {
      run.stopping = true;
      this.transition('stopping', `${describeEnding(ending)}; stopping ${inCgroup} process(es) left in its cgroup`);
      await stopRunTree(run, this.deps, this.log, this.spec.stopTimeoutMs);
    } else if (pid !== null && inCgroup < 0) {
      rememberMarked(run, this.deps);
      const left = this.deps.countLeftovers(pid, run.known);
      if (left > 0) {
        run.stopping = true;
        this.transition('stopping', `${describeEnding(ending)}; stopping ${left} process(es) it left behind`);
        await this.deps
          .stopTree({ pid, pgid: pid, trustGroup: true, extra: knownRefs(run), marker: markerOf(run) }, { timeoutMs: this.spec.stopTimeoutMs })
          .catch((err: unknown) => this.log.error({ err, pid }, 'stopping the leftovers failed'));
      }
    }
    this.finishRun(run, exit);
    this.applyDecision(nextRestart(this.history, ending, this.spec.restart, this.deps.clock.now(), this.deps.random));
  }

  /** failureThreshold probes in a row failed while running: take the tree down, then backoff. */
  private async onHung(run: Run, failures: number): Promise<void> {
    if (!this.isLive(run) || this.state !== 'running') return;
    this.transition('stopping', `no answer to ${failures} health probes in a row, hung; stopping pid ${run.proc.pid}`);
    const ending: GatewayEnding = { kind: 'unhealthy', failures, runtimeMs: this.deps.clock.now() - run.spawnedAt, runningSince: run.runningSince };
    const exit = await this.stopRun(run, this.spec.stopTimeoutMs);
    if (exit.lost) ending.cause = exit.lost;
    this.applyDecision(nextRestart(this.history, ending, this.spec.restart, this.deps.clock.now(), this.deps.random));
  }

  /** /healthz never answered within startupTimeoutMs: take the tree down, then backoff. */
  private async onStartupTimeout(run: Run): Promise<void> {
    if (!this.isLive(run) || this.state !== 'starting') return;
    const timeoutMs = this.spec.health.startupTimeoutMs;
    this.transition('stopping', `no answer on /healthz within ${formatDuration(timeoutMs)}; stopping pid ${run.proc.pid}`);
    const ending: GatewayEnding = { kind: 'startup-timeout', timeoutMs, runtimeMs: this.deps.clock.now() - run.spawnedAt, runningSince: null };
    const exit = await this.stopRun(run, this.spec.stopTimeoutMs);
    if (exit.lost) ending.cause = exit.lost;
    this.applyDecision(nextRestart(this.history, ending, this.spec.restart, this.deps.clock.now(), this.deps.random));
  }

  /** Enters backoff (with its timer) or failed. */
  private applyDecision(decision: RestartDecision): void {
    if (decision.action === 'fail') {
      this.transition('failed', decision.reason);
      return;
    }
    this.history = decision.history;
    this.nextStartAt = decision.restartAt;
    const seq = this.launchSeq;
    const restart = () =>
      void this.enqueue(() => {
        if (this.state !== 'backoff' || seq !== this.launchSeq) return;
        this.backoffTimer = null;
        this.restarts += 1;
        this.beginLaunch(`restart ${this.history.attempt} after backoff`);
      });
    // No delay (restart.initialDelayMs 0): queued at once, not behind a timer. A 0 ms timer
    // fired 0.2-11 ms later at N = 200 (after whatever I/O the loop had first: status polls).
    if (decision.delayMs > 0) this.backoffTimer = this.deps.setTimer(restart, decision.delayMs);
    this.transition('backoff', decision.reason);
    if (decision.delayMs <= 0) restart();
  }

  /** Holds a start slot until the current run has left `starting` (up, exited, stopped). */
  private releaseWhenBooted(release: () => void): void {
    if (this.state !== 'starting') return release();
    const off = this.on('state', (status) => {
      if (status.state === 'starting') return;
      off();
      release();
    });
  }

  /** Stops the tree of `run` and waits for its exit event; then finishes it and returns that exit (`lost` set when its holder had to be ended: run-stop.ts exitOf). `askedAt`: when the stop was asked for (default now). */
  private async stopRun(run: Run, timeoutMs: number, askedAt?: number): Promise<GatewayExit> {
    run.stopping = true;
    this.clearRunTimer(run, 'probeTimer');
    this.clearRunTimer(run, 'startupTimer');
    await stopRunTree(run, this.deps, this.log, timeoutMs, askedAt);
    const exit = await exitOf(run, this.deps, this.log);
    this.finishRun(run, exit);
    return exit;
  }

  /** Records the exit, flushes and closes the log, tells the registry the process is gone. */
  private finishRun(run: Run, exit: GatewayExit): void {
    if (run.finished) return;
    run.finished = true;
    this.clearRunTimer(run, 'probeTimer');
    this.clearRunTimer(run, 'startupTimer');
    run.streams.stdout.end();
    run.streams.stderr.end();
    const at = run.exitAt ?? this.deps.clock.now();
    const runtimeMs = at - run.spawnedAt;
    this.lastExit = { code: exit.code, signal: exit.signal, at, runtimeMs, pid: run.proc.pid };
    const how = exit.error ?? (exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`);
    if (!run.proc.log || exit.error) run.sink.note(`pid ${run.proc.pid ?? '-'} ${how} after ${formatDuration(runtimeMs)}`);
    run.sink.close();
    if (this.current === run) this.current = null;
    this.health = { live: null, ready: null };
    if (run.record) this.emit('process', null);
    this.closing = (run.proc.close?.() ?? Promise.resolve()).catch((err: unknown) => this.log.warn({ err }, 'could not clean up after the gateway\'s shim'));
  }

  private clearRunTimer(run: Run, which: 'probeTimer' | 'startupTimer'): void {
    if (which === 'probeTimer') this.leaveWatchWheel(run); // the watch's turns stand in for probe rounds
    const handle = run[which];
    if (handle !== null) this.deps.clearTimer(handle);
    run[which] = null;
  }

  /** Changes the reason without a state change (a launch reporting its progress); status shows it. */
  private setReason(reason: string): void {
    this.reason = reason;
  }

  private transition(to: AgentState, reason: string): void {
    const from = this.state;
    if (from !== to && !canTransition(from, to)) this.log.error({ from, to, reason }, 'illegal state transition (bug in the runner)');
    this.state = to;
    this.reason = reason;
    this.since = this.deps.clock.now();
    if (to !== 'backoff') this.nextStartAt = null;
    const fields = { from, to, pid: this.current?.proc.pid ?? null };
    if (to === 'failed') this.log.error(fields, reason);
    else if (to === 'backoff') this.log.warn(fields, reason);
    else this.log.info(fields, reason);
    this.emit('state', this.status());
  }

  private emit<E extends keyof RunnerEvents>(event: E, value: Parameters<RunnerEvents[E]>[0]): void {
    this.events.emit(event, value);
  }

}

/** What the health detail says of a holder that does not answer (since `run.holderSilentSince`). */
function holderText(run: Run, now: number): string {
  return `its shim does not answer (since ${formatDuration(Math.max(0, now - (run.holderSilentSince ?? now)))}): fleetd probes the gateway itself`;
}

/** The OOM counters of the spec's cgroup before a spawn; null without one (or when unreadable). */
function readOomBaseline(spec: LaunchSpec) {
  try {
    return spec.isolation?.cgroup?.oomBaseline() ?? null;
  } catch {
    return null;
  }
}
