// Test helpers shared by the supervise tests (and usable by the daemon's): an agent home
// with a config for the fake gateway, a LaunchSpec for it, a logger that remembers errors,
// and a pid tracker that proves at the end of a test that no process it saw is alive.
import { processesWithEnv as findMarked } from '../../src/supervise/proc.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import type { RecordedProcess } from '../../src/plan/types.js';
import { waitFor } from '../../src/util/wait-for.js';
import { isAlive } from '../../src/supervise/proc.js';
import { createRunner, type Runner, type RunnerDeps, type RunnerLogger } from '../../src/supervise/runner.js';
import type { AgentState, LaunchSpec } from '../../src/supervise/types.js';

/** Absolute path of test/fixtures/fake-gateway.mjs (from dist/supervise/). */
export { FAKE_GATEWAY } from './paths.js';
import { FAKE_GATEWAY } from './paths.js';

/** What the fake gateway writes to <HOME>/fake-pids.json. */
export interface FakePids {
  pid: number;
  pgid: number | null;
  /** null in FAKE_MODE lean (no helpers): tests that read these two never use lean. */
  helperPid: number;
  workerPid: number;
  port: number;
  envKeys: string[];
  /** Working directory of the gateway. */
  cwd: string;
  /** Where its fd 0 points (null: closed). */
  stdin: string | null;
  startedAt: string;
}

/** A temp dir with one agent home set up for the fake gateway. */
export interface FakeAgent {
  dir: string;
  home: string;
  port: number;
  token: string;
  configPath: string;
  spec: LaunchSpec;
  /** Rewrites openclaw.json (e.g. add `fakeFail`, or fix it again). */
  writeConfig(extra?: Record<string, unknown>): Promise<void>;
  cleanup(): Promise<void>;
}

/** Options of makeFakeAgent. */
export interface FakeAgentOptions {
  mode?: string;
  config?: Record<string, unknown>;
  spec?: Partial<LaunchSpec>;
}

