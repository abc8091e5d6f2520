// One agent at one address: what is wanted of it (its DesiredAgent from the manifest or the
// registry, and the operator's running/stopped in the registry), its runner (the one place
// its state lives), and prepare(), the step that readies every launch. The fleet asks an
// agent to act; an agent never waits on another one.
//
// Above 300 lines because prepare() is one ordered step (runtime, isolation, home, config,
// launch spec) whose parts live in their own modules; this file only sequences them. Its
// in-place sibling, a reconfigure (daemon/reconfigure.ts), reuses the same provisioning and
// runs in the agent's exclusive section, with the rolling restart's and rollouts' steps.
import { FleetError, toFleetError } from '../errors.js';
import type { AgentAddress } from '../manifest/ids.js';
import type { Manifest } from '../manifest/schema.js';
import { isSettled } from '../plan/agent-states.js';
import type { DesiredAgent, RecordedProcess, RegistryEntry } from '../plan/types.js';
import type { GatewayExit, GatewayProcess } from '../supervise/spawn-gateway.js';
import { federationSecrets } from '../plan/federation-secrets.js';
import { formatConfigPath } from '../plan/config-merge.js';
import { launchRuntimeKey } from '../runtime/runtime-key.js';
import { agentIsolationSpec, type AgentIsolationSpec } from '../isolation/agent-spec.js';
import { isolateLaunch, prepareAgentIsolation, type IsolationHost } from '../isolation/agent-isolation.js';
import type { AgentCgroup } from '../isolation/cgroup-agent.js';
import type { Owner } from '../isolation/tenant-fs.js';
import { accessProblem, prepareTenantHome, writeTenantFile } from '../isolation/tenant-home.js';
import { effectiveEnv } from '../provision/effective.js';
import { provisionAgent, provisionConfig, type ProvisionInput } from '../provision/provision-agent.js';
import { agentPaths } from '../provision/home.js';
import type { ReconfigureOutcome } from '../protocol/schemas.js';
import { reconfigureAgent, type ReconfigureJob } from './reconfigure.js';
import type { Runner, RunnerDeps } from '../supervise/runner.js';
import type { LaunchSpec, RunnerStatus } from '../supervise/types.js';
import { buildLaunchSpec } from './launch.js';
import type { Logger } from './logger.js';
import type { RegistryStore } from './registry-store.js';
import type { InstallRuntime } from './runtime-cache.js';
import type { StartPool } from './start-pool.js';
import { createSerialQueue } from './serial-queue.js';
import { merge } from '../util/merge.js';

/** What every agent of one fleetd shares (real values in fleet.ts). */
export interface AgentDeps {
  store: RegistryStore;
  /** The manifest applied now (timings, paths, ports). */
  manifest: () => Manifest;
  installRuntime: InstallRuntime;
  /** fleetd's environment, PATH already cleaned (only PATH, LANG, TZ reach a gateway). */
  parentEnv: Readonly<Record<string, string | undefined>>;
  pool: StartPool;
  logger: Logger;
  now: () => number;
  /** Builds the runner (tests pass fakes); it gets the agent's prepare and start-pool slot. */
  createRunner: (spec: LaunchSpec, deps: Pick<RunnerDeps, 'prepare' | 'bootSlot' | 'logger' | 'agentLogger' | 'recalled'>) => Runner;
  /** True once fleetd is shutting down: nothing may launch any more. */
  isShuttingDown: () => boolean;
  /** The host's cgroups and KSM, detected once (isolation/agent-isolation.ts); absent: no isolation at all (tests). */
  isolation?: IsolationHost;
}

/** Options of start and restart. */
export interface LaunchOptions {
  /** Wait until the launch has an outcome (running, failed, backoff, stopped); else answer at once. */
  wait?: boolean;
  /** SIGTERM grace of the stop part of a restart, ms. */
  timeoutMs?: number;
  /** Why, for status and the log. */
  reason?: string;
}

/** Options of stop. */
export interface StopOptions {
  timeoutMs?: number;
  reason?: string;
}

