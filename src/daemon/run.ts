// fleetd start: lock the state dir, stop gateways a killed predecessor left behind, open
// the control socket, bring the fleet up, and serve until SIGTERM/SIGINT (stop everything,
// exit 0). SIGHUP reloads the manifest.
import { mkdir, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifest } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { cleanGatewayPath } from '../plan/gateway-env.js';
import { stopMarkedProcesses, stopRecordedProcess } from '../supervise/orphans.js';
import { agentPaths } from '../provision/home.js';
import { pageSizeBytes } from '../supervise/proc.js';
import { createProcTable, treeRssOf } from '../supervise/proc-table.js';
import { createRunner } from '../supervise/runner.js';
import { AGENT_MARKER, sharedProcDeps } from '../supervise/shared-proc-deps.js';
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
import { createRegistryStore } from './registry-store.js';
import { createRuntimeCache } from './runtime-cache.js';
import { createRuntimeCommands } from './runtime-commands.js';
import { closeSocket, listenOnSocket } from './socket.js';

/** Options of runDaemon. */
export interface RunOptions {
  logLevel?: string;
  pretty?: boolean;
  logger?: Logger;
  /** The command-line overrides the manifest was loaded with (a reload re-reads it with the same ones). */
  overrides?: { stateDir?: string | undefined; socket?: string | undefined };
}

/** How old a /proc scan `status` may show RSS from (ms): back-to-back status calls share one. */
const STATUS_RSS_MAX_AGE_MS = 1000;

/** This package's root (dist/daemon/run.js -> ../../): no gateway PATH entry may point inside it. */
const PACKAGE_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

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

  const store = createRegistryStore(openRegistry(manifest.stateDir));
  let fleetRef: { manifest: Manifest } | undefined;
  const installRuntime = createRuntimeCache(() => fleetRef?.manifest ?? manifest, log);
  // One /proc table for every runner, status call and start-up sweep (supervise/proc-table.ts).
  const procs = createProcTable();
  const pageSize = pageSizeBytes();
  const procDeps = sharedProcDeps(procs, { trackMaxAgeMs: () => (fleetRef?.manifest ?? manifest).health.intervalMs / 2 });
  const fleet = createFleet(manifest, {
    logger: log,
    store,
    installRuntime,
    createRunner: (spec, runnerDeps) => createRunner(spec, { ...runnerDeps, ...procDeps }),
    treeRss: (pids) => treeRssOf(procs, pids, pageSize, STATUS_RSS_MAX_AGE_MS),
    now: () => Date.now(),
    parentEnv: { ...process.env, PATH: cleanGatewayPath(process.env.PATH, PACKAGE_ROOT) },
  });
  fleetRef = fleet;
  const startedAt = Date.now();
  const ctx: DaemonContext = {
    fleet,
    runtimes: createRuntimeCommands(fleet, installRuntime, log),
    logger: log,
    daemonView: () => {
      const m = fleet.manifest;
      return { pid: process.pid, version: VERSION, manifest: m.manifestPath, stateDir: m.stateDir, socket: m.socket, startedAt, rssBytes: process.memoryUsage().rss, registryBehind: store.behind(), startSlots: fleet.startLoad() };
    },
    readManifest: () => loadManifest(manifest.manifestPath, options.overrides ?? {}),
  };
  const server = createControlServer(createHandlers(ctx), log);

  let stopping: Promise<void> | undefined;
  let booted = false;
  let reloadAfterBoot = false;
  let release: () => void = () => {};
  const finished = new Promise<void>((resolve) => (release = resolve));
  const applyReload = () => {
    log.info('SIGHUP: reloading the manifest');
    reload(ctx, false).then(
      (r) => log.info({ actions: r.actions.map((a) => `${a.kind} ${a.address}: ${a.reason}`) }, 'reload applied'),
      (err) => log.error({ err: toFleetError(err).message }, 'reload refused; nothing changed'),
    );
  };

  // Start-up: registry, leftovers of a killed predecessor, socket, then the plan.
  const boot = (async () => {
    const reg = await fleet.load();
    // A previous fleetd killed with SIGKILL may have left gateways running: stop them first,
    // there must never be two gateways on one state dir or port.
    const orphans = Object.entries(reg.agents).filter(([, e]) => e.process);
    const sweepAt = procs.now();
    const sweepDeps = { stopTree: procDeps.stopTree, marked: (configPath: string) => procs.marked(AGENT_MARKER, configPath, sweepAt) };
    await Promise.all(
      orphans.map(async ([address, entry]) => {
        const result = await stopRecordedProcess(entry.process!, manifest.gateway.stopTimeoutMs, sweepDeps);
        log.warn({ agent: address, pid: entry.process!.pid, result }, 'gateway left by a previous fleetd handled');
      }),
    );
    // Children re-parented before the registry saw them (a crash mid-boot) still carry
    // their agent's OPENCLAW_CONFIG_PATH: stop those too.
    await Promise.all(
      Object.values(reg.agents).map(async (entry) => {
        const configPath = agentPaths(manifest.stateDir, entry.fleet, entry.agent).configPath;
        const pids = await stopMarkedProcesses(configPath, manifest.gateway.stopTimeoutMs, sweepDeps);
        if (pids.length > 0) log.warn({ agent: `${entry.fleet}/${entry.agent}`, pids }, 'stopped leftover gateway processes of a previous fleetd');
      }),
    );
    if (orphans.length > 0) {
      await store.update((r) => {
        for (const entry of Object.values(r.agents)) delete entry.process;
      });
    }
    if (stopping) return;
    await listenOnSocket(server, manifest.socket, manifest.socketGroup);
    log.info({ socket: manifest.socket }, 'control socket ready');
    if (stopping) return;
    const result = await fleet.reconcile(manifest);
    log.info({ agents: fleet.addresses().length, actions: result.actions.length }, 'fleet reconciled; starts under way (fleetctl status shows progress)');
  })();

  const shutdown = (signal: string) => {
    stopping ??= (async () => {
      log.info({ signal }, 'stopping every gateway');
      await fleet.shutdown();
      await boot.catch(() => {}); // start-up in progress sees `stopping` (and the fleet's shutdown) and ends
      await fleet.shutdown(); // anything start-up made meanwhile
      store.close();
      await closeSocket(server, manifest.socket).catch(() => {});
      await lock.release();
      log.info('fleetd stopped');
      release();
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    if (!booted) {
      reloadAfterBoot = true; // applied once start-up has planned the fleet
      return;
    }
    applyReload();
  });

  try {
    await boot;
    booted = true;
    if (reloadAfterBoot && !stopping) applyReload();
  } catch (err) {
    log.error({ err: toFleetError(err).message }, 'fleetd could not start');
    await fleet.shutdown();
    store.close();
    await closeSocket(server, manifest.socket).catch(() => {});
    await lock.release();
    throw err;
  }
  await finished;
  return 0;
}
