// Spawns one gateway: exactly the spec's argv, cwd and environment (nothing of fleetd's own
// env), in its own process group and session, stdin closed, stdout/stderr handed to the
// caller. It never throws and never rejects: a command that cannot start is reported
// through `exited` like any other ending, with a reason people can act on.
//
// node:child_process, not execa: none of execa's extras apply here (no buffering, no
// rejection, no cleanup on exit, no kill escalation), and loading it kept ~130 modules in
// fleetd's memory while every spawn built its promise and stream machinery for nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { readStat } from './proc.js';
import type { LaunchSpec } from './types.js';

/** How a spawned gateway ended. */
export interface GatewayExit {
  code: number | null;
  signal: string | null;
  /** Set when it could not be started at all (command not found, bad cwd, spawn error). */
  error?: string;
}

/** A spawned gateway. */
export interface GatewayProcess {
  /** null when the spawn failed. */
  pid: number | null;
  /** Field 22 of /proc/<pid>/stat, read right after the spawn; null when unknown. */
  startTime: string | null;
  /** Resolves at the exit itself (the output may still be draining). */
  exitSeen: Promise<void>;
  /** Resolves once the process exited and its output was drained (or a short grace passed). */
  exited: Promise<GatewayExit>;
}

/** Where the gateway's output goes. */
export interface SpawnIo {
  onStdout(chunk: Buffer): void;
  onStderr(chunk: Buffer): void;
}

/** The spawn dependency of the runner. */
export type SpawnFn = (spec: LaunchSpec, io: SpawnIo) => GatewayProcess;

/** How long to wait for the pipes to drain after the exit (children may hold them open). */
export const DRAIN_GRACE_MS = 250;

/** Finds `command` like execvp would, but in the gateway's PATH, not fleetd's. */
export function resolveCommand(command: string, pathEnv: string | undefined, cwd: string): string | undefined {
  if (command.includes('/')) {
    const full = isAbsolute(command) ? command : resolve(cwd, command);
    return isExecutableFile(full) ? full : undefined;
  }
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (!dir) continue;
    const full = join(isAbsolute(dir) ? dir : resolve(cwd, dir), command);
    if (isExecutableFile(full)) return full;
  }
  return undefined;
}

/** True for a regular file we may execute. */
function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A GatewayProcess that never ran. */
function failedSpawn(error: string): GatewayProcess {
  return { pid: null, startTime: null, exitSeen: Promise.resolve(), exited: Promise.resolve({ code: null, signal: null, error }) };
}

// `detached: true`: the gateway leads its own session and group, and when fleetd itself dies
// it lives on there and is found again through its recorded pid + start time (orphans.ts).
/** Spawns the gateway of `spec`; see GatewayProcess. */
export const spawnGateway: SpawnFn = (spec, io) => {
  const [command, ...args] = spec.argv;
  if (!command) return failedSpawn('empty command (argv is empty)');
  try {
    if (!statSync(spec.cwd).isDirectory()) return failedSpawn(`working directory ${spec.cwd} is not a directory`);
  } catch {
    return failedSpawn(`working directory ${spec.cwd} does not exist`);
  }
  const file = resolveCommand(command, spec.env.PATH, spec.cwd);
  if (!file) return failedSpawn(`command not found or not executable: "${command}" (PATH=${spec.env.PATH ?? ''})`);

  let subprocess: ChildProcess;
  try {
    subprocess = spawn(file, args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
  } catch (err) {
    return failedSpawn(`spawn ${file} failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  const pid = subprocess.pid ?? null;
  // Read now, synchronously: until the event loop reaps it, even an instant exit leaves a zombie to read.
  const startTime = pid === null ? null : (readStat(pid)?.startTime ?? null);
  subprocess.stdout?.on('data', (chunk: Buffer | string) => io.onStdout(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
  subprocess.stderr?.on('data', (chunk: Buffer | string) => io.onStderr(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
  // a read error on a pipe ends its output; it must never crash fleetd
  subprocess.stdout?.on('error', () => undefined);
  subprocess.stderr?.on('error', () => undefined);

  let markSeen: () => void = () => undefined;
  const exitSeen = new Promise<void>((resolveSeen) => {
    markSeen = resolveSeen;
  });
  const exited = new Promise<GatewayExit>((resolveExit) => {
    let done = false;
    const finish = (value: GatewayExit) => {
      if (done) return;
      done = true;
      markSeen();
      resolveExit(value);
    };
    subprocess.once('exit', (code, signal) => {
      markSeen();
      // Let the last lines (OpenClaw's config error) arrive before reporting the exit.
      const streams = [subprocess.stdout, subprocess.stderr].filter((st) => st !== null && st !== undefined && !st.readableEnded);
      let pending = streams.length;
      const timer = setTimeout(() => finish({ code, signal }), DRAIN_GRACE_MS);
      const drained = () => {
        pending -= 1;
        if (pending > 0) return;
        clearTimeout(timer);
        finish({ code, signal });
      };
      if (pending === 0) {
        clearTimeout(timer);
        finish({ code, signal });
      }
      for (const st of streams) {
        let counted = false;
        const once = () => {
          if (counted) return;
          counted = true;
          drained();
        };
        st?.once('end', once);
        st?.once('close', once);
      }
    });
    // A spawn that fails (EACCES, E2BIG ...) emits 'error' and no 'exit'; later errors
    // (none expected: fleetd signals by pid) must not become uncaught exceptions.
    subprocess.on('error', (err: Error) => {
      if (pid === null) finish({ code: null, signal: null, error: `spawn ${file} failed: ${err.message}` });
    });
  });
  return { pid, startTime, exitSeen, exited };
};