/** Upper bound of a wait for a launch outcome: boot, then a stop of a hung boot, plus slack (ms). */
function outcomeWaitMs(m: Manifest): number {
  return m.health.startupTimeoutMs + m.gateway.stopTimeoutMs + 5000;
}

/** One agent; see the file comment. */
export class Agent {
  readonly address: AgentAddress;
  /** What the manifest (or `fleetctl add agent`) declares; replaced by a reload. */
  desired: DesiredAgent;
  readonly runner: Runner;
  /** Hash of the config + env + launch the current (or last) launch was prepared with. */
  appliedHash: string | undefined;
  /** Its isolation as of its last launch (for status): the settings, and its cgroup when the host has cgroups. */
  isolation: { spec: AgentIsolationSpec; cgroup?: AgentCgroup } | undefined;
  /** OpenClaw and Node versions of the runtime its current (or last) launch was prepared with; nulls for a fixed command; undefined before the first. */
  runtimeVersions: { openclaw: string | null; node: string | null } | undefined;
  private readonly deps: AgentDeps;
  private readonly log: Logger;
  /** Its tenant user as of its last launch (undefined: fleetd's own user): a reconfigure writes openclaw.json as that user. */
  private owner: Owner | undefined;
  /** Its exclusive section: a reconfigure, a rolling restart's turn and a rollout's stop-snapshot-start never overlap. */
  private readonly section = createSerialQueue();
  /** The reconfigure in progress or waiting for its turn (a newer one aborts it). */
  private reconfiguring: AbortController | undefined;
  /** The gateway a config was applied to in place, and the launch hash it runs with since (its registry record carries it for live restore). */
  private hotApplied: { pid: number; startTime: string; hash: string } | undefined;

  constructor(desired: DesiredAgent, deps: AgentDeps) {
    this.address = desired.address;
    this.desired = desired;
    this.deps = deps;
    this.log = deps.logger.child({ agent: desired.address });
    const known = deps.store.entry(desired.address);
    this.appliedHash = known?.appliedHash;
    this.runner = deps.createRunner(this.previewSpec(), {
      logger: deps.logger,
      agentLogger: this.log, // its lines carry the agent already: one child logger per agent, not two
      prepare: (signal, report) => this.prepare(signal, report),
      bootSlot: (signal) => deps.pool.acquire(signal),
      // a restart of fleetd keeps what the previous one knew (a running agent's count also comes with its process record)
      recalled: { restarts: known?.process?.restarts ?? known?.restarts ?? 0, lastExit: known?.lastExit ?? null },
    });
    this.runner.on('process', (process) => {
      if (!process) this.hotApplied = undefined;
      const hot = process && this.hotApplied?.pid === process.pid && this.hotApplied.startTime === process.startTime ? this.hotApplied.hash : undefined;
      const { restarts, lastExit } = this.runner.status();
      deps.store.record((r) => {
        const entry = ownEntry(r.agents, this.address);
        if (!entry) return;
        if (process) entry.process = hot ? { ...process, appliedHash: hot } : process;
        else delete entry.process;
        // in the same write: a spawn or an exit is when these change
        entry.restarts = restarts;
        if (lastExit) entry.lastExit = { ...lastExit };
      });
    });
  }

  /** The registry entry (port block, token, operator's wish); undefined until provisioned. */
  get entry(): Readonly<RegistryEntry> | undefined {
    return this.deps.store.entry(this.address);
  }

  /** True when this agent should be running: declared enabled, not stopped by the operator, fleetd not shutting down. */
  wanted(): boolean {
    return !this.deps.isShuttingDown() && this.desired.enabled && this.entry?.desired === 'running';
  }

  /** The agent's state, from its runner (the one source). */
  status(): RunnerStatus {
    return this.runner.status();
  }

