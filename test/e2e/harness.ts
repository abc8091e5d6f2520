// End-to-end harness: runs the BUILT fleetd and fleetctl (bin/*.js) as real processes on a
// temp state dir, with the fake gateway from test/fixtures/ or the real OpenClaw.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { waitFor } from '../../src/util/wait-for.js';
import { isAlive } from '../../src/supervise/proc.js';
import { FAKE_GATEWAY, readFakePids, type FakePids } from '../support/testkit.js';
import { call } from '../../src/protocol/client.js';

/** Repository root (dist/e2e/ -> ../../). */
export { REPO } from '../support/paths.js';
import { REPO } from '../support/paths.js';
/** The built binaries and the fake gateway. */
export const FLEETD = join(REPO, 'bin', 'fleetd.js');
export const FLEETCTL = join(REPO, 'bin', 'fleetctl.js');
export { FAKE_GATEWAY };

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

/** Ports one test process may use: RANGE_SIZE from its base, blocks of 100. */
const RANGE_SIZE = 500;
let reservedBase: number | undefined;

// Test files run in parallel processes; each needs port blocks no other one uses, or
// fleetd (rightly) skips a busy block and a test asserting exact ports fails. Each process
// claims one range for its lifetime with an exclusive mkdir under the temp dir (the owner's
// pid inside; a range whose owner is dead is taken over). Ranges stay below Linux's
// ephemeral ports (32768+), where outgoing connections may hold a port.
/** This process's own port base, claimed across processes on first use. */
export function processPortBase(): number {
  if (reservedBase !== undefined) return reservedBase;
  const root = join(tmpdir(), 'fleetd-test-ports');
  mkdirSync(root, { recursive: true });
  const bases = Array.from({ length: 22 }, (_, i) => 21000 + i * RANGE_SIZE);
  const start = process.pid % bases.length;
  for (let i = 0; i < bases.length; i++) {
    const base = bases[(start + i) % bases.length]!;
    const claim = join(root, String(base));
    const owner = () => {
      try {
        return Number(readFileSync(join(claim, 'pid'), 'utf8').trim());
      } catch {
        return undefined; // no pid file yet: its owner is writing it right now
      }
    };
    try {
      mkdirSync(claim);
    } catch {
      const was = owner();
      if (was === undefined || (was > 0 && isAlive(was))) continue;
      // A dead owner's claim: taken over by one process only (the one that makes the
      // takeover folder), which checks the owner again once it holds it.
      const takeover = `${claim}.takeover`;
      try {
        mkdirSync(takeover);
      } catch {
        continue;
      }
      try {
        const now = owner();
        if (now === undefined || (now > 0 && isAlive(now))) continue;
        writeFileSync(join(claim, 'pid'), String(process.pid));
      } finally {
        rmSync(takeover, { recursive: true, force: true });
      }
      reservedBase = base;
      process.once('exit', () => rmSync(claim, { recursive: true, force: true }));
      return base;
    }
    writeFileSync(join(claim, 'pid'), String(process.pid));
    reservedBase = base;
    process.once('exit', () => rmSync(claim, { recursive: true, force: true }));
    return base;
  }
  throw new Error(`no free test port range under ${root}: more than ${bases.length} test processes at once?`);
}

/** A manifest running the fake gateway with short timings; `fleets` as in the manifest. */
export function fakeManifest(fleets: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    stateDir: './state',
    socket: './fleetd.sock',
    ports: { base: processPortBase(), blockSize: 100, max: 32700 },
    gateway: { command: [process.execPath, FAKE_GATEWAY], stopTimeoutMs: 3000 },
    restart: { initialDelayMs: 100, factor: 2, maxDelayMs: 1000, resetAfterMs: 60000, noRestartExitCodes: [78] },
    health: { intervalMs: 200, timeoutMs: 150, failureThreshold: 3, startupTimeoutMs: 10000 },
    fleets,
    ...extra,
  };
}

