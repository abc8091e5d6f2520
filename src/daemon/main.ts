#!/usr/bin/env node
// fleetd's command line. The only place (with cli/main.ts) that calls process.exit.
//
// Start-up race (issue 9 item 7a): loading commander, zod, pino and the daemon takes ~0.3 s.
// A SIGTERM in that window must not kill fleetd outright, so the ONLY static import is the
// tiny early-signals module, whose handlers exist before anything else loads; the rest is
// imported dynamically below (types only statically: they vanish at compile time).
import { catchSignalsEarly, type StopSignal } from './early-signals.js';

const signals = catchSignalsEarly();

// Neither a closed stdout/stderr (EPIPE) nor any other error of the two streams may kill
// fleetd; its log goes through log-output.ts, which counts what it cannot write.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

const [{ Command, CommanderError }, { EXIT_CODES, toFleetError }, { loadManifest, manifestWarnings }, { summarizeManifest }, { VERSION }] = await Promise.all([
  import('commander'),
  import('../errors.js'),
  import('../manifest/load.js'),
  import('../manifest/summary.js'),
  import('../version.js'),
]);

/** Exit code of a process ended by `signal` before it had anything to clean up. */
const SIGNAL_EXIT: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143, SIGUSR2: 0 };

/** Prints an error the way every fleetd command does and exits with its code. */
function fail(err: unknown): never {
  const error = toFleetError(err);
  process.stderr.write(`fleetd: ${error.message}\n`);
  process.exit(EXIT_CODES[error.code]);
}

/** For commands other than `start`: a stop signal ends the process at once (nothing to clean up). */
function exitOnStop(): void {
  signals.route({ stop: (signal) => process.exit(SIGNAL_EXIT[signal]), reload: () => {} });
}

const program = new Command('fleetd')
  .description('Supervises a fleet of OpenClaw gateways: one isolated home, token and port block per agent.')
  .version(VERSION, '-V, --version')
  .showHelpAfterError('(run fleetd --help for usage)')
  .exitOverride()
  .addHelpText(
    'after',
    `
Examples:
  fleetd validate --manifest fleets.example.json5
  fleetd start --manifest /etc/fleetd/fleets.json5
Signals (start): SIGHUP reloads the manifest; SIGTERM/SIGINT stops every gateway and exits 0
(also during start-up: what was started is stopped again); SIGUSR2 restarts fleetd itself
and leaves every gateway running for the next fleetd to adopt (fleetctl daemon restart does
the same; under systemd fleetd exits 75 and the unit starts it again, by hand it starts its
successor itself; refused and logged, nothing changed, when that fleetd would not start or
would adopt nothing: an invalid manifest or registry.json, a changed stateDir, registry.json
missing). A SIGTERM while systemd restarts the unit counts as SIGUSR2.
Drive a running fleetd with fleetctl (fleetctl --help).`,
  );

program
  .command('start')
  .description('run the supervisor in the foreground (what systemd expects); signals: see fleetd --help')
  .requiredOption('-m, --manifest <file>', 'fleet manifest (JSON5)')
  .option('--state-dir <dir>', 'override the manifest stateDir')
  .option('--socket <path>', 'override the manifest socket path')
  .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent (default: FLEETD_LOG_LEVEL from the environment when set and not empty, else info; this flag wins over it)')
  .option('--pretty', 'human-readable log lines even when stdout is not a terminal')
  .option('--no-memory-reclaim', 'do not give memory back once the fleet settles (fleetd then shrinks only as V8 decides; status --json says memoryReclaim "off")')
  .action(async (opts: { manifest: string; stateDir?: string; socket?: string; logLevel?: string; pretty?: boolean; memoryReclaim: boolean }) => {
    try {
      // Never let a umask make what fleetd or its children create writable by others (under
      // umask 000 npm would leave a runtime's code world-writable): at least 022. fleetd's own
      // folders and files get explicit modes (0700/0600) anyway.
      process.umask(process.umask() | 0o022);
      const overrides = { stateDir: opts.stateDir, socket: opts.socket };
      const { resolveLogLevel } = await import('./logger.js');
      const logLevel = resolveLogLevel(opts.logLevel);
      const manifest = await loadManifest(opts.manifest, overrides);
      // Stopped before anything was started: nothing to undo.
      if (signals.pendingStop()) process.exit(0);
      const { runDaemon } = await import('./run.js');
      const code = await runDaemon(manifest, { logLevel, pretty: opts.pretty, overrides, signals, memoryReclaim: opts.memoryReclaim });
      process.exit(code);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('validate')
  .description('check a manifest and print "ok: N fleets, M agents" or every problem (exit 0 or 1)')
  .requiredOption('-m, --manifest <file>', 'fleet manifest (JSON5)')
  .action(async (opts: { manifest: string }) => {
    exitOnStop();
    try {
      const manifest = await loadManifest(opts.manifest);
      const summary = summarizeManifest(manifest);
      process.stdout.write(`ok: ${summary.fleets} fleets, ${summary.agents} agents\n`);
      for (const warning of manifestWarnings(manifest)) process.stderr.write(`warning: ${manifest.manifestPath}: ${warning}\n`);
      process.exit(0);
    } catch (err) {
      fail(err);
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : EXIT_CODES.USAGE);
  }
  fail(err);
}
