// Test helpers for the per-agent shim: a launch spec for a fake agent, a launcher in a
// separate process (so a test can SIGKILL "fleetd" and watch the shim carry on), and a raw
// NDJSON client for poking the shim's socket with anything.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ShimRecord, ShimSpecInput } from '../../src/shim/protocol.js';
import { executableOrNull, NATIVE_SHIM_PATH, type ShimClientDeps } from '../../src/supervise/shim-client.js';
import { waitFor } from '../../src/util/wait-for.js';
import { FIXTURES } from './paths.js';
import { isAlive } from '../../src/supervise/proc.js';
import { makeFakeAgent, PidTracker, processesWithEnv, readFakePids, type FakeAgent, type FakeAgentOptions } from './testkit.js';

/** The flood fixture (writes N bytes as fast as its pipe takes them). */
export const FLOOD = join(FIXTURES, 'flood.mjs');

/** One implementation of the per-agent shim, for suites that run against each. */
export interface ShimImpl {
  name: 'native' | 'node';
  /** Client deps that launch this implementation. */
  deps: Partial<ShimClientDeps>;
  /** The command that runs it by hand (spec on stdin): program and arguments. */
  command: [string, string[]];
  /** Set when it cannot run here (the native shim was not built: no C compiler). */
  skip?: string;
}

/** The native shim (src/shim/native/, built beside the compiled client) and the Node shim (src/shim/main.ts). */
export const SHIM_IMPLS: readonly ShimImpl[] = [
  {
    name: 'native',
    deps: { native: NATIVE_SHIM_PATH },
    command: [NATIVE_SHIM_PATH, []],
    ...(executableOrNull(NATIVE_SHIM_PATH) ? {} : { skip: `no native shim at ${NATIVE_SHIM_PATH} (built without a C compiler)` }),
  },
  { name: 'node', deps: { native: null }, command: [process.execPath, [fileURLToPath(new URL('../../src/shim/main.js', import.meta.url))]] },
];

/** Compiled shim client, for code run in another process. */
const CLIENT_MODULE = fileURLToPath(new URL('../../src/supervise/shim-client.js', import.meta.url));

/** The run dir a test agent's shim uses: `<dir>/agents/test/agent` (like `<stateDir>/agents/<fleet>/<agent>`). */
export function runDirOf(agent: FakeAgent): string {
  return join(agent.dir, 'agents', 'test', 'agent');
}

/** A launch spec for the fake gateway of `agent` (its token is the secret), with small logs. */
export function shimSpecFor(agent: FakeAgent, extra: Partial<ShimSpecInput> = {}): ShimSpecInput {
  const runDir = extra.runDir ?? runDirOf(agent);
  return {
    protocol: 1,
    name: agent.spec.address,
    argv: agent.spec.argv,
    cwd: agent.spec.cwd,
    env: agent.spec.env,
    runDir,
    log: { file: join(runDir, 'gateway.log'), maxBytes: 64 * 1024, maxFiles: 3 },
    secrets: [agent.token],
    specHash: 'test-hash-1',
    ...extra,
  };
}

/** A process that launched a shim and now just waits (stands for fleetd). */
export interface Launcher {
  child: ChildProcess;
  record: ShimRecord;
}

/** Launches a shim for `spec` from a separate Node process (with client `deps`); resolves with that process and the shim's record. */
export async function launchFromAnotherProcess(spec: ShimSpecInput, deps: Partial<ShimClientDeps> = {}): Promise<Launcher> {
  const code = `
    import { launchShim } from ${JSON.stringify(CLIENT_MODULE)};
    const spec = JSON.parse(process.argv[1]);
    const handle = await launchShim(spec, JSON.parse(process.argv[2]));
    handle.on('output', () => {});
    process.stdout.write(JSON.stringify(handle.record) + '\\n');
    setInterval(() => {}, 1 << 30);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code, JSON.stringify(spec), JSON.stringify(deps)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const line = await waitFor(() => (out.includes('\n') ? out.split('\n')[0] : undefined), { timeoutMs: 15_000, what: 'the launcher to print the shim record' });
  return { child, record: JSON.parse(line) as ShimRecord };
}

/** A bare NDJSON connection to a shim socket. */
export interface RawClient {
  socket: Socket;
  /** Every parsed line received so far. */
  messages: Array<Record<string, unknown>>;
  send(message: object | string): void;
  /** Waits for the first message (from `from` on) matching `match`. */
  next(match: (m: Record<string, unknown>) => boolean, from?: number, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves once the shim closed the connection. */
  closed: Promise<void>;
}

/** Connects to `path`; with `paused`, nothing is read until socket.resume() (a client that does not read). */
export async function rawClient(path: string, options: { paused?: boolean } = {}): Promise<RawClient> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const messages: Array<Record<string, unknown>> = [];
  let partial = '';
  if (options.paused) socket.pause();
  socket.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) messages.push(JSON.parse(p) as Record<string, unknown>);
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    messages,
    send: (message) => socket.write(typeof message === 'string' ? message : `${JSON.stringify(message)}\n`),
    next: (match, from = 0, timeoutMs = 5000) => waitFor(() => messages.slice(from).find(match), { timeoutMs, what: 'a message from the shim' }),
    closed,
  };
}

/** Resident memory of `pid` in bytes (0 when gone). */
export { rssBytes } from '../../src/supervise/proc.js';

/** What withShimAgent hands a test. */
export interface ShimTestContext {
  agent: FakeAgent;
  runDir: string;
  tracker: PidTracker;
}

// Every shim test ends the same way: nothing it started may survive, and its temp dir goes.
/** Runs `body` with a fake agent; afterwards proves no tracked pid (shims, gateways, helpers) survives. */
export async function withShimAgent(options: FakeAgentOptions, body: (ctx: ShimTestContext) => Promise<void>): Promise<void> {
  const agent = await makeFakeAgent(options);
  const tracker = new PidTracker();
  try {
    await body({ agent, runDir: runDirOf(agent), tracker });
    const fake = await readFakePids(agent.home);
    tracker.addFake(fake);
    // The fake's helpers outlive a crash of its main process on purpose (fleetd's stop-tree removes them).
    if (fake) for (const pid of [fake.helperPid, fake.workerPid]) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await waitFor(() => tracker.alive().length === 0, { timeoutMs: 5000, what: `no test process alive (left: ${tracker.alive().join(', ')})` });
  } finally {
    tracker.add(...processesWithEnv('OPENCLAW_CONFIG_PATH', agent.configPath));
    tracker.killAll();
    await agent.cleanup();
  }
}
