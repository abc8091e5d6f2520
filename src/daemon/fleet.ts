// The fleet: the agents of one fleetd (one Agent per address), the executor of plans made
// by the pure plan/, and the command API that request handlers, signals and start-up call
// (add, remove, start, stop, restart, rollingRestart, stopMany/startMany, reconcile/reload,
// views, shutdown).
//
// Operations on different agents never wait for each other: each goes to its own agent.
// Only changes to WHICH agents exist (add, remove, reload, start-up) run one at a time, so
// two of them never plan against each other's half-applied result; port blocks are
// allocated inside that section and the registry takes each change synchronously, so
// blocks stay unique under any interleaving. A reload or a rolling restart in progress
// holds no agent: a stop or start of any agent goes through at once. The bulk stop/start
// of many agents (bulk-ops.ts) and a rollout's stop-snapshot-start take the section too.
//
// Above 300 lines on purpose: this file is the one door to the agents, and the membership
// section is its invariant; every command here is a few lines that take the section (or
// not) and call agents. Views, bulk operations, rolling restarts, live restore and plan
// building already live in their own modules.
import { FleetError } from '../errors.js';
import { toAddress, type AgentAddress } from '../manifest/ids.js';
import type { Manifest } from '../manifest/schema.js';
import { desiredAgents, launchOf } from '../plan/desired.js';
import { candidateBlocks, portOfBlock, takenBlocks, type PortsConfig } from '../plan/ports.js';
import { planReconcile, type ObservedAgent } from '../plan/reconcile.js';
import { unreloadableChange } from '../plan/reload-guard.js';
import type { CliAgentSpec, DesiredAgent, PlanAction, RecordedProcess, RegistryEntry, RegistryFile } from '../plan/types.js';
import type { GatewayExit, GatewayProcess } from '../supervise/spawn-gateway.js';
import type { AgentState } from '../supervise/types.js';
import type { EnvValue } from '../secrets/refs.js';
import { launchRuntimeKey } from '../runtime/runtime-key.js';
import { effectiveAgent } from '../provision/effective.js';
import { ensureEntry } from '../provision/ensure-entry.js';
import { agentPaths } from '../provision/home.js';
import { isPortFree, type PortProbe } from '../provision/port-probe.js';
import type { AgentView, ReconfigureOutcome } from '../protocol/schemas.js';
import { Agent, ownEntry, type AgentDeps, type LaunchOptions, type StopOptions } from './agent.js';
import { checkAddedAgent } from './add-rules.js';
import type { Logger } from './logger.js';
import { checkPurgeTarget, purgeHome } from './purge.js';
import type { RegistryStore } from './registry-store.js';
import { runRollingRestart, type RollingProgress, type RollingResult } from './rolling-restart.js';
import { bulkCommands } from './bulk-ops.js';
import type { InstallRuntime } from './runtime-cache.js';
import type { IsolationHost } from '../isolation/agent-isolation.js';
import { createSerialQueue } from './serial-queue.js';
import { createStartPool } from './start-pool.js';
import { agentViews, agentViewsJson, createViewMemo } from './views.js';
import type { SecretMatcher } from '../supervise/redact.js';
import { createStatusReadings, stateKey, type ReadingSubject, type StatusReadingsDeps } from './status-readings.js';
import { unknownTarget } from '../plan/unknown-address.js';
import { alignHooksTokens, writeFederationFiles } from './federation.js';
import { federationView } from '../federation/view.js';

/** Side effects the fleet is built from (real ones in run.ts; tests may pass others). */
export interface FleetDeps {
  logger: Logger;
  store: RegistryStore;
  installRuntime: InstallRuntime;
  createRunner: AgentDeps['createRunner'];
  /** Starts one read of the gateways' process trees for the status readings (status-readings.ts StatusReadingsDeps.treeReader). */
  treeReader: StatusReadingsDeps['treeReader'];
  /** Timings of the status readings (tests shorten them). */
  readingTimings?: StatusReadingsDeps['timings'];
  now: () => number;
  isPortFree?: PortProbe;
  /** fleetd's environment with a cleaned PATH (plan/gateway-env.ts cleanGatewayPath). */
  parentEnv: Readonly<Record<string, string | undefined>>;
  /** The host's cgroups and KSM (isolation/agent-isolation.ts setupIsolationHost); absent: none (tests). */
  isolation?: IsolationHost;
  /** Hears how each planned reconfigure ended (fleetd publishes it as an event). */
  onReconfigured?: (outcome: ReconfigureOutcome) => void;
}

/** A restore of one agent from a verified backup (see Fleet.restoreAgent). */
export interface RestoreRequest {
  fleet: string;
  agent: string;
  /** The archived CLI spec (used when the agent does not exist yet). */
  spec: { config: Record<string, unknown>; env: Record<string, EnvValue> };
  /** The token the agent has after the restore (the archived one, or a new one). */
  token: string;
  /** Wanted running afterwards. */
  start: boolean;
  /** Swaps the extracted home in (and fleetd's last-applied record). */
  install: () => Promise<void>;
}

