// fleetd start: lock the state dir, stop gateways a killed predecessor left behind, open
// the control socket, bring the fleet up, and serve until SIGTERM/SIGINT (stop everything,
// exit 0). SIGHUP reloads the manifest. A stop signal is honoured at every step of this,
// from the first instant (early-signals.ts): whatever was started is stopped again.
import { mkdir, chmod } from 'node:fs/promises';
import { loadManifest, type ManifestOverrides } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { ensureRuntime } from '../runtime/index.js';
import type { ProgressEvent, Runtime } from '../runtime/types.js';
import { stopMarkedProcesses, stopRecordedProcess } from '../supervise/orphans.js';
import { agentPaths } from '../provision/home.js';
import { listProcesses, treeRssBytes } from '../supervise/proc.js';
import { createRunner } from '../supervise/runner.js';
import { FleetError, toFleetError } from '../errors.js';
import { VERSION } from '../version.js';
import type { DaemonContext } from './context.js';
import { createFleet } from './fleet.js';
import { createHandlers } from './handlers/index.js';
import { reload } from './handlers/reload.js';
import { createControlServer } from './http-server.js';
import { catchSignalsEarly, type EarlySignals, type StopSignal } from './early-signals.js';
import { acquireStateLock, type StateLock } from './lock.js';
import { openLogOutput, type LogOutput } from './log-output.js';
import { createLogger, type Logger } from './logger.js';
import { openRegistry } from './registry.js';
import { closeSocket, listenOnSocket, type BoundSocket } from './socket.js';

/** Options of runDaemon. */
export interface RunOptions {
  logLevel?: string;
  pretty?: boolean;
  /** A logger to use instead of fleetd's own (tests); its lines are not counted in logDropped. */
  logger?: Logger;
  /** Where fleetd's own log lines go (default stdout, never blocking, drops counted). */
  logOutput?: LogOutput;
  /** The `--state-dir`/`--socket` given on the command line: the only overrides a reload re-applies. */
  overrides?: ManifestOverrides;
  /** Signals caught since the entry point started (default: caught from now on). */
  signals?: EarlySignals;
}

/** Installs each runtime version once per fleetd, however many agents wait for it. */
function createRuntimeCache(manifest: () => Manifest, log: Logger) {
  const inflight = new Map<string, Promise<Runtime>>();
  return (version: string, onProgress?: (e: ProgressEvent) => void): Promise<Runtime> => {
    const known = inflight.get(version);
    if (known && !onProgress) return known;
    const started = ensureRuntime({
      runtimesDir: manifest().runtimesDir,
      version,
      onProgress: (e) => {
        log.info({ runtime: version, phase: e.phase }, e.message);
        onProgress?.(e);
      },
    });
    inflight.set(version, started);
    // Shared only while in flight: afterwards ensureRuntime checks the disk itself (cheap), so
    // a pruned or removed version is installed again instead of being launched from nothing.
    void started.then(
      () => inflight.delete(version),
      () => inflight.delete(version),
    );
    return started;
  };
}

/** Runs fleetd until a stop signal; resolves with the process exit code. */
export async function runDaemon(manifest: Manifest, options: RunOptions = {}): Promise<number> {
  const signals = options.signals ?? catchSignalsEarly();
  // Until the fleet exists a stop signal is only remembered; every step below checks it.
  let stopSignal: StopSignal | undefined;
  let reloadAsked = false;
  let onStop: (signal: StopSignal) => void = (signal) => (stopSignal ??= signal);
  let onReload: () => void = () => (reloadAsked = true);
  signals.route({ stop: (signal) => onStop(signal), reload: () => onReload() });
  try {
    return await serve(manifest, options, {
      stopped: () => stopSignal,
      handle: (stop, reload) => {
        onStop = stop;
        onReload = reload;
        if (stopSignal) stop(stopSignal);
        else if (reloadAsked) reload(); // queued behind start-up, like any change
      },
    });
  } finally {
    if (!options.signals) signals.dispose();
  }
}

/** How serve() learns of stop signals: one received so far, and the handlers once it can act. */
interface SignalHandoff {
  stopped(): StopSignal | undefined;
  handle(stop: (signal: StopSignal) => void, reload: () => void): void;
}