  // Runs before EVERY spawn (runner dependency), automatic restarts included: a home deleted
  // while the gateway ran is made again, a home swapped for a symlink fails the launch for
  // good (nothing is written through it), a runtime pruned meanwhile is installed again.
  /** Readies one launch: runtime installed, home verified, openclaw.json and token provisioned; returns the spec. */
  async prepare(signal: AbortSignal, report: (step: string) => void): Promise<LaunchSpec> {
    const entry = this.entry;
    if (!entry) throw new FleetError('PROVISION_FAILED', `${this.address} has no port block (the registry holds no entry for it); \`fleetctl reload\` gives it one`);
    const m = this.deps.manifest();
    const pin = this.desired.launch;
    let runtime;
    if (pin.kind === 'openclaw') {
      const key = launchRuntimeKey(pin);
      report(`waiting for OpenClaw runtime ${key}`);
      const install = this.deps.installRuntime(key, (e) => report(`installing OpenClaw ${key}: ${e.message}`)).catch((err: unknown) => {
        const cause = toFleetError(err, 'RUNTIME_FAILED');
        throw new FleetError(cause.code, `OpenClaw runtime ${key} could not be installed: ${cause.message}`, { cause, transient: cause.transient, details: cause.details });
      });
      runtime = await abortable(install, signal);
    }
    signal.throwIfAborted();
    // Its cgroup (created, limits written), its user and KSM wrapper: a limit that cannot be
    // enforced, a user that does not exist, fail the launch for good with the reason.
    const isoSpec = agentIsolationSpec(m, this.desired.fleet, this.desired.agent);
    const iso = this.deps.isolation ? prepareAgentIsolation(this.deps.isolation, isoSpec, this.desired.fleet, this.desired.agent) : undefined;
    for (const note of iso?.notes ?? []) this.log.warn({}, note);
    const user = iso?.user;
    if (user && runtime) {
      const problem = accessProblem(runtime.node, user, 'rx') ?? accessProblem(runtime.entry, user, 'r');
      if (problem) throw new FleetError('PROVISION_FAILED', `${this.address} runs as ${user.name}, who cannot use its runtime: ${problem}; make the runtimes folder readable to it (chmod -R a+rX ${m.runtimesDir})`);
    }
    report('provisioning the home and openclaw.json');
    const owner = user ? { uid: user.uid, gid: user.gid } : undefined;
    const provisioned = await provisionAgent(this.provisionInput(m, entry, owner));
    signal.throwIfAborted();
    this.owner = owner;
    if (user) {
      // A home the tenant cannot reach (an ancestor such as the state dir at 0700) would
      // end in OpenClaw's EACCES on openclaw.json: say which folder, and how to open it.
      const problem = accessProblem(provisioned.home, user, 'rx');
      if (problem) throw new FleetError('PROVISION_FAILED', `${this.address} runs as ${user.name}, who cannot reach its home: ${problem} (every folder above a tenant home needs o+x)`);
    }
    this.logOverrides(provisioned.configOverrides);
    this.recordAppliedHash(provisioned.hash);
    const spec = buildLaunchSpec(m, this.desired, entry, provisioned, runtime, [...this.secrets(), ...provisioned.secretValues]);
    this.isolation = { spec: isoSpec, ...(iso?.cgroup ? { cgroup: iso.cgroup } : {}) };
    this.runtimeVersions = runtime ? { openclaw: runtime.version, node: runtime.nodeVersion } : { openclaw: null, node: null };
    if (!iso) return spec;
    const isolated = isolateLaunch({ argv: spec.argv, env: spec.env }, iso);
    // kept by the runner for the whole run: merged, not spread (util/merge.ts)
    const isolation = merge(iso.cgroup ? { cgroup: iso.cgroup } : {}, isoSpec.limits.memoryText ? { memoryText: isoSpec.limits.memoryText } : {});
    return merge(spec, { argv: isolated.argv, env: isolated.env, ...(isolated.cgroupProcs ? { cgroupProcs: isolated.cgroupProcs } : {}), isolation });
  }

  /** provisionAgent's input for this agent now; with `owner` its home is that tenant user's (handed to it, openclaw.json written through held folders). */
  private provisionInput(m: Manifest, entry: Readonly<RegistryEntry>, owner: Owner | undefined): ProvisionInput {
    const tenant = owner && {
      prepareHome: () => void prepareTenantHome(m.stateDir, this.desired.fleet, this.desired.agent, owner),
      write: async (path: string, text: string) => void writeTenantFile(m.stateDir, path, text, owner),
    };
    return { stateDir: m.stateDir, desired: this.desired, entry, blockSize: m.ports.blockSize, parentEnv: this.deps.parentEnv, ...(tenant ? { tenant } : {}) };
  }

