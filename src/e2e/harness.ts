// End-to-end harness: runs the BUILT fleetd and fleetctl (bin/*.js) as real processes on a
// temp state dir, with the fake gateway from test/fixtures/ or the real OpenClaw.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../util/wait-for.js';
import { isAlive } from '../supervise/proc.js';

/** Repository root (dist/e2e/ -> ../../). */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The built binaries and the fake gateway. */
export const FLEETD = join(REPO, 'bin', 'fleetd.js');
export const FLEETCTL = join(REPO, 'bin', 'fleetctl.js');
export const FAKE_GATEWAY = join(REPO, 'test', 'fixtures', 'fake-gateway.mjs');

/** A temp dir removed by `cleanup`. */
export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'fd-'));
}

/** Result of one fleetctl run. */
export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

/** Runs a command to completion, capturing its output. */
export function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CtlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, stdout, stderr, json });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A running fleetd under test. */
export interface Fleetd {
  dir: string;
  manifestPath: string;
  socket: string;
  stateDir: string;
  child: ChildProcess;
  /** Everything fleetd printed (JSON log lines). */
  output: () => string;
  /** fleetctl --socket <sock> --json ...args */
  ctl: (...args: string[]) => Promise<CtlResult>;
  /** Resolves with the exit code once fleetd exits. */
  exited: Promise<number | null>;
}

/** Writes a manifest (object -> JSON) into dir. */
export async function writeManifest(dir: string, manifest: unknown, name = 'fleets.json5'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof manifest === 'string' ? manifest : JSON.stringify(manifest, null, 2));
  return path;
}

/** A manifest running the fake gateway with short timings; `fleets` as in the manifest. */
export function fakeManifest(fleets: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    stateDir: './state',
    socket: './fleetd.sock',
    ports: { base: 30000 + Math.floor(Math.random() * 300) * 100, blockSize: 100, max: 65000 },
    gateway: { command: [process.execPath, FAKE_GATEWAY], stopTimeoutMs: 3000 },
    restart: { initialDelayMs: 100, factor: 2, maxDelayMs: 1000, resetAfterMs: 60000, noRestartExitCodes: [78] },
    health: { intervalMs: 200, timeoutMs: 150, failureThreshold: 3, startupTimeoutMs: 10000 },
    fleets,
    ...extra,
  };
}

/** Starts the built fleetd on a manifest in `dir` and waits until its socket answers. */
export async function startFleetd(dir: string, manifest: unknown, options: { env?: NodeJS.ProcessEnv; waitRunning?: number } = {}): Promise<Fleetd> {
  const manifestPath = await writeManifest(dir, manifest);
  const socket = join(dir, 'fleetd.sock');
  const child = spawn(process.execPath, [FLEETD, 'start', '--manifest', manifestPath], { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ctl = (...args: string[]) => run(process.execPath, [FLEETCTL, '--socket', socket, '--json', ...args]);
  const fleetd: Fleetd = { dir, manifestPath, socket, stateDir: join(dir, 'state'), child, output: () => out, ctl, exited };
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(
    async () => {
      if (gone) throw new Error(`fleetd exited during start-up:\n${out}`);
      const r = await ctl('status');
      return r.code === 0;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: 'fleetd socket' },
  );
  if (options.waitRunning) await waitForRunning(fleetd, options.waitRunning);
  return fleetd;
}

/** Status of all agents (fleetctl status --json). */
export async function status(f: Fleetd): Promise<any[]> {
  const r = await f.ctl('status');
  if (r.code !== 0) throw new Error(`status failed: ${r.stderr}`);
  return r.json.agents;
}

/** Waits until `count` agents are running. */
export async function waitForRunning(f: Fleetd, count: number, timeoutMs = 60_000): Promise<any[]> {
  return waitFor(
    async () => {
      const agents = await status(f);
      return agents.filter((a) => a.state === 'running').length >= count ? agents : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `${count} running agents` },
  );
}

/** Waits until one agent matches `pred`. */
export async function waitForAgent(f: Fleetd, address: string, pred: (a: any) => boolean, timeoutMs = 30_000): Promise<any> {
  return waitFor(
    async () => {
      const a = (await status(f)).find((x) => x.address === address);
      return a && pred(a) ? a : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `${address} to match` },
  );
}

/** True when the pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  return isAlive(pid);
}

/** Sends SIGTERM to fleetd and waits for it to exit; returns its exit code. */
export async function stopFleetd(f: Fleetd, timeoutMs = 60_000): Promise<number | null> {
  if (f.child.exitCode !== null) return f.child.exitCode;
  f.child.kill('SIGTERM');
  const timer = setTimeout(() => f.child.kill('SIGKILL'), timeoutMs);
  const code = await f.exited;
  clearTimeout(timer);
  return code;
}

/** Waits until none of `pids` is alive. */
export async function waitAllDead(pids: number[], timeoutMs = 15_000): Promise<void> {
  await waitFor(() => pids.every((p) => !alive(p)), { timeoutMs, what: `pids ${pids.join(',')} to exit` });
}

/** Removes a temp dir. */
export async function cleanup(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** PIDs the fake gateway of an agent wrote (main, helper in its own group, worker). */
export async function fakePids(stateDir: string, address: string): Promise<number[]> {
  const [fleet, agent] = address.split('/');
  const { readFile } = await import('node:fs/promises');
  const raw = JSON.parse(await readFile(join(stateDir, 'fleets', fleet!, agent!, 'fake-pids.json'), 'utf8')) as { pid: number; helperPid: number; workerPid: number };
  return [raw.pid, raw.helperPid, raw.workerPid];
}
