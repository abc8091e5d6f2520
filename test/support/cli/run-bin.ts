// Runs the built bin/fleetctl.js as a real process for the CLI tests.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** Path of bin/fleetctl.js (from dist/cli/testing/). */
export { FLEETCTL_BIN } from '../paths.js';
import { FLEETCTL_BIN } from '../paths.js';

/** Outcome of one fleetctl run. */
export interface BinResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The environment of the test run without FLEETD_SOCKET, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'FLEETD_SOCKET') env[key] = value;
  return { ...env, ...extra };
}

/** Starts fleetctl with `args`; the caller awaits or drives the subprocess. */
export function startFleetctl(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
  return execa(process.execPath, [FLEETCTL_BIN, ...args], {
    reject: false,
    stripFinalNewline: false,
    env: options.env ?? cleanEnv(),
    extendEnv: false,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdin: 'ignore',
  });
}

/** Runs fleetctl to the end. */
export async function runFleetctl(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<BinResult> {
  const result = await startFleetctl(args, options);
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
