// The upgrade controller of one fleetd: owns the upgrade state (pins of `fleetctl upgrade`,
// the rollout), turns every manifest the daemon reads into the one it applies (effective),
// starts a rollout when that manifest changes the runtime of running agents, runs it with
// the executor, recovers it after a fleetd restart, and answers `upgrade` and `upgrade
// status`. Everything it does to the fleet goes through UpgradePort (fleet-port.ts wires
// it to today's Fleet), so the controller itself needs no daemon internals.
import { randomBytes } from 'node:crypto';
import { FleetError } from '../errors.js';
import { parseAddress } from '../manifest/ids.js';
import type { Manifest } from '../manifest/schema.js';
import { commandAgentsSwitched, filePinAt, planLaunches, type CurrentLaunch } from '../plan/launch-overlay.js';
import { isActive, planRollout, recoverRollout, rolloutProgress } from '../plan/rollout.js';
import { unknownTarget } from '../plan/unknown-address.js';
import { nameList } from '../util/name-list.js';
import type { RegistryFile } from '../plan/types.js';
import type { Hold, PinOverride, RolloutRecord, UpgradeState } from '../protocol/rollout.js';
import { runRollout, type RolloutDeps, type RolloutProgress } from './executor.js';
import { archiveRollout, type UpgradeStore } from './store.js';

/** What the controller needs of the daemon. */
export interface UpgradePort extends Omit<RolloutDeps, 'exclusive' | 'start' | 'save' | 'now' | 'onProgress'> {
  /** The newest complete snapshot of the agent whose state `runtimeKey` wrote; null when none is kept. */
  findSnapshot(address: string, runtimeKey: string): Promise<string | null>;
  /** What each agent runs now, and whether it is alive and wanted running. */
  currentLaunches(): Map<string, CurrentLaunch>;
  registry(): RegistryFile;
  /** The manifest the fleet applies now (compared by identity after a reconcile). */
  appliedManifest(): Manifest;
  /** Applies a manifest (reconcile); only call from inside `serial`. */
  apply(manifest: Manifest): Promise<void>;
  /** Runs `fn` in the fleet's serial queue (no other change interleaves); with `address`, also in that agent's exclusive section. */
  serial<T>(fn: () => Promise<T>, address?: string): Promise<T>;
}

/** A logger shape (pino's). */
interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** `fleetctl upgrade FLEET[/AGENT] --to VERSION [--node V] [--dry-run]`. */
export interface UpgradeRequest {
  target: string;
  to: string;
  node?: string;
  dryRun: boolean;
  /** Give each agent back the state `to` left (its newest snapshot written by `to`): a rollback across a schema migration. */
  restore?: boolean;
}

/** The answer to an upgrade request: the rollout (planned or started) and how to make it permanent. */
export interface UpgradeAnswer {
  rollout: RolloutRecord;
  dryRun: boolean;
  persist: string;
}

/** Options of createUpgradeController. */
export interface ControllerOptions {
  store: UpgradeStore;
  port: UpgradePort;
  logger: Log;
  now?: () => number;
  /** Rollout ids (default: time + random). */
  newId?: () => string;
}

