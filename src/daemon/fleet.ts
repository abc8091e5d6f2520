// The fleet as fleetd holds it: manifest, registry, one runner per agent. Every change goes
// through the serial queue (one at a time, in order); reads (status, logs, token) do not.
// The decisions are made by plan/ (pure); this file carries them out.
import { FleetError } from '../errors.js';
import type { AgentAddress } from '../manifest/ids.js';
import type { Manifest } from '../manifest/schema.js';
import { desiredAgents } from '../plan/desired.js';
import { planReconcile, type ObservedAgent } from '../plan/reconcile.js';
import { portOfBlock } from '../plan/ports.js';
import { backoffDelay, formatDuration } from '../plan/restart-policy.js';
import { isPermanentRuntimeError } from '../runtime/failure.js';
import type { DesiredAgent, PlanAction, RecordedProcess, RegistryFile } from '../plan/types.js';
import { effectiveAgent } from '../provision/effective.js';
import { ensureEntry } from '../provision/ensure-entry.js';
import { agentPaths } from '../provision/home.js';
import { provisionAgent } from '../provision/provision-agent.js';
import type { PortProbe } from '../provision/port-probe.js';
import type { Runtime } from '../runtime/types.js';
import type { LaunchSpec, RunnerStatus } from '../supervise/types.js';
import type { AgentView } from '../protocol/schemas.js';
import { buildLaunchSpec } from './launch.js';
import type { Logger } from './logger.js';
import type { Registry } from './registry.js';
import { createSerialQueue } from './serial-queue.js';
import { createStartPool } from './start-pool.js';
import { toAgentView, type PendingState } from './views.js';

/** What fleet.ts needs of a runner (supervise/runner.ts provides it). */
export interface FleetRunner {
  start(): Promise<void>;
  stop(options?: { timeoutMs?: number; reason?: string }): Promise<void>;
  restart(options?: { timeoutMs?: number }): Promise<void>;
  updateSpec(spec: LaunchSpec): void;
  status(): RunnerStatus;
  waitForState(predicate: (status: RunnerStatus) => boolean, timeoutMs: number): Promise<RunnerStatus>;
  on(event: 'state', listener: (status: RunnerStatus) => void): unknown;
  on(event: 'process', listener: (process: RecordedProcess | null) => void): unknown;
}

/** Side effects the fleet is built from (real defaults in run.ts; tests may pass others). */
export interface FleetDeps {
  logger: Logger;
  registry: Registry;
  /** `bootSlot` gates the runner's own (automatic) restarts by startConcurrency. */
  createRunner: (spec: LaunchSpec, logger: Logger, bootSlot: () => Promise<() => void>) => FleetRunner;
  ensureRuntime: (version: string) => Promise<Runtime>;
  /** RSS of each pid's whole process tree, from one read of /proc. */
  treeRss: (pids: readonly number[]) => Map<number, number>;
  now: () => number;
  isPortFree?: PortProbe;
  parentEnv: Readonly<Record<string, string | undefined>>;
  /** Timers for retries (default setTimeout, unref'd). */
  setTimer?: (fn: () => void, ms: number) => unknown;
  /** [0, 1) for retry jitter (default Math.random). */
  random?: () => number;
}

/** One agent as fleetd tracks it. */
interface Slot {
  desired: DesiredAgent;
  runner?: FleetRunner;
  pending?: PendingState;
  /** Hash of the config+env+launch the current runner spec was built from. */
  appliedHash?: string;
  /** Launches in flight (waiting for a runtime or a start slot, or booting). */
  launching?: number;
  /** Failed runtime installs in a row (for the retry delay). */
  runtimeAttempts?: number;
}

/** Result of a reconcile (start-up, reload, dry run). */
export interface ReconcileResult {
  actions: PlanAction[];
  skippedPorts: number[];
}

/** True once a start attempt (already spawned, or a no-op) has an outcome: up, given up, waiting to retry, or stopped. */
const SETTLED = (s: RunnerStatus) => s.state === 'running' || s.state === 'failed' || s.state === 'backoff' || s.state === 'stopped';