  /** Secrets besides the gateway token that its output may carry: hooks tokens (its own, its callees'). */
  private secrets(): string[] {
    return federationSecrets((address) => this.deps.store.entry(address), this.deps.manifest(), this.address);
  }

  /** Provisions home and openclaw.json without launching (a disabled agent keeps its files ready). */
  async provisionOnly(): Promise<void> {
    const entry = this.entry;
    if (!entry) return;
    const m = this.deps.manifest();
    try {
      await provisionAgent({ stateDir: m.stateDir, desired: this.desired, entry, blockSize: m.ports.blockSize, parentEnv: this.deps.parentEnv });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not provision the home of a disabled agent');
    }
  }

  /** Operator start: wanted running from now on (kept across fleetd restarts); launches unless already up or launching. */
  async start(options: LaunchOptions = {}): Promise<RunnerStatus> {
    this.refuseDisabled();
    const persisted = this.setOperatorWish('running');
    await this.runner.start(options.reason ?? 'started by the operator');
    await persisted;
    return this.outcome(options.wait ?? true);
  }

  /** Operator restart: same port and token, a new process; clears `failed`; wanted running from now on. */
  async restart(options: LaunchOptions = {}): Promise<RunnerStatus> {
    this.refuseDisabled();
    const persisted = this.setOperatorWish('running');
    await this.runner.restart({ reason: options.reason ?? 'restarted by the operator', ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
    await persisted;
    return this.outcome(options.wait ?? true);
  }

  /** Operator stop: cancels any launch or backoff at once, stops the tree; stays stopped across fleetd restarts until started. */
  async stop(options: StopOptions = {}): Promise<RunnerStatus> {
    const persisted = this.setOperatorWish('stopped');
    await this.runner.stop({ ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }), ...(options.reason ? { reason: options.reason } : {}) });
    await persisted;
    return this.runner.status();
  }

  /**
   * Live restore: takes over the gateway a previous fleetd left running (identity already
   * checked: pid, start time, launch hash). prepare() gives the spec it would launch with now
   * (same hash, so nothing of the gateway's files changes); the runner is `running` at once.
   */
  async adoptRunning(proc: GatewayProcess, record: RecordedProcess, why: string): Promise<boolean> {
    const spec = await this.prepare(new AbortController().signal, () => undefined);
    // a config applied to it in place (recorded with it) is what it runs: keep saying so
    if (record.appliedHash !== undefined && record.appliedHash === spec.launchHash) this.hotApplied = { pid: record.pid, startTime: record.startTime, hash: record.appliedHash };
    return this.runner.adopt(proc, {
      spec,
      spawnedAt: Date.parse(record.spawnedAt),
      runningSince: record.runningSince ? Date.parse(record.runningSince) : null,
      restarts: record.restarts ?? 0,
      why,
    });
  }

  /**
   * Live restore of a gateway that ended while fleetd was away: when the agent is `wanted`
   * running, its exit goes through the restart policy (and a restart follows when it says
   * so); otherwise (stopped by the operator, disabled) its exit is only recorded.
   */
  async adoptExited(exit: GatewayExit & { at: number }, record: RecordedProcess, output: string | undefined, wanted: boolean): Promise<void> {
    if (!wanted) return this.runner.recallExit(exit, { spawnedAt: Date.parse(record.spawnedAt), restarts: record.restarts ?? 0, pid: record.pid });
    const m = this.deps.manifest();
    const spec = { ...this.previewSpec(), logs: m.logs, stopTimeoutMs: m.gateway.stopTimeoutMs, health: m.health, restart: m.restart };
    await this.runner.adoptExit(exit, {
      spec,
      spawnedAt: Date.parse(record.spawnedAt),
      runningSince: record.runningSince ? Date.parse(record.runningSince) : null,
      restarts: record.restarts ?? 0,
      pid: record.pid,
      why: 'ended while fleetd was away',
      ...(output ? { output } : {}),
    });
  }