/** Creates a mkdtemp dir, an agent home, its config and a LaunchSpec with small timings. */
export async function makeFakeAgent(options: FakeAgentOptions = {}): Promise<FakeAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
  const home = join(dir, 'h');
  await mkdir(join(home, 'logs'), { recursive: true });
  const port = await getPort({ host: '127.0.0.1' });
  const token = randomBytes(32).toString('hex');
  const configPath = join(home, 'openclaw.json');
  const writeConfig = async (extra: Record<string, unknown> = {}) => {
    const config = {
      gateway: { mode: 'local', port, bind: 'loopback', auth: { mode: 'token', token } },
      logging: { file: join(home, 'logs', 'openclaw.log') },
      ...extra,
    };
    await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  };
  await writeConfig(options.config);
  const env: Record<string, string> = { HOME: home, PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, OPENCLAW_CONFIG_PATH: configPath };
  if (options.mode) env.FAKE_MODE = options.mode;
  const spec: LaunchSpec = {
    address: 'test/agent',
    argv: ['node', FAKE_GATEWAY, '--port', String(port)],
    cwd: home,
    env,
    port,
    token,
    logFile: join(home, 'logs', 'gateway.log'),
    logs: { maxBytes: 1024 * 1024, maxFiles: 3 },
    stopTimeoutMs: 3000,
    health: { intervalMs: 100, timeoutMs: 400, failureThreshold: 3, startupTimeoutMs: 5000 },
    restart: { initialDelayMs: 100, factor: 2, maxDelayMs: 1000, resetAfterMs: 60_000, noRestartExitCodes: [78] },
    ...options.spec,
  };
  return { dir, home, port, token, configPath, spec, writeConfig, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Reads <home>/fake-pids.json; undefined until the fake wrote it. */
export async function readFakePids(home: string): Promise<FakePids | undefined> {
  try {
    return JSON.parse(await readFile(join(home, 'fake-pids.json'), 'utf8')) as FakePids;
  } catch {
    return undefined;
  }
}

/** A logger that keeps what it is told; `errors` must stay empty in a healthy test. */
export interface MemoryLogger extends RunnerLogger {
  lines: Array<{ level: string; obj: object; msg?: string }>;
  errors(): Array<{ obj: object; msg?: string }>;
}

/** Creates a MemoryLogger (children share the parent's lines). */
export function memoryLogger(lines: MemoryLogger['lines'] = []): MemoryLogger {
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return {
    lines,
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => memoryLogger(lines),
    errors: () => lines.filter((l) => l.level === 'error').map(({ obj, msg }) => ({ obj, msg })),
  };
}

// A process can escape every pid list (forked the instant its parent died); but it still
// carries the agent's environment, and each test agent has its own config path.
/** Living processes whose environment contains `name=value` (this user's processes only). */
export function processesWithEnv(name: string, value: string): number[] {
  return findMarked(name, value).map((p) => p.pid);
}

/** Remembers every pid a test saw; proves they are all gone, or kills them on failure. */
export class PidTracker {
  readonly pids = new Set<number>();

  add(...pids: Array<number | null | undefined>): void {
    for (const pid of pids) if (typeof pid === 'number' && pid > 0) this.pids.add(pid);
  }

  /** Adds main, helper and worker of a fake-pids.json. */
  addFake(pids: FakePids | undefined): void {
    if (pids) this.add(pids.pid, pids.helperPid, pids.workerPid);
  }

  /** Pids still alive (kill(pid, 0) succeeds and it is not a zombie). */
  alive(): number[] {
    return [...this.pids].filter((pid) => isAlive(pid));
  }

  /** Last resort after a failed test: SIGKILL whatever is left. */
  killAll(): void {
    for (const pid of this.alive()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

/** POSTs to a control route of the fake gateway (`/__fake/crash?code=3`, ...). */
export async function postFake(port: number, path: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST' });
  return res.json();
}

/** What withFakeRunner hands to the test body. */
export interface FakeRunnerContext {
  agent: FakeAgent;
  runner: Runner;
  logger: MemoryLogger;
  tracker: PidTracker;
  /** Every state the runner entered, in order. */
  states: AgentState[];
  /** Every 'process' event. */
  processes: Array<RecordedProcess | null>;
  /** fake-pids.json of the gateway with pid `pid` (waits until the fake wrote it); tracks its pids. */
  fakeOf(pid: number | null): Promise<FakePids>;
}

// The common frame of every runner test: a fresh agent and runner; afterwards stop it and
// prove that nothing the test saw survived and that the runner logged no bug.
/** Runs `body` with a fake agent and its runner, then checks stop + no survivors + no errors. */
export async function withFakeRunner(
  options: FakeAgentOptions,
  body: (ctx: FakeRunnerContext) => Promise<void>,
  deps: Partial<RunnerDeps> = {},
): Promise<void> {
  const agent = await makeFakeAgent(options);
  const logger = memoryLogger();
  const runner = createRunner(agent.spec, { logger, ...deps });
  const tracker = new PidTracker();
  const states: AgentState[] = [];
  const processes: Array<RecordedProcess | null> = [];
  runner.on('state', (s) => void (states.at(-1) !== s.state && states.push(s.state))); // transitions only: a spawn inside `starting` also reports
  runner.on('process', (p) => {
    processes.push(p);
    tracker.add(p?.pid);
  });
  const fakeOf = async (pid: number | null) => {
    const pids = await waitFor(
      async () => {
        const p = await readFakePids(agent.home);
        return p && p.pid === pid ? p : undefined;
      },
      { timeoutMs: 5000, what: `fake-pids.json of pid ${pid}` },
    );
    tracker.addFake(pids);
    return pids;
  };
  try {
    await body({ agent, runner, logger, tracker, states, processes, fakeOf });
    await runner.stop();
    assert.equal(runner.status().state, 'stopped');
    assert.deepEqual(tracker.alive(), [], 'no process of the test may survive');
    assert.deepEqual(processesWithEnv('OPENCLAW_CONFIG_PATH', agent.configPath), [], 'no process with this agent\'s environment survives');
    // error level is for agents that failed (expected in some tests) and for runner bugs (never)
    assert.deepEqual(logger.errors().filter((e) => (e.obj as { to?: string }).to !== 'failed'), []);
  } finally {
    await runner.stop().catch(() => undefined);
    tracker.add(...processesWithEnv('OPENCLAW_CONFIG_PATH', agent.configPath));
    tracker.killAll();
    await agent.cleanup();
  }
}

/** Starts the fake gateway of `agent` directly (detached, own group, like a gateway left by a killed fleetd); resolves once it answers. */
export async function spawnDetachedFake(agent: FakeAgent, tracker: PidTracker, mode?: string): Promise<FakePids> {
  const env = { ...agent.spec.env, ...(mode ? { FAKE_MODE: mode } : {}) };
  const child = spawn(process.execPath, [FAKE_GATEWAY, '--port', String(agent.port)], { cwd: agent.home, env, detached: true, stdio: 'ignore' });
  tracker.add(child.pid);
  child.unref();
  const pids = await waitFor(
    async () => {
      const p = await readFakePids(agent.home);
      return p && p.pid === child.pid ? p : undefined;
    },
    { timeoutMs: 5000, what: 'fake-pids.json of the detached fake' },
  );
  tracker.addFake(pids);
  await waitFor(() => fetch(`http://127.0.0.1:${agent.port}/healthz`).then((r) => r.ok), { timeoutMs: 5000, what: 'detached fake listening' });
  return pids;
}