/** Options of startFleetd. */
export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  waitRunning?: number;
  /** Run fleetd under this umask (through /bin/sh). */
  umask?: number;
  /** stdout and stderr of fleetd (default: pipes this process reads into output()). */
  stdio?: [stdout: 'pipe' | number, stderr: 'pipe' | number];
  /** withFleetd: called with the temp dir before fleetd starts (e.g. to change its mode). */
  beforeStart?: (dir: string) => Promise<void> | void;
  /** More arguments of `fleetd start` (e.g. `--log-level debug`). */
  args?: string[];
}

/** Starts the built fleetd on a manifest in `dir` and waits until its socket answers. */
export async function startFleetd(dir: string, manifest: unknown, options: StartOptions = {}): Promise<Fleetd> {
  const manifestPath = await writeManifest(dir, manifest);
  const socket = join(dir, 'fleetd.sock');
  const argv = [FLEETD, 'start', '--manifest', manifestPath, ...(options.args ?? [])];
  const [cmd, args] =
    options.umask === undefined
      ? [process.execPath, argv]
      : ['/bin/sh', ['-c', `umask ${options.umask.toString(8).padStart(3, '0')} && exec "$0" "$@"`, process.execPath, ...argv]];
  const [stdout, stderr] = options.stdio ?? ['pipe', 'pipe'];
  const child = spawn(cmd, args, { env: options.env ?? process.env, stdio: ['ignore', stdout, stderr] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ctl = (...args: string[]) => run(process.execPath, [FLEETCTL, '--socket', socket, '--json', ...args]);
  const fleetd: Fleetd = { dir, manifestPath, socket, stateDir: join(dir, 'state'), child, output: () => out, ctl, exited };
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    await waitFor(
      async () => {
        if (gone) throw new Error(`fleetd exited during start-up:\n${out}`);
        const r = await ctl('status');
        return r.code === 0;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'fleetd socket' },
    );
    if (options.waitRunning) await waitForRunning(fleetd, options.waitRunning);
  } catch (err) {
    // The caller never gets this fleetd, so nobody else would stop it: a fleetd left running
    // holds this test file's process open (its pipes) and hangs the whole run. Stop it as a
    // test's after hook would (SIGTERM: its gateways go too; SIGKILL after a bound).
    await stopFleetd(fleetd, 15_000);
    throw err;
  }
  return fleetd;
}

/** fleetctl --socket <sock> ...args without --json: the output people see. */
export function ctlText(f: Fleetd, ...args: string[]): Promise<CtlResult> {
  return run(process.execPath, [FLEETCTL, '--socket', f.socket, ...args]);
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
  const info = await fakeInfo(stateDir, address);
  // helperPid/workerPid are null in FAKE_MODE lean
  return [info.pid, info.helperPid, info.workerPid].filter((pid) => typeof pid === 'number');
}

// ---- Additions for the command, recovery and supervision tests ----

/** What the fake gateway wrote to <home>/fake-pids.json. */
export type FakeInfo = FakePids;

/** Home of an agent under the state dir (where its fake gateway writes fake-pids.json). */
export function agentHome(stateDir: string, address: string): string {
  const [fleet, agent] = address.split('/');
  return join(stateDir, 'fleets', fleet!, agent!);
}

/** The captured gateway output of an agent: fleetd's own folder for it, outside the home. */
export function gatewayLog(stateDir: string, address: string): string {
  const [fleet, agent] = address.split('/');
  return join(stateDir, 'agents', fleet!, agent!, 'gateway.log');
}

/** The whole fake-pids.json of an agent (startedAt orders gateway generations). */
export async function fakeInfo(stateDir: string, address: string): Promise<FakeInfo> {
  const info = await readFakePids(agentHome(stateDir, address));
  if (!info) throw new Error(`no fake-pids.json in ${agentHome(stateDir, address)} (the fake gateway of ${address} never started?)`);
  return info;
}

/** Status straight over the control socket (no fleetctl process): fast enough to sample a short backoff window. */
export async function socketStatus(f: Fleetd): Promise<any[]> {
  return (await call(f.socket, 'status')).agents;
}

/** Like waitForAgent, polling the socket directly every 20 ms (for states that last only a few hundred ms). */
export async function waitForAgentFast(f: Fleetd, address: string, pred: (a: any) => boolean, timeoutMs = 30_000): Promise<any> {
  return waitFor(
    async () => {
      const a = (await socketStatus(f)).find((x) => x.address === address);
      return a && pred(a) ? a : undefined;
    },
    { timeoutMs, intervalMs: 20, what: `${address} to match` },
  );
}

/** Live processes whose cwd or $HOME is `home` (a /proc scan): the whole process tree of one agent. */
export function processesOfHome(home: string): number[] {
  let real = home;
  try {
    real = realpathSync(home);
  } catch {
    // home gone: compare the plain path
  }
  const targets = new Set([home, real]);
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid || !alive(pid)) continue;
    let cwd: string | undefined;
    let envHome: string | undefined;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // gone, or not ours
    }
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      envHome = env.find((e) => e.startsWith('HOME='))?.slice(5);
    } catch {
      // gone, or not ours
    }
    if ((cwd !== undefined && targets.has(cwd)) || (envHome !== undefined && targets.has(envHome))) out.push(pid);
  }
  return out.sort((a, b) => a - b);
}

