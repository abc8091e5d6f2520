// What every fleetctl command receives: its I/O and environment (injected, with real
// defaults in main.ts) and the run's mutable exit code.
import type { Command } from 'commander';
import { resolveSocket } from './socket-path.js';

/** Where fleetctl writes: results to `out` (stdout), diagnostics to `err` (stderr). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/** Everything a command touches outside its arguments. */
export interface CliDeps {
  io: CliIo;
  env: Record<string, string | undefined>;
  cwd: string;
  exists(path: string): boolean;
  now(): number;
  /** Registers a Ctrl-C handler; returns a function that removes it. */
  onInterrupt(handler: () => void): () => void;
}

/** One fleetctl run: its deps and the exit code a command may lower to "failed". */
export interface CliRun {
  deps: CliDeps;
  exitCode: number;
  /** The command after the address of `exec`/`openclaw` (cut off before commander parses; see exec/passthrough.ts). */
  passthrough?: string[];
}

/** Options every command accepts, resolved. */
export interface Globals {
  socket: string;
  json: boolean;
}

/** Reads --socket/--json from a command (wherever they were typed) and resolves the socket path. */
export function globalsOf(cmd: Command, deps: CliDeps): Globals {
  const opts = cmd.optsWithGlobals<{ socket?: string; json?: boolean }>();
  return {
    socket: resolveSocket({ flag: opts.socket, env: deps.env, cwd: deps.cwd, exists: deps.exists }),
    json: opts.json === true,
  };
}
