// Spawns one gateway: exactly the spec's argv, cwd and environment (nothing of the
// spawner's own env), in its own process group and session, stdin closed, stdout/stderr
// handed to the caller. It never throws and never rejects: a command that cannot start
// is reported through `exited` like any other ending, with a reason people can act on.
// Used by fleetd and by the per-agent shim (src/shim/), which must start small: plain
// node:child_process, no execa (execa alone costs a shim ~13 MB RSS and ~60 ms to load).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { readStat } from './proc.js';
import { withCgroupJoin } from '../isolation/launch-chain.js';
import type { LaunchSpec } from './types.js';
import type { WatchMiss, WatchOptions } from './shim-handle.js';

/** How a spawned gateway ended. */
export interface GatewayExit {
  code: number | null;
  signal: string | null;
  /** Set when it could not be started at all (command not found, bad cwd, spawn error). */
  error?: string;
  /** epoch ms of the exit when known exactly (the shim recorded it, perhaps while fleetd was away). */
  at?: number;
  /** Set when fleetd lost the process's output holder without an exit: the gateway may still live. */
  lost?: string;
  /** Set when fleetd let go of the process on purpose (detach for a restart of fleetd): not an exit. */
  detached?: boolean;
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
  /**
   * Set when something other than the runner writes the captured log (the per-agent shim):
   * the runner then only keeps its tail and sends its notes here, redacted by the writer.
   */
  log?: {
    note(text: string): void;
    /** Recent output from before the runner took the process (adoption). */
    tail?: { stdout: string; stderr: string };
    /** Live output (already redacted) for the runner's tail; returns the unsubscribe. */
    subscribe?(listener: (stream: 'stdout' | 'stderr', text: string) => void): () => void;
  };
  /**
   * Set when the process's holder can watch its readiness for the runner (a native shim:
   * protocol.ts `watch`): `watch` resolves once the holder watches, rejects when it will not;
   * `onMiss` hears the first check that was not a 200, and the watch has then ended. A new
   * watch replaces the current one; `unwatch` ends it.
   */
  readiness?: {
    watch(options: WatchOptions, onMiss: (miss: WatchMiss) => void): Promise<void>;
    /** `timeoutMs`: as ShimHandle.unwatch (null: wait for the holder's answer however late; it rejects only once the holder is unreachable). */
    unwatch(timeoutMs?: number | null): Promise<void>;
    /** Resolves when the holder answers within `timeoutMs` (ms): its loop, and so its watch, runs; rejects otherwise. */
    ping(timeoutMs: number): Promise<void>;
  };
  /** Lets go of a gateway that must outlive fleetd (live restore): it keeps running and is adopted by the next fleetd. */
  detach?(): Promise<void>;
  /**
   * The holder did not tell the exit of a stopped gateway (it is stopped or stuck): ends the
   * holder (SIGKILL), so `exited` settles and close() can remove its files, and no holder of
   * a dead gateway refuses the next launch. Returns what it did, for the reason; null when
   * the holder was already gone.
   */
  killHolder?(): string | null;
  /** Ends the run after its exit was handled (removes the holder's files). */
  close?(): Promise<void>;
}

/** Where the gateway's output goes. */
export interface SpawnIo {
  onStdout(chunk: Buffer): void;
  onStderr(chunk: Buffer): void;
  /** Aborts when the launch is cancelled (stop, restart): a spawn that waits (a shim's ready line) gives up then and rejects. */
  signal?: AbortSignal;
}

/** The spawn dependency of the runner. */
export type SpawnFn = (spec: LaunchSpec, io: SpawnIo) => GatewayProcess | Promise<GatewayProcess>;

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
export function isExecutableFile(path: string): boolean {
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

/** What spawnProcess needs of a launch: the argv, the cgroups to join first, working directory and complete environment. */
export type GatewayCommand = Pick<LaunchSpec, 'argv' | 'cwd' | 'env' | 'cgroupProcs'>;

// `detached: true` (setsid): when the spawner dies, the gateway lives on in its own group
// and session (found again through its recorded pid + start time, orphans.ts), and a
// Ctrl-C in fleetd's terminal never reaches it. Nothing is killed when the spawner exits.
/** Spawns `command`; see GatewayProcess. */
export function spawnProcess(command: GatewayCommand, io: SpawnIo): GatewayProcess {
  // Node runs nothing in the child between fork and exec: the cgroups are joined by the `/bin/sh` step
  const [program, ...args] = withCgroupJoin(command.argv, command.cgroupProcs, command.env);
  if (!program) return failedSpawn('empty command (argv is empty)');
  try {
    if (!statSync(command.cwd).isDirectory()) return failedSpawn(`working directory ${command.cwd} is not a directory`);
  } catch {
    return failedSpawn(`working directory ${command.cwd} does not exist`);
  }
  const file = resolveCommand(program, command.env.PATH, command.cwd);
  if (!file) return failedSpawn(`command not found or not executable: "${program}" (PATH=${command.env.PATH ?? ''})`);

  let child: ChildProcess;
  try {
    child = spawn(file, args, { cwd: command.cwd, env: command.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
  } catch (err) {
    return failedSpawn(`spawn ${file} failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  const pid = child.pid ?? null;
  // Read now, synchronously: until the event loop reaps it, even an instant exit leaves a zombie to read.
  const startTime = pid === null ? null : (readStat(pid)?.startTime ?? null);
  child.stdout?.on('data', (chunk: Buffer) => io.onStdout(chunk));
  child.stderr?.on('data', (chunk: Buffer) => io.onStderr(chunk));
  // a read error on a pipe ends its output; it must never crash the spawner
  child.stdout?.on('error', () => undefined);
  child.stderr?.on('error', () => undefined);

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
    child.once('exit', (code, signal) => {
      markSeen();
      // Let the last lines (OpenClaw's config error) arrive before reporting the exit.
      waitForDrain([child.stdout, child.stderr], () => finish({ code, signal }));
    });
    // exec failures (EACCES, ENOEXEC...) arrive here without an 'exit'; later errors (a failed kill) do not end anything.
    child.on('error', (err: Error) => {
      if (pid === null) finish({ code: null, signal: null, error: `spawn ${file} failed: ${err.message}` });
    });
  });
  return { pid, startTime, exitSeen, exited };
}

/** Calls `done` once every stream ended or closed, or after DRAIN_GRACE_MS (children may hold the pipes open). */
function waitForDrain(streams: Array<Readable | null>, done: () => void): void {
  const open = streams.filter((st): st is Readable => st !== null && !st.readableEnded);
  let pending = open.length;
  if (pending === 0) return done();
  let finished = false;
  const end = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    done();
  };
  const timer = setTimeout(end, DRAIN_GRACE_MS);
  for (const st of open) {
    let counted = false;
    const once = () => {
      if (counted) return;
      counted = true;
      pending -= 1;
      if (pending === 0) end();
    };
    st.once('end', once);
    st.once('close', once);
  }
}

/** Spawns the gateway of `spec` (the runner's spawn dependency); see spawnProcess. */
export const spawnGateway = (spec: LaunchSpec, io: SpawnIo): GatewayProcess => spawnProcess(spec, io);