/** The daemon proper: everything between the lock and the last gateway stopped. */
async function serve(manifest: Manifest, options: RunOptions, signals: SignalHandoff): Promise<number> {
  const output = options.logOutput ?? openLogOutput(process.stdout);
  let secrets: () => readonly string[] = () => [];
  const log =
    options.logger ??
    createLogger({ level: options.logLevel ?? 'info', ...(options.pretty ? { pretty: true } : {}), output, secrets: () => secrets() });
  try {
    await mkdir(manifest.stateDir, { recursive: true, mode: 0o700 });
    await chmod(manifest.stateDir, 0o700);
  } catch (err) {
    throw new FleetError('PROVISION_FAILED', `cannot use state dir ${manifest.stateDir}: ${(err as Error).message}; run fleetd as a user who owns it, or set stateDir (or --state-dir) to a writable folder`, { cause: err });
  }
  if (signals.stopped()) return 0; // nothing taken yet
  const lock: StateLock = await acquireStateLock(manifest.stateDir, (err) => log.fatal({ err: err.message }, 'state dir lock compromised'));
  if (signals.stopped()) {
    await lock.release();
    return 0;
  }
  log.info({ version: VERSION, manifest: manifest.manifestPath, stateDir: manifest.stateDir, socket: manifest.socket }, 'fleetd starting');

  const registry = openRegistry(manifest.stateDir);
  let current = manifest;
  const installRuntime = createRuntimeCache(() => current, log);
  const fleet = createFleet(manifest, {
    logger: log,
    registry,
    createRunner: (spec, logger, bootSlot) => createRunner(spec, { logger, bootSlot }),
    ensureRuntime: (version) => installRuntime(version),
    treeRss: (pids) => {
      const table = listProcesses();
      return new Map(pids.map((pid) => [pid, treeRssBytes(pid, table)]));
    },
    now: () => Date.now(),
    parentEnv: process.env,
  });
  // Every gateway token is a secret no log line may carry, not even in pieces.
  secrets = () => Object.values(fleet.registry.agents).map((entry) => entry.token);
  const overrides = options.overrides ?? {};
  const ctx: DaemonContext = {
    fleet,
    logger: log,
    startedAt: Date.now(),
    now: () => Date.now(),
    // Only the command line's own overrides: a changed stateDir/socket in the file must be seen (and refused).
    readManifest: () => loadManifest(manifest.manifestPath, overrides),
    installRuntime,
    logDropped: () => output.dropped(),
  };
  const server = createControlServer(createHandlers(ctx), log, { secrets: () => secrets() });
  let bound: BoundSocket | undefined;

  let stopping: Promise<void> | undefined;
  let release: () => void = () => {};
  const finished = new Promise<void>((resolve) => (release = resolve));
  const shutdown = (signal: string) => {
    stopping ??= (async () => {
      log.info({ signal }, 'stopping every gateway');
      await fleet.shutdown();
      await fleet.queue.idle().catch(() => {}); // start-up or a change in progress sees `stopping` and ends
      await fleet.shutdown(); // anything such a change started meanwhile
      await closeSocket(server, bound).catch(() => {});
      await lock.release();
      log.info('fleetd stopped');
      output.flush();
      release();
    })();
  };
  signals.handle(shutdown, () => {
    if (stopping) return;
    log.info('SIGHUP: reloading the manifest');
    reload(ctx, false).then(
      (r) => log.info({ actions: r.actions.map((a) => `${a.kind} ${a.address}: ${a.reason}`) }, 'reload applied'),
      (err) => log.error({ err: toFleetError(err).message }, 'reload refused; nothing changed'),
    );
  });

  // Start-up runs in the fleet's queue: a SIGHUP or a fleetctl change arriving meanwhile waits for it.
  const boot = fleet.queue.run(async () => {
    if (stopping) return;
    const reg = await fleet.load();
    // A previous fleetd killed with SIGKILL may have left gateways running: stop them first,
    // there must never be two gateways on one state dir or port.
    const orphans = Object.entries(reg.agents).filter(([, e]) => e.process);
    await Promise.all(
      orphans.map(async ([address, entry]) => {
        const result = await stopRecordedProcess(entry.process!, manifest.gateway.stopTimeoutMs);
        log.warn({ agent: address, pid: entry.process!.pid, result }, 'gateway left by a previous fleetd handled');
      }),
    );
    // Children re-parented before the registry saw them (a crash mid-boot) still carry
    // their agent's OPENCLAW_CONFIG_PATH: stop those too.
    await Promise.all(
      Object.values(reg.agents).map(async (entry) => {
        const configPath = agentPaths(manifest.stateDir, entry.fleet, entry.agent).configPath;
        const pids = await stopMarkedProcesses(configPath, manifest.gateway.stopTimeoutMs);
        if (pids.length > 0) log.warn({ agent: `${entry.fleet}/${entry.agent}`, pids }, 'stopped leftover gateway processes of a previous fleetd');
      }),
    );
    if (orphans.length > 0) {
      await fleet.persist((r) => {
        for (const entry of Object.values(r.agents)) delete entry.process;
      });
    }
    if (stopping) return;
    bound = await listenOnSocket(server, manifest.socket, manifest.socketGroup);
    log.info({ socket: manifest.socket }, 'control socket ready');
    if (stopping) return;
    const result = await fleet.reconcile(manifest, false);
    current = fleet.manifest;
    log.info({ agents: fleet.slots.size, actions: result.actions.length }, 'fleet reconciled; starts under way (fleetctl status shows progress)');
  });
  try {
    await boot;
  } catch (err) {
    log.error({ err: toFleetError(err).message }, 'fleetd could not start');
    // Only what this fleetd made is removed: a socket it never bound (another fleetd's) stays.
    await closeSocket(server, bound).catch(() => {});
    await fleet.shutdown();
    await lock.release();
    output.flush();
    throw err;
  }
  await finished;
  return 0;
}