/** What `fleetctl add agent` asks for. */
export interface AddRequest {
  fleet: string;
  agent: string;
  config: Record<string, unknown>;
  env: Record<string, EnvValue>;
  start: boolean;
}

/** Result of a reconcile (start-up, reload, dry run). */
export interface ReconcileResult {
  actions: PlanAction[];
  skippedPorts: number[];
  /** Outcomes of the `reconfigure` actions, once each has one (never rejects; empty for a dry run). */
  reconfigured: Promise<ReconfigureOutcome[]>;
}

/** Creates the fleet around a validated manifest: `load()`, then `reconcile()` to start it; `shutdown()` at the end. */
export function createFleet(initial: Manifest, deps: FleetDeps) {
  let manifest = initial;
  let shuttingDown = false;
  const agents = new Map<AgentAddress, Agent>();
  /** Agents whose state changed (a runner `state` event) and that have no reading in it yet: what a status request reads itself (readyForStatus). */
  const unread = new Set<Agent>();
  const pool = createStartPool(manifest.startConcurrency);
  /** Whether a port is free to allocate (a test's stand-in, or the real bind probe). */
  const portProbe: PortProbe = deps.isPortFree ?? isPortFree;
  const membership = createSerialQueue();
  const { store } = deps;
  const log = deps.logger;
  const agentDeps: AgentDeps = {
    store,
    manifest: () => manifest,
    installRuntime: deps.installRuntime,
    parentEnv: deps.parentEnv,
    pool,
    logger: log,
    now: deps.now,
    createRunner: deps.createRunner,
    isShuttingDown: () => shuttingDown,
    ...(deps.isolation ? { isolation: deps.isolation } : {}),
  };

  /** The agent at `address`; NOT_FOUND lists the agents of its fleet (or the fleets). */
  function agentOf(address: string): Agent {
    const agent = agents.get(address as AgentAddress);
    if (!agent) throw unknownTarget(address, agents.keys());
    return agent;
  }

  /** The agents of `fleet` (every agent when undefined), sorted by address; NOT_FOUND for a fleet with none. */
  function membersOf(fleet: string | undefined): Agent[] {
    const members = [...agents.values()].filter((a) => fleet === undefined || a.desired.fleet === fleet).sort((a, b) => (a.address < b.address ? -1 : 1));
    if (fleet !== undefined && members.length === 0) throw unknownTarget(fleet, agents.keys());
    return members;
  }

  /** The agent for `desired`, made on first sight; a known one takes the new declaration. */
  function adopt(desired: DesiredAgent): Agent {
    const known = agents.get(desired.address);
    if (known) {
      known.desired = desired;
      return known;
    }
    const agent = new Agent(desired, agentDeps);
    agents.set(desired.address, agent);
    agent.runner.on('state', () => void unread.add(agent));
    return agent;
  }

  /** What the planner sees of every agent: its runner's state and the hash it was launched with. */
  function observed(): Record<string, ObservedAgent> {
    const out: Record<string, ObservedAgent> = {};
    for (const [address, agent] of agents) out[address] = { state: agent.status().state, ...(agent.appliedHash ? { appliedHash: agent.appliedHash } : {}) };
    return out;
  }

  /** The plan that brings the fleet to `target`, against `reg` (default: the registry now). */
  function planFor(target: Manifest, reg: Readonly<RegistryFile> = store.current()): { desired: DesiredAgent[]; actions: PlanAction[] } {
    const desired = desiredAgents(target, reg);
    const hashes: Record<string, string> = {};
    for (const d of desired) {
      const entry = ownEntry(reg.agents, d.address);
      if (!entry) continue;
      hashes[d.address] = effectiveAgent({ stateDir: target.stateDir, desired: d, port: entry.port, token: entry.token, blockSize: target.ports.blockSize, parentEnv: deps.parentEnv }).hash;
    }
    return { desired, actions: planReconcile({ desired, registry: reg, observed: observed(), hashes }) };
  }

  /**
   * Gives `desired` a port block and token (once); busy blocks skipped are logged and returned. Call inside `membership`.
   * Options: `spec` of an agent added by `fleetctl add agent`; `durable` false: the entry is in memory at once and on
   * disk with the next registry write (the caller flushes); `taken` and `probe`: a plan's set of taken blocks and its
   * port probe (probeAhead), for many allocations in a row; `batch`: the new entry goes there, for the caller to
   * record with the plan's others in one change (it must, before anything reads the entry).
   */
  async function allocate(
    desired: DesiredAgent,
    target: Manifest,
    options: { spec?: CliAgentSpec; durable?: boolean; taken?: Set<number>; probe?: PortProbe; batch?: Map<string, RegistryEntry> } = {},
  ): Promise<number[]> {
    const { spec, durable = true, taken, probe = portProbe, batch } = options;
    // ensureEntry edits its draft: it gets a copy of this agent's entry, or (a new agent) the
    // entries to take the used blocks from, shared, and adds the new one to its own object. A
    // deep copy of the whole registry per agent made a first start of N agents O(N^2): ~90 ms of
    // fleetd's thread at N = 200 (CPU profile, issue 14). A plan allocating many passes the set
    // of taken blocks it keeps: then the draft holds nothing but what ensureEntry adds (copying
    // the entries and collecting their blocks for each new agent was ~35 ms of a first start).
    const own = store.entry(desired.address);
    const draft: RegistryFile = { version: 1, agents: own ? { [desired.address]: structuredClone(own) } : taken ? {} : store.agentsCopy() };
    const ensured = await ensureEntry(draft, desired, {
      ports: target.ports,
      now: () => new Date(deps.now()),
      isPortFree: probe,
      ...(spec ? { spec } : {}),
      ...(taken && !own ? { taken } : {}),
    });
    if (ensured.created && batch) {
      batch.set(desired.address, ensured.entry);
    } else if (ensured.created) {
      const put = (r: RegistryFile) => void (r.agents[desired.address] = ensured.entry);
      if (durable) await store.update(put);
      else store.record(put);
    }
    for (const skip of ensured.skipped) log.warn({ agent: desired.address, port: skip.port, block: skip.block }, 'port block skipped: its gateway port is in use by another process');
    return ensured.skipped.map((s) => s.port);
  }

  /** Stops an agent, then frees its block and forgets it (the home stays on disk). */
  async function removeAgent(agent: Agent, reason: string): Promise<void> {
    await agent.stopPlanned(reason);
    try {
      agent.isolation?.cgroup?.remove();
    } catch (err) {
      log.warn({ agent: agent.address, err: (err as Error).message }, 'the removed agent\'s cgroup could not be removed');
    }
    agents.delete(agent.address);
    unread.delete(agent);
    await freeEntry(agent.address, reason);
  }

  /** Forgets an agent's registry entry: its port block, token and record (the home stays on disk). */
  async function freeEntry(address: string, reason: string): Promise<void> {
    await store.update((r) => {
      delete r.agents[address];
    });
    log.info({ agent: address, reason }, 'port block freed');
  }

  // New agents' blocks and tokens are allocated first, all of them, and reach the disk in
  // ONE registry write before any launch uses them (it was one fsynced write per new agent,
  // in a row: ~3 s of a first start of 200 agents).
  /** Carries out a plan: allocations first (one registry write), then starts, restarts and reconfigures (in the background), stops and removals (awaited, in parallel). */
  async function apply(target: Manifest, desired: DesiredAgent[], actions: PlanAction[]): Promise<{ skippedPorts: number[]; reconfigured: Promise<ReconfigureOutcome[]> }> {
    manifest = target;
    pool.resize(target.startConcurrency);
    for (const d of desired) adopt(d); // every declared agent has an Agent, so status lists it
    const skippedPorts: number[] = [];
    const stops: Promise<void>[] = [];
    const reconfigures: Promise<ReconfigureOutcome>[] = [];
    const byAddress = new Map(desired.map((d) => [d.address, d]));
    const provisions = actions.filter((a) => a.kind === 'provision');
    // A start's reason is in the runner's first line for the agent ("new agent; preparing the
    // launch"), and so is a provision's when the agent starts: those two 'planned' lines per
    // agent (400 of the ~800 lines of a first start at N = 200, with their redaction pass) go
    // to debug, and one line counts the plan. Restarts, reconfigures, stops and removals, and
    // the provision of an agent that does not start, keep their own line.
    const starting = new Set(actions.filter((a) => a.kind === 'start').map((a) => a.address));
    const quiet = (action: PlanAction) => action.kind === 'start' || (action.kind === 'provision' && starting.has(action.address));
    const planned = (action: PlanAction) => (quiet(action) ? log.debug : log.info).call(log, { agent: action.address, action: action.kind, reason: action.reason }, 'planned');
    if (actions.some(quiet)) {
      const counts = countKinds(actions);
      log.info({ actions: counts }, `planned: ${Object.entries(counts).map(([kind, n]) => `${n} ${kind}`).join(', ')}`);
    }
    const taken = takenBlocks(Object.values(store.current().agents));
    // The ports of the blocks the new agents will most likely get are probed at once, not one
    // after the other as each allocation asks (a probe binds the port on every local address:
    // ~0.6 ms of awaited turns each, ~130 ms before the first start at N = 200). An allocation
    // takes its port's answer from there, or probes then (a block passed over, an agent that
    // already had one).
    const fresh = provisions.filter((a) => agents.has(a.address) && !store.entry(a.address)).length;
    const probe = probeAhead(firstPorts(taken, target.ports, fresh), portProbe);
    // The new entries are recorded in one registry change: one each made the cross-entry check
    // of every entry per new agent (registry-draft.ts ruleScope), O(N^2) in a first start
    // (~12 ms of fleetd's thread at N = 200, CPU profile 2026-12-02).
    const batch = new Map<string, RegistryEntry>();
    const allocated: Agent[] = [];
    for (const action of provisions) {
      const agent = agents.get(action.address);
      if (!agent) continue;
      planned(action);
      try {
        skippedPorts.push(...(await allocate(byAddress.get(action.address)!, target, { durable: false, taken, probe, batch })));
      } catch (err) {
        log.error({ agent: action.address, err: (err as Error).message }, 'no port block for this agent; the others go on');
        continue;
      }
      allocated.push(agent);
    }
    try {
      if (batch.size > 0) store.record((r) => void batch.forEach((entry, address) => (r.agents[address] = entry)));
    } catch {
      // one of them is refused (INTERNAL: a bug): the others are recorded, it is named
      for (const [address, entry] of batch) {
        try {
          store.record((r) => void (r.agents[address] = entry));
        } catch (err) {
          log.error({ agent: address, err: (err as Error).message }, 'the registry refused this agent\'s new entry (a bug: please report it); the others go on');
        }
      }
    }
    // an agent whose entry was refused has none: nothing to provision
    for (const agent of allocated) if (store.entry(agent.address) && !agent.desired.enabled) await agent.provisionOnly();
    if (provisions.length > 0) {
      await store.flush().catch((err: unknown) => log.error({ err: (err as Error).message }, 'registry.json lags behind the new port blocks and tokens; they are kept in memory and written by the next retry'));
    }
    for (const action of actions) {
      const agent = agents.get(action.address);
      if (action.kind === 'provision') continue;
      if (!agent) {
        // An agent removed from the manifest while fleetd was away has no Agent here (nothing
        // of it runs: live restore stopped its gateway); its registry entry is all there is to
        // free. It was skipped, and kept its block and token for good.
        if (action.kind === 'free') {
          planned(action);
          stops.push(freeEntry(action.address, action.reason));
        }
        continue;
      }
      planned(action);
      switch (action.kind) {
        case 'start':
          await agent.startPlanned(action.reason);
          break;
        case 'restart':
          await agent.restartPlanned(action.reason);
          break;
        case 'reconfigure':
          reconfigures.push(
            agent
              .reconfigurePlanned(action.reason)
              .catch((err: unknown): ReconfigureOutcome => {
                log.error({ agent: action.address, err: (err as Error).message }, 'reconfigure failed unexpectedly');
                return { address: action.address, result: 'skipped', reason: `internal error: ${(err as Error).message}`, pid: null, durationMs: 0 };
              })
              .then((outcome) => {
                deps.onReconfigured?.(outcome);
                return outcome;
              }),
          );
          break;
        case 'stop':
          stops.push(agent.stopPlanned(action.reason));
          break;
        case 'free':
          stops.push(removeAgent(agent, action.reason));
          break;
      }
    }
    // Agents not relaunched get the manifest's new timings at once, without a restart.
    const relaunched = new Set(actions.filter((a) => a.kind !== 'reconfigure').map((a) => a.address));
    for (const agent of agents.values()) if (!relaunched.has(agent.address)) agent.refreshTimings();
    await Promise.all(stops);
    return { skippedPorts, reconfigured: Promise.all(reconfigures) };
  }

  // Hooks tokens first: a token made, rotated or dropped changes the callee's openclaw.json,
  // so the same plan restarts exactly those agents. A dry run plans on a copy.
  /** The body of reconcile, for callers already inside the membership section. */
  async function reconcileHeld(target: Manifest, options: { dryRun?: boolean } = {}): Promise<ReconcileResult> {
    if (options.dryRun) {
      const draft = structuredClone(store.current());
      alignHooksTokens(draft, target);
      return { actions: planFor(target, draft).actions, skippedPorts: [], reconfigured: Promise.resolve([]) };
    }
    await store.update((r) => void alignHooksTokens(r, target, log));
    const { desired, actions } = planFor(target);
    const { skippedPorts, reconfigured } = await apply(target, desired, actions);
    await writeFederationFiles(target, store.current(), log);
    return { actions, skippedPorts, reconfigured };
  }

  /** Plans against `target` and, unless dry, applies it, then writes the federation files. */
  function reconcile(target: Manifest, options: { dryRun?: boolean } = {}): Promise<ReconcileResult> {
    return membership.run(() => reconcileHeld(target, options));
  }

  // Each agent's usage (/proc tree, cgroup), refreshed off the request path while status is
  // asked for (status-readings.ts); views rebuilt only for agents that changed (views.ts).
  // one subject per agent, kept (status calls pass every agent's to readings.fill)
  const subjects = new WeakMap<Agent, ReadingSubject>();
  const subjectOf = (agent: Agent): ReadingSubject => {
    let subject = subjects.get(agent);
    if (!subject) {
      subject = {
        address: agent.address,
        current: () => {
          const status = agent.status();
          return { key: stateKey(status), pid: status.pid, cgroup: agent.isolation?.cgroup };
        },
      };
      subjects.set(agent, subject);
    }
    return subject;
  };
  const readings = createStatusReadings({
    subjects: () => [...agents.values()].map(subjectOf),
    treeReader: deps.treeReader,
    ...(deps.readingTimings ? { timings: deps.readingTimings } : {}),
    // nobody asks for status any more: the views and their texts go with the readings
    onIdle: () => {
      memo = createViewMemo();
    },
  });
  let memo = createViewMemo();

  /** Status of every agent (or of one), from the readings there are (an agent without a recent one in its state: null figures). */
  function views(address?: string): AgentView[] {
    const one = address === undefined ? undefined : agents.get(address as AgentAddress);
    const chosen = address === undefined ? [...agents.values()] : one ? [one] : [];
    readings.asked();
    return agentViews(chosen, viewsContext());
  }

  function viewsContext() {
    return { stateDir: manifest.stateDir, now: deps.now(), readings, memo, ...(deps.isolation ? { isolation: deps.isolation } : {}) };
  }

  // An agent whose state changed since its last reading (a start, an exit, a stop: its state,
  // since or pid, which the runner announces with a `state` event) has no figures to show
  // until one is taken: the status request reads such agents itself, a slice at most
  // (readings.fill). It asked every agent whether its state changed, on every request: at
  // N = 200 that was 200 statuses and state keys per poll (~0.7 ms of fleetd's thread at 2 ms
  // polls) for the one agent that restarted. Only the agents that announced a change are asked
  // now; those beyond the slice stay for the next request. A change that came without an
  // event would only show no figures until the next refresh (a reading is shown only in
  // the state it was taken in), never the previous run's.
  /** Waits until the readings are fresh (after a quiet spell: one refresh, read a slice per turn) and agents whose state changed since are read (one slice at most). */
  async function readyForStatus(address?: string): Promise<void> {
    await readings.fresh();
    if (address !== undefined) {
      const one = agents.get(address as AgentAddress);
      if (one) await readings.fill([subjectOf(one)]);
      return;
    }
    if (unread.size === 0) return;
    const changed = [...unread];
    await readings.fill(changed.map(subjectOf));
    for (const agent of changed) if (readings.shown(agent.address, stateKey(agent.status())) !== undefined) unread.delete(agent);
  }

  /** views(), once ready for status (readyForStatus). */
  async function statusViews(address?: string): Promise<AgentView[]> {
    await readyForStatus(address);
    return views(address);
  }

  /** Every agent's view as a JSON array, redacted with `secrets` (views.ts agentViewsJson): what views() gives, serialized; call after readyForStatus. */
  function viewsJson(secrets: SecretMatcher): string {
    readings.asked();
    return agentViewsJson([...agents.values()], viewsContext(), secrets);
  }

  /** The view of one agent. */
  function view(address: string): AgentView {
    agentOf(address);
    return views(address)[0]!;
  }

  return {
    /** The manifest applied now. */
    get manifest(): Manifest {
      return manifest;
    },
    /** The registry as it is in memory now (read-only). */
    registry: (): Readonly<RegistryFile> => store.current(),
    /** The agents' addresses, sorted. */
    addresses: (): AgentAddress[] => [...agents.keys()].sort(),
    views,
    statusViews,
    readyForStatus,
    viewsJson,
    view,
    /** Every agent's state, unsorted: its runner's alone (no /proc, no cgroup read; the systemd status line). */
    states: (): AgentState[] => [...agents.values()].map((a) => a.status().state),
    /** How many agents have a gateway process now (their runners' pids; no view is built): what a restart leaves running or a stop ends. */
    gateways: (): number => [...agents.values()].filter((a) => a.status().pid !== null).length,
    reconcile,

    /** Reads the registry (start-up); ports follow the manifest's `ports` if base/blockSize changed while fleetd was down. */
    async load(): Promise<RegistryFile> {
      const reg = await store.load();
      const moved = Object.values(reg.agents).filter((e) => e.port !== portOfBlock(e.block, manifest.ports));
      if (moved.length > 0) {
        await store.update((r) => {
          for (const e of Object.values(r.agents)) e.port = portOfBlock(e.block, manifest.ports);
        });
        log.warn({ agents: moved.map((e) => `${e.fleet}/${e.agent}`) }, 'ports moved with the manifest ports section');
      }
      return store.current();
    },

    /**
     * Re-reads the manifest with `read` and applies it, both inside the membership section (so
     * whatever the read schedules behind itself, a rollout's activation, runs after the plan
     * was applied); REFUSED (nothing changed) when it changes what only a fleetd restart can.
     */
    reload(read: () => Promise<Manifest>, options: { dryRun?: boolean } = {}): Promise<ReconcileResult> {
      return membership.run(async () => {
        const next = await read();
        const refused = unreloadableChange(manifest, next);
        if (refused) throw new FleetError('REFUSED', `${refused}. Nothing was changed`);
        return reconcileHeld(next, options);
      });
    },

    /** Adds, provisions and (unless start is false) starts an agent outside the manifest; it persists in the registry. */
    async add(request: AddRequest): Promise<{ agent: AgentView; actions: PlanAction[]; skippedPorts: number[] }> {
      // Allocation inside the membership section; the boot outside it, so a reload or
      // another add does not wait for this gateway to come up.
      const { agent, skippedPorts } = await membership.run(async () => {
        const address = toAddress(request.fleet, request.agent);
        if (Object.hasOwn(manifest.fleets, request.fleet) && Object.hasOwn(manifest.fleets[request.fleet]!.agents, request.agent)) {
          throw new FleetError('CONFLICT', `${address} is declared in the manifest ${manifest.manifestPath}; change it there and run \`fleetctl reload\``);
        }
        const existing = ownEntry(store.current().agents, address);
        if (existing) throw new FleetError('CONFLICT', `${address} already exists (added ${existing.createdAt}); \`fleetctl remove agent ${address}\` first to replace it`);
        const problems = checkAddedAgent(manifest.ports, request.fleet, request.agent, request.config, request.env);
        if (problems.length > 0) throw new FleetError('BAD_REQUEST', `cannot add ${address}:\n${problems.join('\n')}`, { details: { problems } });
        const stub: DesiredAgent = { address, fleet: request.fleet, agent: request.agent, source: 'cli', enabled: true, config: {}, env: {}, launch: launchOf(manifest, request.fleet, request.agent) };
        const skippedPorts = await allocate(stub, manifest, { spec: { config: request.config, env: request.env } });
        if (!request.start) {
          await store.update((r) => {
            r.agents[address]!.desired = 'stopped';
          });
        }
        const desired = desiredAgents(manifest, store.current()).find((d) => d.address === address)!;
        const added = adopt(desired);
        log.info({ agent: address, port: added.entry?.port, skippedPorts }, 'agent added');
        return { agent: added, skippedPorts };
      });
      const actions: PlanAction[] = [{ kind: 'provision', address: agent.address, reason: 'added with fleetctl' }];
      if (request.start) {
        actions.push({ kind: 'start', address: agent.address, reason: 'added with fleetctl' });
        await agent.start({ wait: true, reason: 'added with fleetctl' });
      } else {
        await agent.provisionOnly();
      }
      return { agent: view(agent.address), actions, skippedPorts };
    },

    /** Removes an agent added with fleetctl (manifest agents are refused); with purge, deletes its home after containment checks. */
    remove(fleet: string, agentId: string, options: { purge: boolean }): Promise<{ address: string; purged: boolean; home: string; freedPort: number | null }> {
      return membership.run(async () => {
        const address = toAddress(fleet, agentId);
        if (Object.hasOwn(manifest.fleets, fleet) && Object.hasOwn(manifest.fleets[fleet]!.agents, agentId)) {
          throw new FleetError('REFUSED', `${address} is declared in the manifest ${manifest.manifestPath}; remove it from there and run \`fleetctl reload\` (its home is kept)`);
        }
        const home = agentPaths(manifest.stateDir, fleet, agentId).home;
        const entry = ownEntry(store.current().agents, address);
        const agent = agents.get(address);
        if (!entry || !agent) {
          // A home kept by an earlier remove (without --purge) can still be purged.
          const leftover = options.purge ? await checkPurgeTarget(manifest.stateDir, fleet, agentId) : undefined;
          if (!leftover) throw unknownTarget(address, agents.keys(), options.purge ? ' and no home of it' : '');
          await purgeHome(manifest.stateDir, fleet, agentId);
          log.info({ agent: address }, 'leftover home purged');
          return { address, purged: true, home, freedPort: null };
        }
        // Checked before stopping anything, so a refused purge leaves the agent as it was.
        if (options.purge) await checkPurgeTarget(manifest.stateDir, fleet, agentId);
        await removeAgent(agent, 'removed with fleetctl');
        if (options.purge) await purgeHome(manifest.stateDir, fleet, agentId);
        log.info({ agent: address, port: entry.port, purged: options.purge }, 'agent removed');
        return { address, purged: options.purge, home, freedPort: entry.port };
      });
    },

    /** Operator start of one agent; with wait, resolves once it is running (AGENT_FAILED otherwise). */
    async start(address: string, options: LaunchOptions = {}): Promise<AgentView> {
      const agent = agentOf(address);
      const status = await agent.start(options);
      if (options.wait !== false) expectRunning(address, status.state, view(address));
      return view(address);
    },

    /** Operator restart of one agent; with wait, resolves once it is running again (AGENT_FAILED otherwise). */
    async restart(address: string, options: LaunchOptions = {}): Promise<AgentView> {
      const agent = agentOf(address);
      const status = await agent.restart(options);
      if (options.wait !== false) expectRunning(address, status.state, view(address));
      return view(address);
    },

    /** Operator stop of one agent: at once, whatever other agents are doing. */
    async stop(address: string, options: StopOptions = {}): Promise<AgentView> {
      await agentOf(address).stop(options);
      log.info({ agent: address }, 'agent stopped by the operator');
      return view(address);
    },

    /** Rolling restart of one fleet, one agent at a time, each running before the next; reports each step. */
    rollingRestart(fleet: string, options: { timeoutMs?: number }, onProgress: (p: RollingProgress) => void = () => {}): Promise<RollingResult> {
      const members = membersOf(fleet);
      return runRollingRestart(fleet, members, { ...options, isMember: (a) => agents.get(a.address) === a, view }, onProgress, log);
    },

    // stopMany, startMany (daemon/bulk-ops.ts): inside the membership section
    ...bulkCommands({ membersOf, exclusive: membership.run, log }),

    /** fleetd's environment as gateways see it (PATH cleaned; $CREDENTIALS_DIRECTORY for secret references). */
    parentEnv: deps.parentEnv,

    /** What is declared and recorded for one agent (read-only): NOT_FOUND for an unknown one. */
    describe(address: string): { desired: DesiredAgent; entry: Readonly<RegistryEntry> | undefined } {
      const agent = agentOf(address);
      return { desired: agent.desired, entry: agent.entry };
    },

    /** True unless the agent is stopped or failed with no process (a restore, a backup's copy mode, ask this). */
    isActive(address: string): boolean {
      const status = agentOf(address).status();
      return status.pid !== null || (status.state !== 'stopped' && status.state !== 'failed');
    },

    /**
     * Replaces an agent's state from a verified backup: in the membership section, refuses an
     * active agent (CONFLICT), adds an unknown one as a CLI agent with the archived spec and a
     * free port block (stopped), runs `install` (swap the home in), records the token and the
     * operator's wish, and provisions openclaw.json with the current port and token. The
     * caller starts it afterwards. Returns whether the agent was created.
     */
    restoreAgent(request: RestoreRequest): Promise<{ created: boolean }> {
      return membership.run(async () => {
        const address = toAddress(request.fleet, request.agent);
        let agent = agents.get(address);
        let created = false;
        if (agent) {
          if (this.isActive(address)) throw new FleetError('CONFLICT', `${address} is ${agent.status().state}; a restore replaces its home, so stop it first: \`fleetctl stop agent ${address}\``);
        } else {
          if (Object.hasOwn(manifest.fleets, request.fleet) && Object.hasOwn(manifest.fleets[request.fleet]!.agents, request.agent)) {
            throw new FleetError('CONFLICT', `${address} is declared in the manifest but not set up yet; try again once \`fleetctl status\` lists it`);
          }
          const problems = checkAddedAgent(manifest.ports, request.fleet, request.agent, request.spec.config, request.spec.env);
          if (problems.length > 0) throw new FleetError('BAD_REQUEST', `the archived agent cannot be added under this manifest:\n${problems.join('\n')}`, { details: { problems } });
          const stub: DesiredAgent = { address, fleet: request.fleet, agent: request.agent, source: 'cli', enabled: true, config: {}, env: {}, launch: launchOf(manifest, request.fleet, request.agent) };
          await allocate(stub, manifest, { spec: request.spec });
          await store.update((r) => void (r.agents[address]!.desired = 'stopped'));
          agent = adopt(desiredAgents(manifest, store.current()).find((d) => d.address === address)!);
          created = true;
        }
        await request.install();
        await store.update((r) => {
          const entry = ownEntry(r.agents, address);
          if (!entry) return;
          entry.token = request.token;
          entry.desired = request.start ? 'running' : 'stopped';
        });
        await agent.provisionOnly();
        return { created };
      });
    },

    /**
     * The launch hash an agent would have now (config + env + launch under the current
     * manifest), or undefined when it should not run: not declared, disabled, stopped by the
     * operator, or without a port block. Live restore adopts a leftover gateway only when its
     * recorded hash is this one.
     */
    wantedHash(address: string, target: Manifest = manifest): string | undefined {
      const reg = store.current();
      const entry = ownEntry(reg.agents, address);
      const desired = desiredAgents(target, reg).find((d) => d.address === address);
      if (!entry || !desired || !desired.enabled || entry.desired !== 'running') return undefined;
      return effectiveAgent({ stateDir: target.stateDir, desired, port: entry.port, token: entry.token, hooksToken: entry.hooksToken, blockSize: target.ports.blockSize, parentEnv: deps.parentEnv }).hash;
    },

    /** Live restore: takes over a running gateway a previous fleetd left (see Agent.adoptRunning); false when the agent is not declared. */
    async adoptRunning(address: string, proc: GatewayProcess, record: RecordedProcess, why: string, target: Manifest = manifest): Promise<boolean> {
      const desired = desiredAgents(target, store.current()).find((d) => d.address === address);
      if (!desired) return false;
      return adopt(desired).adoptRunning(proc, record, why);
    },

    /** Live restore of a gateway that ended while fleetd was away (see Agent.adoptExited; `wanted`: the agent is wanted running, so the restart policy applies). */
    async adoptExited(address: string, exit: GatewayExit & { at: number }, record: RecordedProcess, output: string | undefined, wanted: boolean, target: Manifest = manifest): Promise<void> {
      const desired = desiredAgents(target, store.current()).find((d) => d.address === address);
      if (desired) await adopt(desired).adoptExited(exit, record, output, wanted);
    },

    /** Lets every gateway run on for the next fleetd to adopt (fleetd restarts); the registry keeps their records. */
    async detachAll(): Promise<void> {
      shuttingDown = true;
      await Promise.allSettled([...agents.values()].map((agent) => agent.detach()));
      await store.flush().catch((err: unknown) => log.error({ err: (err as Error).message }, 'the registry could not be written before fleetd left'));
    },

    /** The hooks token of an agent (the one command that shows it); NOT_FOUND when nobody calls it. */
    hooksToken(address: string): string {
      const entry = agentOf(address).entry;
      if (!entry?.hooksToken) {
        throw new FleetError('NOT_FOUND', `${address} has no hooks token: no agent calls it. List it in another agent's "calls" in the manifest and run \`fleetctl reload\``);
      }
      return entry.hooksToken;
    },

    /** The federation as `fleetctl federation` shows it: who may call whom, knowledge, mailbox backlogs (no tokens). */
    federation: () => federationView(manifest, store.current()),

    /** The gateway token of an agent (the one command that shows it). */
    token(address: string): string {
      const entry = agentOf(address).entry;
      if (!entry) throw new FleetError('NOT_FOUND', `${address} has no token yet (no port block); \`fleetctl status\` shows why`);
      return entry.token;
    },

    /** The captured-output log file of an agent. */
    logFileOf(address: string): string {
      const agent = agentOf(address);
      return agentPaths(manifest.stateDir, agent.desired.fleet, agent.desired.agent).logFile;
    },

    /** Runtime keys (version, or version+node) the agents are pinned to, with the agents that use each. */
    runtimeUsage(): Map<string, string[]> {
      const used = new Map<string, string[]>();
      for (const agent of agents.values()) {
        if (agent.desired.launch.kind !== 'openclaw') continue;
        const key = launchRuntimeKey(agent.desired.launch);
        const list = used.get(key) ?? [];
        list.push(agent.address);
        used.set(key, list);
      }
      return used;
    },

    /**
     * Runs `job` while no add, remove or reload changes which agents exist (runtime removal
     * checks who uses a version; a rollout's stop-snapshot-start); with `address`, also inside
     * that agent's own exclusive section (no reconfigure or rolling-restart turn of it overlaps).
     */
    exclusive<T>(job: () => Promise<T>, address?: string): Promise<T> {
      return membership.run(() => {
        const agent = address === undefined ? undefined : agents.get(address as AgentAddress);
        return agent ? agent.exclusive(job) : job();
      });
    },

    /** reconcile() for a caller already inside exclusive() (a rollout applying its next launch); calling it elsewhere races other changes. */
    reconcileInside: reconcileHeld,

    /** Stops an agent's gateway for fleetd's own purposes (a rollout's snapshot): the operator's wish stays `running`, so the next plan starts it again. */
    async stopForRollout(address: string, reason: string): Promise<void> {
      await agentOf(address).stopPlanned(reason);
    },

    /** Start slots in use and launches waiting for one. */
    startLoad: () => pool.load(),

    /** Stops every gateway in parallel, each within its stop timeout; pending launches are cancelled; the registry is flushed. */
    async shutdown(): Promise<void> {
      shuttingDown = true;
      readings.close();
      await Promise.allSettled([...agents.values()].map((agent) => agent.stopPlanned('fleetd is shutting down')));
      await store.flush().catch((err: unknown) => log.error({ err: (err as Error).message }, 'the registry could not be written at shutdown'));
    },
    isShuttingDown: () => shuttingDown,
    ...(deps.isolation ? { isolation: deps.isolation } : {}),
  };
}