/** Creates the controller; call `init()` before the fleet's first reconcile. */
export function createUpgradeController(o: ControllerOptions) {
  const { store, port, logger } = o;
  const now = o.now ?? Date.now;
  const newId = o.newId ?? (() => `${new Date(now()).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(2).toString('hex')}`);
  let state: UpgradeState = { schema: 1, overrides: [], held: [], rollout: null, history: [] };
  let lastFile: Manifest | undefined;
  let pending: { manifest: Manifest; record: RolloutRecord } | undefined;
  let running: Promise<RolloutRecord> | undefined;
  let halted = false;
  let restoring: Array<{ address: string; snapshot: string }> = [];
  const listeners = new Set<(p: RolloutProgress) => void>();

  const emit = (p: RolloutProgress) => {
    for (const listener of listeners) listener(p);
  };
  const persist = () => store.save(state).catch((err: Error) => logger.error({ err: err.message, file: store.path }, 'cannot save the upgrade state'));

  /** The manifest to apply for `file` (rules in plan/launch-overlay.ts); REFUSED when it fights the active rollout. */
  function effective(file: Manifest, source: RolloutRecord['source'] = 'reload', scope = 'manifest'): Manifest {
    const result = planLaunches({ file, registry: port.registry(), overrides: state.overrides, rollout: state.rollout, holds: state.held, current: port.currentLaunches() });
    if (result.conflicts.length > 0 && isActive(state.rollout)) {
      const list = result.conflicts.map((c) => `${c.address} (rollout: ${c.rolloutTo}, manifest: ${c.wanted})`).join(', ');
      throw new FleetError('REFUSED', `rollout ${state.rollout!.id} is moving ${list}; wait for it to finish (fleetctl upgrade status), then reload. Nothing was changed`);
    }
    lastFile = file;
    if (result.dropped.length > 0 || result.released.length > 0) {
      for (const d of result.dropped) logger.info({ scope: d.override.scope, pin: d.override.openclaw }, `fleetctl upgrade pin dropped: ${d.why}`);
      for (const h of result.released) logger.info({ agent: h.address, held: h.from, failed: h.to }, 'hold released: another runtime is wanted for the agent now');
      state = { ...state, overrides: result.kept, held: result.held };
      void persist();
    }
    if (!isActive(state.rollout) && result.candidates.some((c) => c.running)) {
      const record = planRollout({ id: newId(), source, scope, candidates: result.candidates, settingsOf: (fleet) => settingsOf(file, fleet), now: now() });
      pending = { manifest: result.manifest, record };
      // runs right after the job that asked for this manifest: starts the rollout only if that job applied it
      void port.serial(async () => activateIfApplied()).catch(() => {});
    }
    return result.manifest;
  }

  /** Starts the pending rollout when the fleet applied its manifest (not a dry run, not refused). */
  async function activateIfApplied(): Promise<void> {
    const p = pending;
    pending = undefined;
    if (!p || port.appliedManifest() !== p.manifest || isActive(state.rollout)) return;
    if (state.rollout) state = archiveRollout(state, state.rollout);
    state = { ...state, rollout: p.record };
    await persist();
    logger.info({ rollout: p.record.id, agents: p.record.agents.map((a) => `${a.address} ${a.from}->${a.to}${a.phase === 'passive' ? ' (not running)' : ''}`) }, 'rollout planned');
    start(p.record);
  }

  /** Runs (or resumes) the active rollout in the background. */
  function start(record: RolloutRecord): void {
    // after halt() every step stays pending forever: the rollout freezes at its last saved
    // step, exactly as if fleetd had been killed there, and the next fleetd resumes it
    const frozen = <T>(fn: () => Promise<T>): Promise<T> => (halted ? new Promise<T>(() => {}) : fn());
    const deps: RolloutDeps = {
      installRuntime: (key, onProgress) => frozen(() => port.installRuntime(key, onProgress)),
      preflight: (address, target, fromSnapshot) => frozen(() => port.preflight(address, target, fromSnapshot)),
      isReady: (address) => frozen(() => port.isReady(address)),
      exclusive: (address, fn) => frozen(() => port.serial(fn, address)),
      stop: (address) => frozen(() => port.stop(address)),
      snapshot: (address, key) => frozen(() => port.snapshot(address, key)),
      restore: (address, id) => frozen(() => port.restore(address, id)),
      // called inside `exclusive`: the record already says which runtime the agent runs now
      start: () => frozen(() => port.apply(effective(lastFile ?? port.appliedManifest()))),
      waitReady: (address, w) => frozen(() => port.waitReady(address, w)),
      pruneSnapshots: port.pruneSnapshots ? (address, keep) => frozen(() => port.pruneSnapshots!(address, keep)) : undefined,
      save: (copy) => frozen(() => store.save({ ...state, rollout: copy })),
      now,
      onProgress: (p) => {
        (p.phase === 'failed' || p.phase === 'rolling-back' ? logger.warn : logger.info).call(logger, { rollout: record.id, agent: p.address ?? undefined, phase: p.phase }, p.message);
        emit(p);
      },
    };
    running = runRollout(record, deps).then(
      async (final) => {
        // a failed rollout holds its unfinished agents on their previous runtime; a success releases them
        const mine = new Set(final.agents.map((a) => a.address));
        const holds: Hold[] = final.state === 'failed' ? final.agents.filter((a) => a.phase !== 'done' && a.phase !== 'passive').map((a) => ({ address: a.address, from: a.from, to: a.to, rollout: final.id, since: now() })) : [];
        state = { ...state, held: [...state.held.filter((h) => !mine.has(h.address)), ...holds] };
        await persist();
        running = undefined;
        // agents waiting behind this rollout (other pins changed meanwhile), or held now: apply what is wanted
        if (lastFile) await port.serial(async () => port.apply(effective(lastFile!))).catch((err: Error) => logger.error({ err: err.message }, 'reconcile after the rollout failed'));
        return final;
      },
      (err: Error) => {
        running = undefined;
        logger.error({ rollout: record.id, err: err.message }, 'rollout stopped by an internal error; fleetd resumes it at its next start');
        return record;
      },
    );
  }

  /** The manifest's `upgrade` settings for a fleet (fleet keys over top-level ones); the way back gets at least the health start-up window. */
  function settingsOf(file: Manifest, fleet: string) {
    const own = file.fleets[fleet]?.upgrade;
    const readyTimeoutMs = own?.readyTimeoutMs ?? file.upgrade.readyTimeoutMs;
    return { maxParallel: own?.maxParallel ?? file.upgrade.maxParallel, readyTimeoutMs, backTimeoutMs: Math.max(readyTimeoutMs, file.health.startupTimeoutMs) };
  }

  return {
    /** Loads the state and applies the resume rule: restores snapshots of agents caught mid-upgrade. Call with every gateway stopped. */
    // Start-up, in this order: load() before anything decides what an agent should run (so
    // an agent caught mid-upgrade is wanted on its PREVIOUS runtime: a leftover gateway of the
    // new one is not adopted but stopped), then restoreCaught() once every such gateway is
    // stopped and before any start, then the first reconcile, then resume().
    /** Loads the state and applies the resume rule in memory (no side effect yet); returns what it decided. */
    async load(): Promise<string[]> {
      state = await store.load();
      if (!state.rollout) return [];
      const recovery = recoverRollout(state.rollout, now());
      state = { ...state, rollout: recovery.record };
      restoring = recovery.restore;
      for (const note of recovery.notes) logger.warn({ rollout: recovery.record.id }, note);
      return recovery.notes;
    },
    /** True when load() decided to put a snapshot back for this agent: its leftover gateway (of an unverified runtime) must be stopped, not adopted. */
    willRestore(address: string): boolean {
      return restoring.some((r) => r.address === address);
    },
    /** Restores the snapshots load() found necessary (their gateways must be stopped) and saves the recovered record. */
    async restoreCaught(): Promise<void> {
      for (const r of restoring) await port.restore(r.address, r.snapshot);
      restoring = [];
      if (state.rollout) await store.save(state);
    },
    /** load() then restoreCaught(): for a start-up where no leftover gateway is adopted (every one is stopped first). */
    async init(): Promise<string[]> {
      const notes = await this.load();
      await this.restoreCaught();
      return notes;
    },
    effective,
    /** Resumes an active rollout after the fleet's first reconcile (call once, after start-up). */
    resume(): void {
      if (isActive(state.rollout) && !running) start(state.rollout!);
    },
    /** `fleetctl upgrade`: pin without editing the file, then roll out (or only plan, dry). */
    async upgrade(req: UpgradeRequest): Promise<UpgradeAnswer> {
      return port.serial(async () => {
        const file = lastFile ?? port.appliedManifest();
        const address = parseAddress(req.target);
        const fleet = address ? address.fleet : req.target;
        const known = [...port.currentLaunches().keys()];
        const inScope = (a: string) => (address ? a === req.target : a.startsWith(`${fleet}/`));
        if (!known.some(inScope)) throw unknownTarget(req.target, known);
        if (isActive(state.rollout)) throw new FleetError('CONFLICT', `rollout ${state.rollout!.id} is in progress (${describeProgress(state.rollout!)}); wait for it (fleetctl upgrade status)`);
        const base = filePinAt(file, req.target) ?? { openclaw: null, node: null };
        const override: PinOverride = { scope: req.target, openclaw: req.to, ...(req.node ? { node: req.node } : {}), base, createdAt: now() };
        const overrides = [...state.overrides.filter((x) => x.scope !== req.target), override];
        // an explicit upgrade retries the agents of its scope that a failed rollout holds back
        const holds = state.held.filter((h) => !inScope(h.address));
        const result = planLaunches({ file, registry: port.registry(), overrides, rollout: state.rollout, holds, current: port.currentLaunches() });
        const fixed = commandAgentsSwitched(result.manifest, port.currentLaunches(), inScope);
        if (fixed.length > 0) throw new FleetError('REFUSED', notUpgradableText(file, req, fixed));
        const candidates = result.candidates.filter((c) => inScope(c.address));
        if (req.restore) {
          for (const c of candidates) {
            const id = await port.findSnapshot(c.address, c.to);
            if (!id) throw new FleetError('NOT_FOUND', `no snapshot of ${c.address} with the state ${c.to} left (fleetd keeps the last few, taken before each upgrade); upgrade without --restore`);
            c.restoreFrom = id;
          }
        }
        const record = planRollout({ id: newId(), source: 'upgrade', scope: req.target, candidates, settingsOf: (f) => settingsOf(file, f), now: now() });
        const persistHint = persistText(file, req);
        if (req.dryRun) return { rollout: record, dryRun: true, persist: persistHint };
        state = { ...state, overrides, held: holds };
        await persist();
        logger.info({ scope: req.target, to: req.to, node: req.node }, 'fleetctl upgrade: pin set');
        pending = { manifest: result.manifest, record };
        lastFile = file;
        await port.apply(result.manifest);
        if (record.agents.some((a) => a.phase === 'pending')) await activateIfApplied();
        else pending = undefined;
        return { rollout: record, dryRun: false, persist: persistHint };
      });
    },
    /** Waits for the rollout `id` to finish (for streaming answers); resolves at once when it is not running. */
    async settled(id: string): Promise<RolloutRecord | null> {
      if (running && state.rollout?.id === id) return running;
      return state.rollout?.id === id ? state.rollout : (state.history.find((r) => r.id === id) ?? null);
    },
    /** `fleetctl upgrade status`. */
    status(): { rollout: RolloutRecord | null; overrides: PinOverride[]; held: Hold[]; history: RolloutRecord[] } {
      return { rollout: state.rollout ? structuredClone(state.rollout) : null, overrides: [...state.overrides], held: [...state.held], history: state.history.slice(0, 5) };
    },
    /** Subscribes to rollout progress (events, streams); returns the unsubscribe function. */
    subscribe(listener: (p: RolloutProgress) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** fleetd is stopping: the rollout takes no further step (the next fleetd resumes it from its last saved step). */
    halt(): void {
      halted = true;
    },
    /** Resolves once no rollout runs (tests). */
    async idle(): Promise<void> {
      while (running) await running.catch(() => undefined);
    },
  };
}

/** The controller object. */
export type UpgradeController = ReturnType<typeof createUpgradeController>;

/** "2/5 agents done". */
export function describeProgress(record: RolloutRecord): string {
  const p = rolloutProgress(record);
  return `${p.done}/${p.total} agents done${p.inFlight ? `, ${p.inFlight} in progress` : ''}`;
}

/** Why agents running a fixed gateway.command are refused, and how to move them onto OpenClaw on purpose. */
function notUpgradableText(file: Manifest, req: UpgradeRequest, agents: readonly string[]): string {
  const address = parseAddress(req.target);
  const path = address ? `fleets.${address.fleet}.agents.${address.agent}.gateway.openclaw` : `fleets.${req.target}.gateway.openclaw`;
  return `not upgradable: ${nameList(agents)} run${agents.length === 1 ? 's' : ''} a fixed gateway.command, not an OpenClaw version (fleetctl upgrade moves agents between OpenClaw versions). To run OpenClaw ${req.to} instead, set ${path}: "${req.to}" in ${file.manifestPath} and run fleetctl reload (a restart, not a gated rollout). Nothing was changed`;
}

/** How to make a `fleetctl upgrade` pin permanent in the manifest. */
function persistText(file: Manifest, req: UpgradeRequest): string {
  const address = parseAddress(req.target);
  const path = address ? `fleets.${address.fleet}.agents.${address.agent}.gateway` : `fleets.${req.target}.gateway`;
  const node = req.node ? ` and ${path}.node: "${req.node}"` : '';
  return `to keep it, set ${path}.openclaw: "${req.to}"${node} in ${file.manifestPath} (fleetd then drops its own pin); until then it lasts across fleetd restarts and ends when that pin in the file is edited`;
}