/** Creates the fleet around a validated manifest: `load()`, then `reconcile()` to start it; `shutdown()` at the end. */
export function createFleet(initial: Manifest, deps: FleetDeps) {
  let manifest = initial;
  let reg: RegistryFile = { version: 1, agents: {} };
  const slots = new Map<string, Slot>();
  const launches = new Set<Promise<unknown>>();
  const queue = createSerialQueue();
  const pool = createStartPool(manifest.startConcurrency);
  const log = deps.logger;
  const setTimer = deps.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms).unref());
  const random = deps.random ?? Math.random;
  let shuttingDown = false;
  /** Registry writes of spawned/ended processes still in flight. */
  const recording = new Set<Promise<void>>();

  /** Locked read-modify-write of the registry; keeps the in-memory copy current. */
  async function persist(mutate: (r: RegistryFile) => void | Promise<void>): Promise<void> {
    reg = await deps.registry.update(mutate);
  }

  function homeOf(desired: DesiredAgent): string {
    return agentPaths(manifest.stateDir, desired.fleet, desired.agent).home;
  }

  /** The applied hash `desired` would get under `target` (undefined: no block yet). */
  function hashOf(desired: DesiredAgent, target: Manifest): string | undefined {
    const entry = reg.agents[desired.address];
    if (!entry) return undefined;
    return effectiveAgent({ stateDir: target.stateDir, desired, port: entry.port, token: entry.token, blockSize: target.ports.blockSize, parentEnv: deps.parentEnv }).hash;
  }

  function slotOf(address: string): Slot {
    const slot = slots.get(address);
    if (!slot) throw new FleetError('NOT_FOUND', `no agent ${address}; \`fleetctl status\` lists the agents`);
    return slot;
  }

  function setPending(slot: Slot, state: PendingState['state'], reason: string): void {
    slot.pending = { state, reason, since: deps.now() };
    (state === 'failed' || state === 'backoff' ? log.error : log.info).call(log, { agent: slot.desired.address, state, reason }, 'agent state');
  }

  /** Creates the runner of a slot on first launch and wires its events to the registry. */
  function ensureRunner(slot: Slot, spec: LaunchSpec): FleetRunner {
    if (slot.runner) {
      slot.runner.updateSpec(spec);
      return slot.runner;
    }
    const address = slot.desired.address;
    const runner = deps.createRunner(spec, log, () => pool.acquire()); // the runner adds { agent } itself
    runner.on('process', (p) => {
      const write = persist((r) => {
        const entry = r.agents[address];
        if (!entry) return;
        if (p) entry.process = p;
        else delete entry.process;
      }).catch((err) => log.error({ agent: address, err: (err as Error).message }, 'cannot record the gateway process in the registry'));
      // shutdown() waits for these, so a clean exit never leaves a stopped process recorded
      recording.add(write);
      void write.finally(() => recording.delete(write));
    });
    slot.runner = runner;
    return runner;
  }

  /** True while `slot` is still the agent's slot and its agent is still wanted running. */
  function stillWanted(slot: Slot): boolean {
    const address = slot.desired.address;
    return !shuttingDown && slots.get(address) === slot && slot.desired.enabled && reg.agents[address]?.desired === 'running';
  }

  /** Installs (or reuses) the runtime an agent needs; undefined for command launches, null when it failed. */
  async function resolveRuntime(slot: Slot): Promise<Runtime | undefined | null> {
    const pin = slot.desired.launch;
    if (pin.kind !== 'openclaw') return undefined;
    setPending(slot, 'starting', `waiting for OpenClaw runtime ${pin.version}`);
    try {
      const runtime = await deps.ensureRuntime(pin.version);
      slot.runtimeAttempts = 0;
      return runtime;
    } catch (err) {
      const what = `OpenClaw runtime ${pin.version} could not be installed: ${(err as Error).message}`;
      if (isPermanentRuntimeError(err)) {
        setPending(slot, 'failed', `${what}; fix the manifest, then \`fleetctl reload\` or \`fleetctl restart agent ${slot.desired.address}\``);
        return null;
      }
      // Registry unreachable, disk full...: a fleet runs unattended, so try again, later and later.
      const attempt = (slot.runtimeAttempts ?? 0) + 1;
      slot.runtimeAttempts = attempt;
      const delay = backoffDelay(attempt, manifest.restart, random);
      setPending(slot, 'backoff', `${what}; install attempt ${attempt + 1} in ${formatDuration(delay)}`);
      slot.pending!.nextStartAt = deps.now() + delay;
      setTimer(() => {
        if (slot.pending?.state === 'backoff' && stillWanted(slot)) void launch(slot, 'start');
      }, delay);
      return null;
    }
  }

  /** Provisions an agent and builds its spec. */
  async function prepare(slot: Slot, runtime: Runtime | undefined): Promise<{ spec: LaunchSpec; hash: string } | undefined> {
    const { desired } = slot;
    const entry = reg.agents[desired.address];
    if (!entry) return undefined;
    try {
      const provisioned = await provisionAgent({ stateDir: manifest.stateDir, desired, entry, blockSize: manifest.ports.blockSize, parentEnv: deps.parentEnv });
      slot.pending = undefined;
      return { spec: buildLaunchSpec(manifest, desired, entry, provisioned, runtime), hash: provisioned.hash };
    } catch (err) {
      setPending(slot, 'failed', `provisioning failed: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** Writes a (disabled) agent's home and openclaw.json without launching anything. */
  async function provisionOnly(slot: Slot): Promise<void> {
    const entry = reg.agents[slot.desired.address];
    if (!entry) return;
    try {
      await provisionAgent({ stateDir: manifest.stateDir, desired: slot.desired, entry, blockSize: manifest.ports.blockSize, parentEnv: deps.parentEnv });
    } catch (err) {
      setPending(slot, 'failed', `provisioning failed: ${(err as Error).message}`);
    }
  }

  // A launch can wait long (a runtime install, a free start slot) while the agent is
  // stopped, removed, disabled or fleetd shuts down: every step re-checks stillWanted, so a
  // cancelled launch never spawns. In-flight launches are tracked for shutdown().
  /** Starts (or restarts) one agent; the boot itself holds a start-pool slot. Resolves once it left `starting`. */
  function launch(slot: Slot, mode: 'start' | 'restart', timeoutMs?: number): Promise<RunnerStatus | undefined> {
    const job = (async () => {
      slot.launching = (slot.launching ?? 0) + 1;
      try {
        const runtime = await resolveRuntime(slot); // outside the pool: an install must not block other boots
        if (runtime === null || !stillWanted(slot)) return undefined;
        if (!slot.runner || slot.runner.status().state === 'stopped') {
          setPending(slot, 'starting', `waiting for a start slot (startConcurrency ${manifest.startConcurrency})`);
        }
        return await pool.run(async () => {
          if (!stillWanted(slot)) return undefined;
          const prepared = await prepare(slot, runtime);
          if (!prepared || !stillWanted(slot)) return undefined;
          const runner = ensureRunner(slot, prepared.spec);
          slot.appliedHash = prepared.hash;
          await persist((r) => {
            const entry = r.agents[slot.desired.address];
            if (entry) entry.appliedHash = prepared.hash;
          });
          if (!stillWanted(slot)) return undefined;
          // Both resolve once the new gateway is spawned (or at once when there is nothing to do).
          if (mode === 'restart') await runner.restart(timeoutMs === undefined ? {} : { timeoutMs });
          else await runner.start();
          const limit = manifest.health.startupTimeoutMs + manifest.gateway.stopTimeoutMs + 5000;
          return runner.waitForState(SETTLED, limit).catch(() => runner.status());
        });
      } finally {
        slot.launching -= 1;
        // A launch that gave up (stopped, removed, disabled meanwhile) must not leave "waiting ..." behind.
        if (slot.pending?.state === 'starting' && !slot.launching) slot.pending = undefined;
      }
    })();
    launches.add(job);
    void job.finally(() => launches.delete(job)).catch(() => {});
    return job;
  }

  function observed(): Record<string, ObservedAgent> {
    const out: Record<string, ObservedAgent> = {};
    for (const [address, slot] of slots) {
      let state = slot.runner?.status().state ?? slot.pending?.state ?? 'stopped';
      if (slot.pending?.state === 'failed' && state === 'stopped') state = 'failed';
      if (slot.launching && (state === 'stopped' || state === 'failed')) state = 'starting';
      out[address] = { state, ...(slot.appliedHash ? { appliedHash: slot.appliedHash } : {}) };
    }
    return out;
  }

  function planFor(target: Manifest): { desired: DesiredAgent[]; actions: PlanAction[] } {
    const desired = desiredAgents(target, reg);
    const hashes: Record<string, string> = {};
    for (const d of desired) {
      const h = hashOf(d, target);
      if (h) hashes[d.address] = h;
    }
    return { desired, actions: planReconcile({ desired, registry: reg, observed: observed(), hashes }) };
  }

  /** Carries out a plan. Starts are launched in the background through the start pool. */
  async function apply(target: Manifest, desired: DesiredAgent[], actions: PlanAction[]): Promise<number[]> {
    manifest = target;
    pool.resize(target.startConcurrency);
    const byAddress = new Map(desired.map((d) => [d.address, d]));
    for (const d of desired) {
      const slot = slots.get(d.address);
      if (slot) slot.desired = d;
    }
    const skippedPorts: number[] = [];
    const launches: Promise<unknown>[] = [];
    for (const action of actions) {
      const want = byAddress.get(action.address);
      switch (action.kind) {
        case 'provision': {
          if (!want) break;
          const slot = slots.get(want.address) ?? { desired: want };
          slots.set(want.address, slot);
          try {
            await persist(async (r) => {
              const ensured = await ensureEntry(r, want, { ports: target.ports, now: () => new Date(deps.now()), ...(deps.isPortFree ? { isPortFree: deps.isPortFree } : {}) });
              for (const skip of ensured.skipped) {
                skippedPorts.push(skip.port);
                log.warn({ agent: want.address, port: skip.port, block: skip.block }, 'port block skipped: its gateway port is in use by another process');
              }
            });
          } catch (err) {
            // One agent without a block must not stop the others (nor fleetd): it shows as failed.
            setPending(slot, 'failed', (err as Error).message);
            break;
          }
          if (!want.enabled) await provisionOnly(slots.get(want.address)!); // reserve block and home, do not start
          break;
        }
        case 'start': {
          if (!want) break;
          const slot = slots.get(want.address) ?? { desired: want };
          slots.set(want.address, slot);
          log.info({ agent: want.address, reason: action.reason }, 'starting agent');
          launches.push(launch(slot, 'start'));
          break;
        }
        case 'restart': {
          const slot = slots.get(action.address);
          if (!slot) break;
          log.info({ agent: action.address, reason: action.reason }, 'restarting agent');
          launches.push(launch(slot, 'restart'));
          break;
        }
        case 'stop': {
          const slot = slots.get(action.address);
          log.info({ agent: action.address, reason: action.reason }, 'stopping agent');
          if (slot?.runner) await slot.runner.stop({ reason: action.reason });
          break;
        }
        case 'free': {
          const slot = slots.get(action.address);
          if (slot?.runner) await slot.runner.stop({ reason: action.reason });
          slots.delete(action.address);
          await persist((r) => {
            delete r.agents[action.address];
          });
          log.info({ agent: action.address, reason: action.reason }, 'port block freed');
          break;
        }
      }
    }
    // Agents left running as they are still get the manifest's new timings (health,
    // restart policy, logs, stop timeout) for their next start, automatic ones included.
    const touched = new Set(actions.map((a) => a.address));
    for (const slot of slots.values()) {
      if (slot.runner && !touched.has(slot.desired.address)) await refreshSpec(slot);
    }
    // Start-up and reload answer once every start is under way; health is reported by status.
    void Promise.allSettled(launches);
    return skippedPorts;
  }

  /** Rebuilds a runner's spec from the current manifest without restarting it. */
  async function refreshSpec(slot: Slot): Promise<void> {
    const entry = reg.agents[slot.desired.address];
    const pin = slot.desired.launch;
    if (!entry || !slot.runner || (pin.kind === 'openclaw' && !slot.desired.enabled)) return;
    try {
      const runtime = pin.kind === 'openclaw' ? await deps.ensureRuntime(pin.version) : undefined;
      const provisioned = await provisionAgent({ stateDir: manifest.stateDir, desired: slot.desired, entry, blockSize: manifest.ports.blockSize, parentEnv: deps.parentEnv });
      slot.runner.updateSpec(buildLaunchSpec(manifest, slot.desired, entry, provisioned, runtime));
    } catch (err) {
      log.warn({ agent: slot.desired.address, err: (err as Error).message }, 'could not refresh the agent\'s settings; it keeps its current ones');
    }
  }

  /** The agents a runner or a pending state exists for, plus declared-but-idle ones. */
  /** Status of every agent, or of the one at `address`: one snapshot of /proc for all. */
  function views(address?: string): AgentView[] {
    const now = deps.now();
    const chosen = [...slots.values()]
      .filter((slot) => address === undefined || slot.desired.address === address)
      .sort((a, b) => (a.desired.address < b.desired.address ? -1 : 1))
      .map((slot) => ({ slot, status: slot.runner?.status() }));
    const pids = chosen.flatMap(({ status }) => (status?.pid ? [status.pid] : []));
    const rss = pids.length > 0 ? deps.treeRss(pids) : new Map<number, number>();
    return chosen.map(({ slot, status }) =>
      toAgentView({
        desired: slot.desired,
        entry: reg.agents[slot.desired.address],
        home: homeOf(slot.desired),
        runner: status,
        pending: slot.pending,
        rssBytes: status?.pid ? (rss.get(status.pid) ?? null) : null,
        now,
      }),
    );
  }

  function viewOf(address: string): AgentView {
    const [view] = views(address);
    if (!view) throw new FleetError('NOT_FOUND', `no agent ${address}; \`fleetctl status\` lists the agents`);
    return view;
  }

  return {
    /** The manifest currently applied. */
    get manifest(): Manifest {
      return manifest;
    },
    /** The registry as last read or written. */
    get registry(): RegistryFile {
      return reg;
    },
    queue,
    persist,
    slots,
    slotOf,
    views,
    viewOf,
    launch,
    provisionOnly,
    planFor,
    apply,
    homeOf,
    /** Reads the registry; the caller stops recorded orphans before `reconcile`. */
    async load(): Promise<RegistryFile> {
      reg = await deps.registry.read();
      // Blocks are what is stable; ports follow the manifest's `ports` (base/blockSize may have changed while fleetd was down).
      const moved = Object.values(reg.agents).filter((e) => e.port !== portOfBlock(e.block, manifest.ports));
      if (moved.length > 0) {
        await persist((r) => {
          for (const e of Object.values(r.agents)) e.port = portOfBlock(e.block, manifest.ports);
        });
        log.warn({ agents: moved.map((e) => `${e.fleet}/${e.agent}`) }, 'ports moved with the manifest ports section');
      }
      return reg;
    },
    /** Plans against `target` and, unless dryRun, applies it. */
    async reconcile(target: Manifest, dryRun: boolean): Promise<ReconcileResult> {
      const { desired, actions } = planFor(target);
      if (dryRun) return { actions, skippedPorts: [] };
      const skippedPorts = await apply(target, desired, actions);
      // Declared agents with nothing to do still get a slot, so status lists them.
      for (const d of desired) if (!slots.has(d.address) && reg.agents[d.address]) slots.set(d.address, { desired: d });
      return { actions, skippedPorts };
    },
    /** Stops every gateway in parallel, each within its stop timeout. */
    async shutdown(): Promise<void> {
      shuttingDown = true;
      const stopAll = () => Promise.allSettled([...slots.values()].map((slot) => slot.runner?.stop({ reason: 'fleetd is shutting down' })));
      await stopAll();
      // Launches see shuttingDown and give up; one caught between its last check and its spawn is stopped here.
      await Promise.allSettled([...launches]);
      await stopAll();
      await Promise.allSettled([...recording]);
    },
    isShuttingDown: () => shuttingDown,
  };
}

/** The object createFleet returns. */
export type Fleet = ReturnType<typeof createFleet>;
/** Address type re-exported for handlers. */
export type { AgentAddress };