/** Throws AGENT_FAILED unless the launch ended with the agent running. */
function expectRunning(address: string, state: string, view: AgentView): void {
  if (state === 'running') return;
  throw new FleetError('AGENT_FAILED', `${address} did not come back: ${view.state}, ${view.reason}. See \`fleetctl logs ${address}\``, { details: { agent: view } });
}

/** The object createFleet returns: the command API. */
export type Fleet = ReturnType<typeof createFleet>;

/** How many actions of each kind a plan has, in order of first appearance ({ provision: 200, start: 200 }). */
function countKinds(actions: readonly PlanAction[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const action of actions) counts[action.kind] = (counts[action.kind] ?? 0) + 1;
  return counts;
}

/** The gateway ports of the first `count` free blocks, lowest first. */
function firstPorts(taken: ReadonlySet<number>, ports: PortsConfig, count: number): number[] {
  const out: number[] = [];
  if (count <= 0) return out;
  for (const block of candidateBlocks(taken, ports)) {
    out.push(portOfBlock(block, ports));
    if (out.length >= count) break;
  }
  return out;
}

/** A PortProbe that answers `ports` from probes started now, all at once (each answer used once), and probes any other port when asked. */
function probeAhead(ports: readonly number[], probe: PortProbe): PortProbe {
  const started = new Map(ports.map((port) => [port, probe(port)]));
  // a probe that rejects before it is asked for must not be an unhandled rejection
  for (const answer of started.values()) answer.catch(() => undefined);
  return (port) => {
    const answer = started.get(port);
    if (answer === undefined) return probe(port);
    started.delete(port);
    return answer;
  };
}
