// fleetd start: lock the state dir, stop gateways a killed predecessor left behind, open
// the control socket, bring the fleet up, and serve until SIGTERM/SIGINT (stop everything,
// exit 0). SIGHUP reloads the manifest.
import { mkdir, chmod } from 'node:fs/promises';
import type { Server } from 'node:http';
import { loadManifest } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { ensureRuntime } from '../runtime/index.js';
import type { ProgressEvent, Runtime } from '../runtime/types.js';
import { stopMarkedProcesses, stopRecordedProcess } from '../supervise/orphans.js';
import { agentPaths } from '../provision/home.js';
import { listProcesses, treeRssBytes } from '../supervise/proc.js';
import { createRunner } from '../supervise/runner.js';
import { probeGateway } from '../supervise/probe.js';
import { createCapabilityProbe } from '../runtime/capabilities.js';
import { createUpgradeController } from '../upgrade/controller.js';
import { createFleetPort } from '../upgrade/fleet-port.js';
import { createUpgradeStore } from '../upgrade/store.js';
import { call } from '../protocol/client.js';
import { observeRunner } from './agent-events.js';
import { createEventBus } from './events.js';
import { createSdNotifier } from './sd-notify.js';
import { fleetStatusLine } from './status-line.js';
import { startFleetMetrics, timedProbe } from './metrics-wiring.js';
import { FleetError, toFleetError } from '../errors.js';
import { VERSION } from '../version.js';
import type { DaemonContext } from './context.js';
import { createFleet } from './fleet.js';
import { createHandlers } from './handlers/index.js';
import { reload } from './handlers/reload.js';
import { createControlServer } from './http-server.js';
import { acquireStateLock } from './lock.js';
import { createLogger, type Logger } from './logger.js';
import { openRegistry } from './registry.js';
import { closeSocket, listenOnSocket } from './socket.js';

/** Options of runDaemon. */
export interface RunOptions {
  logLevel?: string;
  pretty?: boolean;
  logger?: Logger;
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
  const log = options.logger ?? createLogger({ level: options.logLevel ?? 'info', ...(options.pretty ? { pretty: true } : {}) });
  try {
    await mkdir(manifest.stateDir, { recursive: true, mode: 0o700 });
    await chmod(manifest.stateDir, 0o700);
  } catch (err) {
    throw new FleetError('PROVISION_FAILED', `cannot use state dir ${manifest.stateDir}: ${(err as Error).message}; run fleetd as a user who owns it, or set stateDir (or --state-dir) to a writable folder`, { cause: err });
  }
  const lock = await acquireStateLock(manifest.stateDir, (err) => log.fatal({ err: err.message }, 'state dir lock compromised'));
  log.info({ version: VERSION, manifest: manifest.manifestPath, stateDir: manifest.stateDir, socket: manifest.socket }, 'fleetd starting');

  const registry = openRegistry(manifest.stateDir);
  let current = manifest;
  const installRuntime = createRuntimeCache(() => current, log);
  const events = createEventBus();
  let serving = false;
  const sd = createSdNotifier({
    logger: log,
    // the watchdog pings only while fleetd answers its own control socket (before it listens:
    // while the boot steps still run, which the ping itself proves for the event loop)
    check: () => (serving ? call(manifest.socket, 'health').then((h) => h.pid === process.pid, () => false) : Promise.resolve(true)),
  });
  sd.startWatchdog();
  let observeProbe: ((address: string, seconds: number, live: boolean) => void) | undefined;
  const fleet = createFleet(manifest, {
    logger: log,
    registry,
    createRunner: (spec, logger, bootSlot) => {
      const runner = createRunner(spec, { logger, bootSlot, probe: timedProbe(spec.address, probeGateway, (...a) => observeProbe?.(...a)) });
      observeRunner(runner, events);
      return runner;
    },
    ensureRuntime: (version) => installRuntime(version),
    treeRss: (pids) => {
      const table = listProcesses();
      return new Map(pids.map((pid) => [pid, treeRssBytes(pid, table)]));
    },
    now: () => Date.now(),
    parentEnv: process.env,
  });
  const upgrades = createUpgradeController({
    store: createUpgradeStore(manifest.stateDir),
    port: createFleetPort({ fleet, installRuntime, capabilities: createCapabilityProbe() }),
    logger: log,
  });
  upgrades.subscribe((p) => events.publish({ type: 'rollout.step', rollout: p.rollout, address: p.address, phase: p.phase, message: p.message }));
  const ctx: DaemonContext = {
    fleet,
    logger: log,
    startedAt: Date.now(),
    now: () => Date.now(),
    // every manifest read (reload, SIGHUP) goes through the upgrade controller: runtime changes of running agents become rollouts
    readManifest: async () => {
      const file = await loadManifest(manifest.manifestPath, { stateDir: manifest.stateDir, socket: manifest.socket });
      if (JSON.stringify(file.metrics ?? null) !== JSON.stringify(manifest.metrics ?? null)) {
        throw new FleetError('REFUSED', `metrics changed from ${JSON.stringify(manifest.metrics ?? null)} to ${JSON.stringify(file.metrics ?? null)}; this needs a restart of fleetd (systemctl restart fleetd), not a reload. Nothing was changed`);
      }
      return upgrades.effective(file);
    },
    installRuntime,
    events,
    upgrades,
  };
  const server = createControlServer(createHandlers(ctx), log);
  let metricsServer: Server | undefined;
  const statusLine = () => fleetStatusLine(fleet.views(), upgrades.status().rollout);
  events.subscribe((e) => {
    if (e.type === 'agent.state' || e.type === 'rollout.step') void sd.status(statusLine());
  });
  events.publish({ type: 'daemon', event: 'started', pid: process.pid, version: VERSION });

