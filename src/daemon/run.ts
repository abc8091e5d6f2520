// fleetd start: lock the state dir, stop gateways a killed predecessor left behind, open
// the control socket, bring the fleet up, and serve until SIGTERM/SIGINT (stop everything,
// exit 0). SIGHUP reloads the manifest. A stop signal is honoured at every step of this,
// from the first instant (early-signals.ts): whatever was started is stopped again.
//
// Long because start-up is one ordered sequence (each step depends on the ones before and
// every one must be undone on a stop signal); the steps themselves live in their modules.
import { spawn } from 'node:child_process';
import { mkdir, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifest, manifestWarnings, MISSING_RELOAD_STEP, type ManifestOverrides } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { cleanGatewayPath } from '../plan/gateway-env.js';
import { pageSizeBytes } from '../supervise/proc.js';
import { createProcTable, treeUsageIn } from '../supervise/proc-table.js';
import { sharedProcDeps } from '../supervise/shared-proc-deps.js';
import { createRunner } from '../supervise/runner.js';
import { createListenTable, createSharedListenerCheck } from '../supervise/listener-owner.js';
import { createShimSpawn } from '../supervise/shim-spawn.js';
import { describeShim } from '../supervise/shim-client.js';
import { stopSpawners } from '../supervise/shim-spawner.js';
import { createWatchWheel } from '../supervise/watch-wheel.js';
import { restoreLeftovers, sharedRestoreDeps } from './live-restore.js';
import { anyAgentMerges, cgroupConfigFor, outsideItsCgroup, removeAgentCgroups, sweepAgentCgroups } from './isolation-boot.js';
import { setupIsolationHost } from '../isolation/agent-isolation.js';
import type { Server } from 'node:http';
import { probeGateway } from '../supervise/probe.js';
import { createCapabilityProbe } from '../runtime/capabilities.js';
import { createUpgradeController } from '../upgrade/controller.js';
import { createFleetPort } from '../upgrade/fleet-port.js';
import { createUpgradeStore } from '../upgrade/store.js';
import { call } from '../protocol/client.js';
import { observeRunner } from './agent-events.js';
import { createEventBus } from './events.js';
import { isSettled } from '../plan/agent-states.js';
import type { MemoryReclaimView } from '../protocol/schemas.js';
import { createMemoryReclaimer, loadMemoryAddon, MEMORY_ADDON_PATH, RECLAIM_EVERY_MS, RECLAIM_V8_QUIET_MS, watchV8Collections } from './memory-reclaim.js';
import { createSdNotifier } from './sd-notify.js';
import { fleetStatusUpdates } from './status-updates.js';
import { startFleetMetrics, timedProbe } from './metrics-wiring.js';
import { RESTART_EXIT_CODE, systemdIsRestarting, underSystemd } from './systemd-job.js';
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
import { createLogger, secretMatcher, type Logger } from './logger.js';
import { openRegistry } from './registry.js';
import { createRegistryStore } from './registry-store.js';
import { createRuntimeCache } from './runtime-cache.js';
import { createRuntimeCommands } from './runtime-commands.js';
import { closeSocket, listenOnSocket, type BoundSocket } from './socket.js';

/** Options of runDaemon. */
export interface RunOptions {
  /** pino level (default: FLEETD_LOG_LEVEL from the environment, else info: logger.ts). */
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
  /** false: no memory reclaim (`fleetd start --no-memory-reclaim`); default on when the addon loads (memory-reclaim.ts). */
  memoryReclaim?: boolean;
}

/** How old a /proc scan `status` may show RSS from, and a metrics scrape CPU times (ms): back-to-back calls share one. */
const STATUS_RSS_MAX_AGE_MS = 1000;

