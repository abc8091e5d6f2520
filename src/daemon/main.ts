#!/usr/bin/env node
// fleetd's command line. The only place (with cli/main.ts) that calls process.exit.
import { Command, CommanderError } from 'commander';
import { EXIT_CODES, toFleetError } from '../errors.js';
import { loadManifest } from '../manifest/load.js';
import { summarizeManifest } from '../manifest/summary.js';
import { VERSION } from '../version.js';
import { runDaemon } from './run.js';

/** Prints an error the way every fleetd command does and exits with its code. */
function fail(err: unknown): never {
  const error = toFleetError(err);
  process.stderr.write(`fleetd: ${error.message}\n`);
  process.exit(EXIT_CODES[error.code]);
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
Signals (start): SIGHUP reloads the manifest; SIGTERM/SIGINT stops every gateway and exits 0.
Drive a running fleetd with fleetctl (fleetctl --help).`,
  );

program
  .command('start')
  .description('run the supervisor in the foreground (what systemd expects)')
  .requiredOption('-m, --manifest <file>', 'fleet manifest (JSON5)')
  .option('--state-dir <dir>', 'override the manifest stateDir')
  .option('--socket <path>', 'override the manifest socket path')
  .option('--log-level <level>', 'pino level: trace, debug, info, warn, error', 'info')
  .option('--pretty', 'human-readable log lines even when stdout is not a terminal')
  .action(async (opts: { manifest: string; stateDir?: string; socket?: string; logLevel: string; pretty?: boolean }) => {
    try {
      const manifest = await loadManifest(opts.manifest, { stateDir: opts.stateDir, socket: opts.socket });
      const code = await runDaemon(manifest, { logLevel: opts.logLevel, pretty: opts.pretty, overrides: { stateDir: opts.stateDir, socket: opts.socket } });
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
    try {
      const manifest = await loadManifest(opts.manifest);
      const summary = summarizeManifest(manifest);
      process.stdout.write(`ok: ${summary.fleets} fleets, ${summary.agents} agents\n`);
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