  let stopping: Promise<void> | undefined;
  let release: () => void = () => {};
  const finished = new Promise<void>((resolve) => (release = resolve));
  const shutdown = (signal: string) => {
    stopping ??= (async () => {
      log.info({ signal }, 'stopping every gateway');
      events.publish({ type: 'daemon', event: 'stopping', pid: process.pid, version: VERSION });
      void sd.stopping();
      sd.close();
      upgrades.halt(); // a rollout in progress resumes at the next start (see plan/rollout.ts)
      await fleet.shutdown();
      await fleet.queue.idle().catch(() => {}); // start-up or a change in progress sees `stopping` and ends
      await fleet.shutdown(); // anything such a change started meanwhile
      // `fleetctl events -f` readers get the last events and the end of their stream before the socket closes
      await events.close();
      await new Promise((resolve) => setImmediate(resolve));
      await closeSocket(server, manifest.socket).catch(() => {});
      await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
      await sd.flush();
      await lock.release();
      log.info('fleetd stopped');
      release();
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    log.info('SIGHUP: reloading the manifest');
    void sd.reloading();
    reload(ctx, false).then(
      (r) => {
        const actions = r.actions.map((a) => `${a.kind} ${a.address}: ${a.reason}`);
        log.info({ actions }, 'reload applied');
        events.publish({ type: 'fleet.reload', applied: true, actions, error: null });
        void sd.ready(statusLine());
      },
      (err) => {
        const message = toFleetError(err).message;
        log.error({ err: message }, 'reload refused; nothing changed');
        events.publish({ type: 'fleet.reload', applied: false, actions: [], error: message });
        void sd.ready(statusLine());
      },
    );
  });

  // Start-up runs in the fleet's queue: a SIGHUP or a fleetctl change arriving meanwhile waits for it.
  const boot = fleet.queue.run(async () => {
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
    // every gateway is stopped now: a rollout caught mid-step gets its snapshot back before anything starts
    await upgrades.init();
    if (stopping) return;
    if (manifest.metrics) {
      const m = await startFleetMetrics({ fleet, upgrades, listen: manifest.metrics.listen, logger: log, events });
      metricsServer = m.server;
      observeProbe = m.observeProbe;
      log.info({ listen: manifest.metrics.listen }, 'metrics served at /metrics');
    }
    await listenOnSocket(server, manifest.socket, manifest.socketGroup);
    serving = true;
    log.info({ socket: manifest.socket }, 'control socket ready');
    if (stopping) return;
    const result = await fleet.reconcile(upgrades.effective(manifest), false);
    current = fleet.manifest;
    log.info({ agents: fleet.slots.size, actions: result.actions.length }, 'fleet reconciled; starts under way (fleetctl status shows progress)');
    upgrades.resume();
    // Type=notify: start-up is planned (every start is under way; status shows each agent's progress)
    events.publish({ type: 'daemon', event: 'ready', pid: process.pid, version: VERSION });
    void sd.ready(statusLine());
  });
  try {
    await boot;
  } catch (err) {
    log.error({ err: toFleetError(err).message }, 'fleetd could not start');
    metricsServer?.close();
    sd.close();
    await closeSocket(server, manifest.socket).catch(() => {});
    await fleet.shutdown();
    await lock.release();
    throw err;
  }
  await finished;
  return 0;
}