/** This package's root (dist/daemon/run.js, or a chunk of the bundle dist/fleetd/, -> ../../): no gateway PATH entry may point inside it. */
const PACKAGE_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

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
  // one matcher for the log and the answers (logger.ts secretMatcher)
  const matcher = secretMatcher(() => secrets());
  const log = options.logger ?? createLogger({ level: options.logLevel, ...(options.pretty ? { pretty: true } : {}), output, matcher });
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
  for (const warning of manifestWarnings(manifest)) log.warn({ manifest: manifest.manifestPath }, warning);

  // How agents are isolated on this host: detected once, said once (and in status).
  const cgroupConfig = cgroupConfigFor(manifest, underSystemd());
  const isolation = setupIsolationHost(cgroupConfig, anyAgentMerges(manifest));
  log.info({ isolation: isolation.view.description, moved: isolation.moved.length ? isolation.moved : undefined, ksm: isolation.ksm?.words }, `isolation: ${isolation.view.description}`);
  const store = createRegistryStore(openRegistry(manifest.stateDir));
  // numbered from this fleetd's start time in µs: a cursor from before a restart is older than all of this fleetd's events
  const events = createEventBus({ seqBase: Date.now() * 1000 });
  let serving = false;
  const sd = createSdNotifier({
    logger: log,
    // the watchdog pings only while fleetd answers its own control socket (before it listens:
    // while the boot steps still run, which the ping itself proves for the event loop)
    check: () => (serving ? call(manifest.socket, 'health').then((h) => h.pid === process.pid, () => false) : Promise.resolve(true)),
  });
  sd.startWatchdog();
  let observeProbe: ((address: string, seconds: number, live: boolean) => void) | undefined;
  const shimSpawn = createShimSpawn({ warn: (text) => log.warn({ text }, 'shim said something unexpected') });
  // Which output holder each gateway gets: the native binary the build made, else the Node shim (said once).
  const shim = describeShim();
  if (shim.kind === 'native') log.info({ shim: shim.path }, `per-agent shim: native (${shim.path})`);
  else log.warn({ shim: shim.path }, `per-agent shim: the Node shim (${shim.path}); the native one was not built (no C compiler at build time?): each shim costs ~100 ms of CPU and ~12 MB of private memory more`);
  let fleetRef: { manifest: Manifest } | undefined;
  const installRuntime = createRuntimeCache(() => fleetRef?.manifest ?? manifest, log);
  // One /proc table for every runner, status call and start-up sweep (supervise/proc-table.ts).
  const procs = createProcTable();
  const pageSize = pageSizeBytes();
  // One read of /proc/net/tcp{,6} serves every runner's listener checks for 50 ms, and one fresh read every start verdict waiting for one (listener-owner.ts).
  const listenTable = createListenTable();
  const procDeps = sharedProcDeps(procs, { trackMaxAgeMs: () => (fleetRef?.manifest ?? manifest).health.intervalMs / 2 });
  // One timer per period for every agent whose shim watches its readiness (supervise/watch-wheel.ts).
  const watchWheel = createWatchWheel();
  const fleet = createFleet(manifest, {
    logger: log,
    store,
    installRuntime,
    // every gateway under its own shim: its output and exit outlive fleetd (live restore);
    // its states, exits and restarts become events, its probes metrics; its /proc reads
    // go through the one shared table
    createRunner: (spec, runnerDeps) => {
      const runner = createRunner(spec, { ...runnerDeps, ...procDeps, watchWheel, listenerCheck: createSharedListenerCheck(listenTable), spawn: shimSpawn, probe: timedProbe(spec.address, probeGateway, (...a) => observeProbe?.(...a)) });
      observeRunner(runner, events);
      return runner;
    },
    // status readings: descendants from a scan at most a second old, read a slice per turn
    treeReader: async () => {
      const snap = await procs.snapshotSliced(procs.now() - STATUS_RSS_MAX_AGE_MS);
      return (pid) => treeUsageIn(snap, pid, pageSize);
    },
    now: () => Date.now(),
    parentEnv: { ...process.env, PATH: cleanGatewayPath(process.env.PATH, PACKAGE_ROOT) },
    isolation,
    onReconfigured: (outcome) => events.publish({ type: 'agent.reconfigured', ...outcome }),
  });
  fleetRef = fleet;
  const upgrades = createUpgradeController({
    store: createUpgradeStore(manifest.stateDir),
    port: createFleetPort({ fleet, installRuntime, capabilities: createCapabilityProbe() }),
    logger: log,
  });
  upgrades.subscribe((p) => events.publish({ type: 'rollout.step', rollout: p.rollout, address: p.address, phase: p.phase, message: p.message }));
  // Every token (gateway and hooks) is a secret no log line or answer may carry, not even in pieces.
  // The store makes the list again only when a change touches a token, so a log line or an
  // answer costs no walk of every agent.
  secrets = () => store.secrets();
  const overrides = options.overrides ?? {};
  const startedAt = Date.now();
  const ctx: DaemonContext = {
    fleet,
    runtimes: createRuntimeCommands(fleet, installRuntime, log),
    logger: log,
    daemonView: () => {
      const m = fleet.manifest;
      return {
        pid: process.pid,
        version: VERSION,
        manifest: m.manifestPath,
        stateDir: m.stateDir,
        socket: m.socket,
        startedAt,
        rssBytes: process.memoryUsage.rss(), // rss alone: memoryUsage() also walks every V8 heap space (~0.25 ms per status call)
        registryBehind: store.behind(),
        startSlots: fleet.startLoad(),
        logDropped: output.dropped(),
        isolation: isolation.view,
        memoryReclaim: memoryView,
      };
    },
    // Only the command line's own overrides: a changed stateDir/socket in the file must be seen (and refused).
    // Every read goes through the upgrade controller: a runtime change of running agents becomes a rollout.
    readManifest: async () => upgrades.effective(await loadManifest(manifest.manifestPath, overrides, MISSING_RELOAD_STEP)),
    events,
    upgrades,
  };
  const server = createControlServer(createHandlers(ctx), log, { matcher });
  let bound: BoundSocket | undefined;
  let metricsServer: Server | undefined;
  // systemd's one-line summary: from the agents' states alone (never fleet.views(): /proc and
  // cgroup reads of every agent), at most once a second, and only under systemd
  const statusUpdates = fleetStatusUpdates({ sd, states: () => fleet.states(), rollout: () => upgrades.status().rollout });
  const statusLine = statusUpdates.line;
  events.subscribe((e) => {
    if (e.type === 'agent.state' || e.type === 'rollout.step') statusUpdates.changed();
  });
  // memory given back once a burst is over and every few minutes (memory-reclaim.ts); status shows memoryView
  const memory = options.memoryReclaim === false ? undefined : loadMemoryAddon();
  const memoryView: MemoryReclaimView = {
    ...(memory === undefined ? { state: 'off', reason: '--no-memory-reclaim' } : 'unavailable' in memory ? { state: 'unavailable', reason: memory.unavailable } : { state: 'on', reason: null }),
    count: 0,
    last: null,
  };
  if (memory === undefined) log.info('memory reclaim: off (--no-memory-reclaim); fleetd gives memory back only as V8 decides');
  else if ('unavailable' in memory) log.info({ reason: memory.unavailable }, 'memory addon unavailable: fleetd gives memory back only as V8 decides');
  const reclaimer =
    memory && 'addon' in memory
      ? createMemoryReclaimer({
          addon: memory.addon,
          settled: () => fleet.states().every(isSettled),
          v8Collections: watchV8Collections(),
          onReclaim: (r) => {
            const ms = +r.ms.toFixed(1);
            memoryView.count++;
            memoryView.last = { at: Date.now(), cause: r.cause, rssBeforeBytes: r.rssBefore, rssAfterBytes: r.rssAfter, ms, v8: r.v8, v8Reduced: r.v8Reduced, trimmed: r.trimmed };
            log.debug({ cause: r.cause, rssBeforeMiB: +(r.rssBefore / 1048576).toFixed(1), rssAfterMiB: +(r.rssAfter / 1048576).toFixed(1), ms, v8: r.v8, v8Reduced: r.v8Reduced, trimmed: r.trimmed }, 'memory given back');
          },
          onError: (err) => log.warn({ err: toFleetError(err).message }, 'memory reclaim failed; fleetd runs on'),
        })
      : undefined;
  if (reclaimer) {
    log.info({ addon: MEMORY_ADDON_PATH }, `memory reclaim: on; fleetd gives memory back once its fleet has settled (and V8 made no major collection in the last ${RECLAIM_V8_QUIET_MS / 1000} s), at most once a minute, and every ${RECLAIM_EVERY_MS / 60_000} minutes`);
    events.subscribe(() => reclaimer.activity());
  }
  events.publish({ type: 'daemon', event: 'started', pid: process.pid, version: VERSION });

  // Start-up: registry, leftovers of a killed predecessor, socket, then the plan. A SIGHUP
  // arriving meanwhile is replayed once it is done; a stop signal is checked at every step.
  let stopping: Promise<void> | undefined;
  const boot = (async () => {
    await Promise.resolve(); // let the signal hand-off below run first
    if (stopping) return;
    await fleet.load();
    await upgrades.load();
    // Gateways a previous fleetd left running (killed, crashed, or restarted on purpose):
    // adopted when they are provably the agent's current launch, else stopped; there must
    // never be two gateways on one state dir or port.
    // judged against what the fleet will apply: the file under any rollout's overlay
    const outcomes = await restoreLeftovers(fleet, upgrades.effective(manifest), log, sharedRestoreDeps(procs, procDeps.stopTree), {
      onAdopted: (address, pid, reason) => events.publish({ type: 'agent.adopted', address, pid, reason }),
      refuse: (address) => {
        if (upgrades.willRestore(address)) return 'a rollout was stopped mid-step on it: its snapshot is put back first';
        return outsideItsCgroup(isolation, fleet.registry(), address);
      },
    });
    // Whatever else lives in an agent cgroup (a daemon that escaped the tree, a gateway not
    // adopted) is stopped by membership; cgroups of agents no longer declared are removed.
    await sweepAgentCgroups(isolation, new Set([...outcomes].filter(([, o]) => o === 'adopted').map(([a]) => a)), new Set(fleet.registry() ? Object.keys(fleet.registry().agents) : []), manifest.gateway.stopTimeoutMs, log);
    const dropped = [...outcomes].filter(([, outcome]) => outcome !== 'adopted').map(([address]) => address);
    if (dropped.length > 0) {
      await store.update((r) => {
        for (const address of dropped) if (Object.hasOwn(r.agents, address)) delete r.agents[address]!.process;
      });
    }
    const adopted = [...outcomes].filter(([, outcome]) => outcome === 'adopted').length;
    if (outcomes.size > 0) log.info({ adopted, stopped: outcomes.size - adopted }, 'gateways of a previous fleetd: adopted or stopped');
    // a rollout caught mid-step gets its snapshot back before anything starts
    await upgrades.restoreCaught();
    if (stopping) return;
    if (manifest.metrics) {
      const m = await startFleetMetrics({ fleet, upgrades, listen: manifest.metrics.listen, logger: log, events });
      metricsServer = m.server;
      observeProbe = m.observeProbe;
      log.info({ listen: manifest.metrics.listen }, 'metrics served at /metrics');
    }
    bound = await listenOnSocket(server, manifest.socket, manifest.socketGroup);
    serving = true;
    log.info({ socket: manifest.socket }, 'control socket ready');
    if (stopping) return;
    const result = await fleet.reconcile(upgrades.effective(manifest));
    log.info({ agents: fleet.addresses().length, actions: result.actions.length }, 'fleet reconciled; starts under way (fleetctl status shows progress)');
    upgrades.resume();
    // Type=notify: start-up is planned (every start is under way; status shows each agent's progress)
    events.publish({ type: 'daemon', event: 'ready', pid: process.pid, version: VERSION });
    void sd.ready(statusLine());
  })();

  let release: () => void = () => {};
  const finished = new Promise<void>((resolve) => (release = resolve));
  let exitCode = 0;
  // SIGTERM/SIGINT: stop every gateway, then exit 0. SIGUSR2, `fleetctl daemon restart`, or a
  // SIGTERM while systemd restarts the unit: leave every gateway running (its shim holds its
  // output) for the next fleetd to adopt, then exit; under systemd with RESTART_EXIT_CODE
  // (the unit starts fleetd again), by hand after starting the successor itself.
  const shutdown = (signal: StopSignal | 'restart request' | 'stop request') => {
    stopping ??= (async () => {
      const leave = signal === 'SIGUSR2' || signal === 'restart request' || (signal === 'SIGTERM' && (await systemdIsRestarting()));
      events.publish({ type: 'daemon', event: 'stopping', pid: process.pid, version: VERSION });
      statusUpdates.close();
      reclaimer?.close();
      void sd.stopping();
      sd.close();
      upgrades.halt(); // a rollout in progress resumes at the next start (see plan/rollout.ts)
      if (leave) {
        log.info({ signal }, 'fleetd restarts: every gateway is left running for the next fleetd to adopt');
        await fleet.detachAll();
        await boot.catch(() => {});
        await fleet.detachAll(); // anything start-up made meanwhile
      } else {
        log.info({ signal }, 'stopping every gateway');
        await fleet.shutdown();
        await boot.catch(() => {}); // start-up in progress sees `stopping` (and the fleet's shutdown) and ends
        await fleet.shutdown(); // anything start-up made meanwhile
        removeAgentCgroups(isolation, manifest.cgroup?.root === undefined && !underSystemd(), log);
      }
      // every launch is over: the shim spawner goes (a stopped one would not see its stdin close); the shims run on
      stopSpawners();
      store.close();
      // `fleetctl events -f` readers get the last events and the end of their stream before the socket closes
      await events.close();
      await new Promise((resolve) => setImmediate(resolve));
      await closeSocket(server, bound).catch(() => {});
      await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
      await sd.flush();
      await lock.release();
      if (leave) {
        if (underSystemd()) exitCode = RESTART_EXIT_CODE;
        else startSuccessor(log);
      }
      log.info(leave ? 'fleetd left; its gateways run on' : 'fleetd stopped');
      output.flush();
      release();
    })();
  };
  ctx.leave = (how) => setImmediate(() => shutdown(how === 'restart' ? 'restart request' : 'stop request'));
  // An operator found that a restart with an invalid registry.json left every gateway
  // unsupervised: the old fleetd handed over and answered success, its successor exited with
  // REGISTRY_INVALID. The same for a manifest edited into an invalid one.
  // An operator then found two inputs the check read as fine: a manifest whose stateDir
  // changed (the successor adopts none of the running gateways and starts them again beside
  // the orphans) and a registry.json moved away (the successor starts with an empty registry:
  // new tokens and port blocks for every agent). Both are refused too.
  const wouldNotStart = (err: unknown): never => {
    const why = toFleetError(err);
    throw new FleetError(why.code, `the next fleetd would not start: ${why.message}`, { cause: err });
  };
  ctx.checkSuccessor = async () => {
    const next = await ctx.readManifest().catch(wouldNotStart);
    const current = fleet.manifest.stateDir;
    if (resolve(next.stateDir) !== resolve(current)) {
      throw new FleetError(
        'REFUSED',
        `the manifest's stateDir is now ${next.stateDir} (this fleetd's is ${current}): the next fleetd would adopt none of the ${fleet.gateways()} running gateway(s), and start its agents again with new homes, tokens and ports beside them. Put stateDir back, or stop the fleet first (fleetctl daemon stop)`,
      );
    }
    const registry = openRegistry(next.stateDir);
    const held = Object.keys(store.current().agents).length;
    if (held > 0 && !existsSync(registry.path)) {
      throw new FleetError(
        'REFUSED',
        `${registry.path} is missing: the next fleetd would start with an empty registry, a new token and port block for each of the ${held} agent(s) and its running gateway stopped and started again. Put the file back, or stop the fleet first (fleetctl daemon stop) to start over`,
      );
    }
    await registry.read().catch(wouldNotStart); // REGISTRY_INVALID as the successor would meet it
  };
  let booted = false;
  let reloadAfterBoot = false;
  const applyReload = () => {
    log.info('SIGHUP: reloading the manifest');
    void sd.reloading();
    reload(ctx, false).then(
      (r) => {
        log.info({ actions: r.actions.map((a) => `${a.kind} ${a.address}: ${a.reason}`), reconfigured: r.reconfigured.map((o) => `${o.address}: ${o.result}`) }, 'reload applied');
        void sd.ready(statusLine());
      },
      (err) => {
        log.error({ err: toFleetError(err).message }, 'reload refused; nothing changed');
        void sd.ready(statusLine());
      },
    );
  };
  signals.handle((signal) => {
    if (signal !== 'SIGUSR2' || stopping) return shutdown(signal);
    // a restart by signal has nobody to answer: refused, it is logged, and this fleetd runs on
    ctx.checkSuccessor!().then(
      () => shutdown(signal),
      (err: unknown) => {
        const refused = toFleetError(err);
        log.error({ code: refused.code, err: refused.message }, 'SIGUSR2: restart refused; this fleetd runs on, nothing changed');
      },
    );
  }, () => {
    if (stopping) return;
    if (!booted) reloadAfterBoot = true; // replayed once start-up has planned the fleet
    else applyReload();
  });

  try {
    await boot;
    booted = true;
    if (reloadAfterBoot && !stopping) applyReload();
  } catch (err) {
    // The gateways it adopted (or started) are left running, as a restart leaves them: the
    // next fleetd (systemd's Restart=, or the operator's once the cause is fixed) adopts them.
    // Stopping them here made any start-up failure after live restore (a metrics port in use,
    // a socket path under a file) an outage of every agent; their cgroups stay with them.
    log.error({ err: toFleetError(err).message }, 'fleetd could not start; the gateways it adopted or started are left running for the next fleetd to adopt');
    metricsServer?.close();
    statusUpdates.close();
    sd.close();
    upgrades.halt();
    await fleet.detachAll();
    stopSpawners();
    store.close();
    // Only what this fleetd made is removed: a socket it never bound (another fleetd's) stays.
    await closeSocket(server, bound).catch(() => {});
    await lock.release();
    output.flush();
    throw err;
  }
  await finished;
  return exitCode;
}

/** Starts the next fleetd (same command line, environment and output) when no supervisor will: `fleetctl daemon restart` by hand. */
function startSuccessor(log: Logger): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: process.env });
  child.unref();
  log.info({ pid: child.pid }, 'started the next fleetd; it adopts the gateways');
}