/** POSTs to a fake gateway's control route (`/__fake/crash`, `/__fake/print-token`, ...); returns the HTTP status. */
export async function fakeControl(port: number, route: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${route}`, { method: 'POST' });
  await res.text();
  return res.status;
}

/** A fleetctl run kept as a child process (`logs -f`): its output so far and its exit. */
export interface CtlChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `fleetctl --socket <sock> ...args` without waiting for it. */
export function spawnCtl(f: Fleetd, ...args: string[]): CtlChild {
  const child = spawn(process.execPath, [FLEETCTL, '--socket', f.socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Marker file name: while `<dir>/refuse-<fleet>-<agent>` exists, the switchable gateway refuses its config. */
export function refuseMarker(dir: string, address: string): string {
  const [fleet, agent] = address.split('/');
  return join(dir, `refuse-${fleet}-${agent}`);
}

/**
 * Writes `<dir>/gw.mjs`, a gateway command that runs the fake gateway, adding FAKE_MODE=exit78
 * (the fake's own config refusal, exit 78) while the agent's refuseMarker exists. Lets a test
 * break one agent and repair it again without touching the manifest. Returns the command.
 */
export async function writeSwitchableGateway(dir: string): Promise<string[]> {
  const { pathToFileURL } = await import('node:url');
  const script = join(dir, 'gw.mjs');
  await writeFile(
    script,
    `import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
const home = process.env.HOME ?? process.cwd();
const marker = join(${JSON.stringify(dir)}, \`refuse-\${basename(dirname(home))}-\${basename(home)}\`);
if (existsSync(marker)) process.env.FAKE_MODE = [process.env.FAKE_MODE, 'exit78'].filter(Boolean).join(',');
await import(${JSON.stringify(pathToFileURL(FAKE_GATEWAY).href)});
`,
  );
  return [process.execPath, script];
}

/**
 * The usual shape of an end-to-end test: a temp dir, fleetd on `manifest`, the body, then
 * fleetd stopped (SIGTERM), every pid the body saw (push them to `seen`) dead, the dir removed.
 */
export async function withFleetd(
  manifest: unknown,
  options: StartOptions,
  body: (f: Fleetd, seen: number[]) => Promise<void>,
): Promise<void> {
  const dir = await tempDir();
  const seen: number[] = [];
  await options.beforeStart?.(dir);
  const f = await startFleetd(dir, manifest, options);
  try {
    await body(f, seen);
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
}