  /** Lets go of the gateway without stopping it (fleetd restarts; the next one adopts it). */
  detach(): Promise<void> {
    return this.runner.detach();
  }

  /** A restart on fleetd's behalf (rolling restart), in the agent's exclusive section: the operator's wish is left as it is; resolves with the outcome. */
  relaunch(options: LaunchOptions & { reason: string }): Promise<RunnerStatus> {
    return this.exclusive(async () => {
      if (!this.wanted()) return this.runner.status(); // stopped by the operator while it waited for its turn
      await this.runner.restart({ reason: options.reason, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
      return this.outcome(options.wait ?? true);
    });
  }

  /** Runs `job` once no other exclusive job of this agent runs (a reconfigure, a rolling restart's turn, a rollout's stop-snapshot-start), in arrival order. */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.section.run(job);
  }

  /** A planned start (start-up, reload): only when the agent is wanted; the launch goes on in the background. */
  async startPlanned(reason: string): Promise<void> {
    if (this.wanted()) await this.runner.start(reason);
  }

  /** A planned restart (reload: config, env or runtime changed): only when wanted. */
  async restartPlanned(reason: string): Promise<void> {
    if (this.wanted()) await this.runner.restart({ reason });
  }

  /**
   * A planned reconfigure (reload: only openclaw.json changed), in the agent's exclusive
   * section: the new file goes through the same provisioning as a launch (three-way merge,
   * tenant user) without a stop, and the running gateway applies it itself; when it does not,
   * the agent is restarted with the reason (daemon/reconfigure.ts). Only when wanted; a newer
   * reconfigure of this agent supersedes one still waiting or watching.
   */
  async reconfigurePlanned(reason: string): Promise<ReconfigureOutcome> {
    const skipped = (why: string): ReconfigureOutcome => ({ address: this.address, result: 'skipped', reason: why, pid: null, durationMs: 0 });
    if (!this.wanted()) return skipped('not wanted running');
    this.reconfiguring?.abort();
    const abort = (this.reconfiguring = new AbortController());
    try {
      return await this.exclusive(async () => (abort.signal.aborted ? skipped('changed again meanwhile') : reconfigureAgent(this.reconfigureJob(reason, abort.signal))));
    } finally {
      if (this.reconfiguring === abort) this.reconfiguring = undefined;
    }
  }

  /** The reconfigure of this agent now (see reconfigurePlanned). */
  private reconfigureJob(reason: string, signal: AbortSignal): ReconfigureJob {
    const m = this.deps.manifest();
    return {
      address: this.address,
      reason,
      runner: this.runner,
      logFile: agentPaths(m.stateDir, this.desired.fleet, this.desired.agent).logFile,
      writeConfig: async (beforeWrite) => {
        await beforeWrite();
        const entry = this.entry;
        if (!entry) throw new FleetError('PROVISION_FAILED', `${this.address} has no registry entry any more`);
        return provisionConfig(this.provisionInput(this.deps.manifest(), entry, this.owner));
      },
      onWritten: (written) => {
        this.logOverrides(written.overrides);
        this.recordAppliedHash(written.hash);
      },
      onApplied: (pid, hash) => this.recordHotApplied(pid, hash),
      notRunning: () => this.reconfigureNotRunning(),
      limits: { confirmMs: m.gateway.reloadTimeoutMs, restartMs: m.health.startupTimeoutMs, deferMs: m.gateway.stopTimeoutMs },
      signal,
      log: this.log,
    };
  }

  // A launch that began after the reload (a crash's backoff restart, an operator's restart)
  // provisions the new file in its prepare(): the reload replaced `desired` before any of its
  // reconfigures ran, and an agent that was launching then got a restart, not a reconfigure.
  /** Why nothing is done when a reconfigure's turn comes and the agent is not running. */
  private reconfigureNotRunning(): string {
    const state = this.runner.status().state;
    if (!this.wanted()) return `it is ${state} and no longer wanted running`;
    return `it is ${state}, not running: ${state === 'starting' ? 'the launch under way provisions' : 'its next launch provisions'} the new openclaw.json`;
  }

  /** The running gateway `pid` took the config of `hash` in place: its registry record says so, and live restore adopts it with that hash. */
  private recordHotApplied(pid: number, hash: string): void {
    const recorded = this.entry?.process;
    if (recorded?.pid !== pid) return;
    this.hotApplied = { pid, startTime: recorded.startTime, hash };
    this.deps.store.record((r) => {
      const entry = ownEntry(r.agents, this.address);
      if (entry?.process?.pid === pid) entry.process = { ...entry.process, appliedHash: hash };
    });
  }

  /** A planned stop (disabled, removed from the manifest, fleetd shutting down); the operator's wish is left as it is. */
  async stopPlanned(reason: string, timeoutMs?: number): Promise<void> {
    await this.runner.stop({ reason, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }

  /** Gives a running agent the manifest's current timings (health, restart policy, stop timeout) without a restart. */
  refreshTimings(): void {
    const m = this.deps.manifest();
    const current = this.runner.status();
    const spec = this.previewSpec();
    this.runner.updateSpec({ ...spec, port: current.port || spec.port, logs: m.logs, stopTimeoutMs: m.gateway.stopTimeoutMs, health: m.health, restart: m.restart });
  }

  /** The outcome of the launch under way (running, failed, backoff, stopped), waited for as `start` with wait does; the state now when none is under way. */
  settled(): Promise<RunnerStatus> {
    return this.outcome(true);
  }

  /** Waits for the launch outcome (or answers the state now when `wait` is false). */
  private async outcome(wait: boolean): Promise<RunnerStatus> {
    if (!wait) return this.runner.status();
    const limit = outcomeWaitMs(this.deps.manifest());
    return this.runner.waitForState((s) => isSettled(s.state), limit).catch(() => this.runner.status());
  }

  /** Records the operator's wish now (in memory at once, on disk behind it). */
  private setOperatorWish(desired: 'running' | 'stopped'): Promise<void> {
    return this.deps.store.update((r) => {
      const entry = ownEntry(r.agents, this.address);
      if (entry) entry.desired = desired;
    });
  }

  /** Logs the paths (never the values: they may be secrets) where the manifest replaced what OpenClaw had written. */
  private logOverrides(overrides: readonly { path: string[] }[]): void {
    if (overrides.length > 0) this.log.warn({ overrides: overrides.map((c) => formatConfigPath(c.path)) }, 'openclaw.json: the manifest replaced values OpenClaw had written there');
  }

  private recordAppliedHash(hash: string): void {
    this.appliedHash = hash;
    this.deps.store.record((r) => {
      const entry = ownEntry(r.agents, this.address);
      if (entry) entry.appliedHash = hash;
    });
  }

  private refuseDisabled(): void {
    if (this.desired.enabled) return;
    throw new FleetError('REFUSED', `${this.address} is disabled in the manifest ${this.deps.manifest().manifestPath}; set enabled: true there and run \`fleetctl reload\``);
  }

  /** The spec the agent would launch with now, computed without touching the disk (before the first launch). */
  private previewSpec(): LaunchSpec {
    const m = this.deps.manifest();
    const entry = this.entry ?? { port: 0, token: '0'.repeat(64) };
    const effective = effectiveEnv({ stateDir: m.stateDir, desired: this.desired, port: entry.port, parentEnv: this.deps.parentEnv });
    return {
      address: this.address,
      argv: [],
      cwd: effective.paths.home,
      env: effective.env,
      port: entry.port,
      token: entry.token,
      secrets: this.secrets(),
      logFile: effective.paths.logFile,
      logs: m.logs,
      stopTimeoutMs: m.gateway.stopTimeoutMs,
      health: m.health,
      restart: m.restart,
    };
  }
}

/** The entry of `address` as an own property (ids like `constructor` are ordinary ids). */
export function ownEntry<T>(agents: Record<string, T>, address: string): T | undefined {
  return Object.hasOwn(agents, address) ? agents[address] : undefined;
}

/** Resolves like `promise`, or rejects with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
