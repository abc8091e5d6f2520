// One agent at one address: what is wanted of it (its DesiredAgent from the manifest or the
// registry, and the operator's running/stopped in the registry), its runner (the one place
// its state lives), and prepare(), the step that readies every launch. The fleet asks an
// agent to act; an agent never waits on another one.
import { FleetError, toFleetError } from '../errors.js';
import type { AgentAddress } from '../manifest/ids.js';
import type { Manifest } from '../manifest/schema.js';
import { isSettled } from '../plan/agent-states.js';
import type { DesiredAgent, RegistryEntry } from '../plan/types.js';
import { federationSecrets } from '../plan/federation-secrets.js';
import { formatConfigPath } from '../plan/config-merge.js';
import { effectiveAgent } from '../provision/effective.js';
import { provisionAgent, provisionConfig } from '../provision/provision-agent.js';
import { agentPaths } from '../provision/home.js';
import type { ReconfigureOutcome } from '../protocol/schemas.js';
import { reconfigureAgent } from './reconfigure.js';
import type { Runner, RunnerDeps } from '../supervise/runner.js';
import type { LaunchSpec, RunnerStatus } from '../supervise/types.js';
import { buildLaunchSpec } from './launch.js';
import type { Logger } from './logger.js';
import type { RegistryStore } from './registry-store.js';
import type { InstallRuntime } from './runtime-cache.js';
import type { StartPool } from './start-pool.js';

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
  createRunner: (spec: LaunchSpec, deps: Pick<RunnerDeps, 'prepare' | 'bootSlot' | 'logger'>) => Runner;
  /** True once fleetd is shutting down: nothing may launch any more. */
  isShuttingDown: () => boolean;
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
  private readonly deps: AgentDeps;
  private readonly log: Logger;
  /** The reconfigure in progress (a newer one aborts it). */
  private reconfiguring: AbortController | undefined;
  /** Reconfigure writes of openclaw.json, one at a time, each with the declaration current at its turn. */
  private configWrites: Promise<unknown> = Promise.resolve();

  constructor(desired: DesiredAgent, deps: AgentDeps) {
    this.address = desired.address;
    this.desired = desired;
    this.deps = deps;
    this.log = deps.logger.child({ agent: desired.address });
    this.appliedHash = deps.store.entry(desired.address)?.appliedHash;
    this.runner = deps.createRunner(this.previewSpec(), {
      logger: deps.logger,
      prepare: (signal, report) => this.prepare(signal, report),
      bootSlot: (signal) => deps.pool.acquire(signal),
    });
    this.runner.on('process', (process) =>
      deps.store.record((r) => {
        const entry = ownEntry(r.agents, this.address);
        if (!entry) return;
        if (process) entry.process = process;
        else delete entry.process;
      }),
    );
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
      report(`waiting for OpenClaw runtime ${pin.version}`);
      const install = this.deps.installRuntime(pin.version, (e) => report(`installing OpenClaw ${pin.version}: ${e.message}`)).catch((err: unknown) => {
        const cause = toFleetError(err, 'RUNTIME_FAILED');
        throw new FleetError(cause.code, `OpenClaw runtime ${pin.version} could not be installed: ${cause.message}`, { cause, transient: cause.transient, details: cause.details });
      });
      runtime = await abortable(install, signal);
    }
    signal.throwIfAborted();
    report('provisioning the home and openclaw.json');
    const provisioned = await provisionAgent({ stateDir: m.stateDir, desired: this.desired, entry, blockSize: m.ports.blockSize, parentEnv: this.deps.parentEnv });
    signal.throwIfAborted();
    this.logOverrides(provisioned.configOverrides);
    this.recordAppliedHash(provisioned.hash);
    return buildLaunchSpec(m, this.desired, entry, provisioned, runtime, [...this.secrets(), ...provisioned.secretValues]);
  }

  /** Secrets besides the gateway token that its output may carry: hooks tokens (its own, its callees'). */
  private secrets(): string[] {
    return federationSecrets(this.deps.store.current(), this.deps.manifest(), this.address);
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

  /** A restart on fleetd's behalf (rolling restart): the operator's wish is left as it is; resolves with the outcome. */
  async relaunch(options: LaunchOptions & { reason: string }): Promise<RunnerStatus> {
    await this.runner.restart({ reason: options.reason, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
    return this.outcome(options.wait ?? true);
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
   * A planned reconfigure (reload: only openclaw.json changed): the new file is merged in
   * without a stop and the running gateway applies it itself; when it does not, the agent is
   * restarted with the reason (daemon/reconfigure.ts). Only when wanted; a newer reconfigure
   * of this agent supersedes one still in progress.
   */
  async reconfigurePlanned(reason: string): Promise<ReconfigureOutcome> {
    if (!this.wanted()) return { address: this.address, result: 'skipped', reason: 'not wanted running', pid: null, durationMs: 0 };
    this.reconfiguring?.abort();
    const abort = (this.reconfiguring = new AbortController());
    const m = this.deps.manifest();
    try {
      return await reconfigureAgent({
        address: this.address,
        reason,
        runner: this.runner,
        logFile: agentPaths(m.stateDir, this.desired.fleet, this.desired.agent).logFile,
        // Two reloads in a row: the later write must land last, with the later declaration.
        writeConfig: (beforeWrite) => {
          const turn = this.configWrites.then(async () => {
            await beforeWrite();
            const entry = this.entry;
            if (!entry) throw new FleetError('PROVISION_FAILED', `${this.address} has no registry entry any more`);
            return provisionConfig({ stateDir: m.stateDir, desired: this.desired, entry, blockSize: m.ports.blockSize, parentEnv: this.deps.parentEnv });
          });
          this.configWrites = turn.catch(() => undefined);
          return turn;
        },
        onWritten: (written) => {
          this.logOverrides(written.overrides);
          this.recordAppliedHash(written.hash);
        },
        restart: (why) => this.restartPlanned(why),
        limits: { confirmMs: m.gateway.reloadTimeoutMs, restartMs: m.health.startupTimeoutMs, deferMs: m.gateway.stopTimeoutMs },
        signal: abort.signal,
        log: this.log,
      });
    } finally {
      if (this.reconfiguring === abort) this.reconfiguring = undefined;
    }
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
    const effective = effectiveAgent({ stateDir: m.stateDir, desired: this.desired, port: entry.port, token: entry.token, blockSize: m.ports.blockSize, parentEnv: this.deps.parentEnv });
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
