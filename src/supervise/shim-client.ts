// fleetd's side of the per-agent shims (src/shim/): launch one for a gateway, or attach to
// one a previous fleetd left running. Attaching either gives a handle or says exactly why
// it cannot (no shim recorded, shim dead, socket refused, gateway already ended and how),
// classified where the failure happens, never from message text. Identity is checked the
// way adoption needs it: pids with their /proc start times, from shim.json and again in
// the shim's hello.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { FleetError } from '../errors.js';
import { encodeLine, MAX_MESSAGE_BYTES, readyLineSchema, SHIM_PROTOCOL, shimMessageSchema, type ExitRecord, type ShimMessage, type ShimRecord, type ShimSpecInput } from '../shim/protocol.js';
import { readExitRecord, readShimRecord, runDirFiles } from '../shim/records.js';
import { ensureRunDir, liveShimIn } from '../shim/run-dir.js';
import { createLineSplitter } from '../util/line-splitter.js';
import { connectUnixSocket } from '../util/unix-socket.js';
import { isSameProcess } from './proc.js';
import { isExecutableFile } from './spawn-gateway.js';
import { launchViaSpawner } from './shim-spawner.js';
import { createExitedHandle, createLiveHandle, type ShimHandle, type ShimHandleOptions } from './shim-handle.js';

export type { ShimHandle, ShimOutcome, ShimTail } from './shim-handle.js';

// Measured in bench/shim.mjs (bench/shim-results.md, docs/readme/shim.md): a small young
// generation keeps a flooded shim's peak RSS ~20 MB lower at no cost in throughput; the old
// space cap (8x the heap a shim uses) turns a leak into a visible shim loss instead of a
// host-wide memory problem. --jitless/--lite-mode save ~4 MB of shared RSS, no USS, and
// cost throughput; --v8-pool-size changes nothing measurable.
/** Node flags of a shim process. */
export const SHIM_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--max-old-space-size=64'];

/** What the shim client touches; real defaults from resolveShimDeps. */
export interface ShimClientDeps extends ShimHandleOptions {
  /**
   * The native shim binary (src/shim/native/, built into dist/shim/fleetd-shim), started
   * directly; null: run the Node shim (`nodePath nodeFlags entry`). Both speak the one
   * protocol (src/shim/protocol.ts), so either adopts the other's gateways. Default: the
   * binary beside this module when the build made it, else null.
   */
  native: string | null;
  /** Node binary running the Node shim (default: fleetd's own). */
  nodePath: string;
  /** The shim's entry module (default: dist/shim/main.js beside this file). */
  entry: string;
  nodeFlags: readonly string[];
  /** launchShim: how long the shim may take to print its ready line, ms. */
  readyTimeoutMs: number;
  /** attachShim: how long connect + hello may take, ms. */
  helloTimeoutMs: number;
}

/** Where the build puts the native shim: beside the compiled shim modules. */
export const NATIVE_SHIM_PATH = fileURLToPath(new URL('../shim/fleetd-shim', import.meta.url));

/** `path` when it is an executable regular file, else null (a build without a C compiler makes none). */
export function executableOrNull(path: string): string | null {
  return isExecutableFile(path) ? path : null;
}

/** Which shim `deps` launch, for fleetd's start-up log and doctor: the binary's path, or the Node entry. */
export function describeShim(deps: Partial<ShimClientDeps> = {}): { kind: 'native' | 'node'; path: string } {
  const d = resolveShimDeps(deps);
  return d.native !== null ? { kind: 'native', path: d.native } : { kind: 'node', path: d.entry };
}

/** `deps` completed with the real defaults. */
export function resolveShimDeps(deps: Partial<ShimClientDeps> = {}): ShimClientDeps {
  return {
    native: deps.native !== undefined ? deps.native : executableOrNull(NATIVE_SHIM_PATH),
    nodePath: process.execPath,
    entry: fileURLToPath(new URL('../shim/main.js', import.meta.url)),
    nodeFlags: SHIM_NODE_FLAGS,
    readyTimeoutMs: 15_000,
    helloTimeoutMs: 5000,
    requestTimeoutMs: 5000,
    closeWaitMs: 5000,
    now: () => Date.now(),
    warn: () => undefined,
    ...deps,
  };
}

/** Why attachShim found no live shim to attach to. */
export type AttachFailure =
  /** No shim.json: no shim was launched here, or its run was closed. */
  | { reason: 'no-shim'; message: string }
  /** shim.json or exit.json unreadable, malformed, or contradicting each other. */
  | { reason: 'invalid'; message: string }
  /** The gateway ended (exit.json, exact code/signal and last output); `handle` can only close(). */
  | { reason: 'exited'; message: string; record: ShimRecord; exit: ExitRecord; handle: ShimHandle }
  /** The shim pid is gone (or reused) and recorded no exit; the gateway may live on without an output holder. */
  | { reason: 'shim-dead'; message: string; record: ShimRecord; gatewayAlive: boolean }
  /** The shim lives but its socket does not answer (missing, refused, no hello in time). */
  | { reason: 'refused'; message: string; record: ShimRecord }
  /** Another client is attached (attach with takeover to replace it). */
  | { reason: 'busy'; message: string; record: ShimRecord }
  /** The shim speaks another protocol version. */
  | { reason: 'protocol'; message: string; record: ShimRecord }
  /** The shim or its gateway is not the one expected (`expect`, or hello contradicting shim.json). */
  | { reason: 'mismatch'; message: string; record: ShimRecord };

/** Result of attachShim. */
export type AttachResult = { ok: true; handle: ShimHandle } | ({ ok: false } & AttachFailure);

/** Options of attachShim. */
export interface AttachOptions {
  /** Replace a client already attached (fleetd holds the state lock: any other client is stale). */
  takeover?: boolean;
  /** What fleetd's registry says runs there; any difference is a `mismatch`. */
  expect?: { gatewayPid?: number; gatewayStartTime?: string; specHash?: string };
}

/** Attaches to the shim recorded in `runDir`; see AttachResult. Never throws for a missing or dead shim. */
export async function attachShim(runDir: string, options: AttachOptions = {}, deps: Partial<ShimClientDeps> = {}): Promise<AttachResult> {
  const d = resolveShimDeps(deps);
  const read = await readShimRecord(runDir);
  if (read.state === 'absent') return { ok: false, reason: 'no-shim', message: `no shim recorded in ${runDir} (no ${runDirFiles(runDir).record})` };
  if (read.state === 'invalid') return { ok: false, reason: 'invalid', message: read.message };
  const record = read.value;
  const ended = await exitedFailure(runDir, record, d);
  if (ended) return ended;
  const mismatch = compare(record, options.expect);
  if (mismatch) return { ok: false, reason: 'mismatch', message: mismatch, record };
  if (!isSameProcess({ pid: record.shimPid, startTime: record.shimStartTime })) {
    // A shim writes exit.json before it exits: it may have done both since the read above,
    // and once it is gone what its run dir holds is final.
    const late = await exitedFailure(runDir, record, d);
    if (late) return late;
    const gatewayAlive = record.gatewayPid !== null && record.gatewayStartTime !== null && isSameProcess({ pid: record.gatewayPid, startTime: record.gatewayStartTime });
    return { ok: false, reason: 'shim-dead', record, gatewayAlive, message: `shim pid ${record.shimPid} of ${record.name} is gone and recorded no exit; gateway pid ${record.gatewayPid ?? '-'} is ${gatewayAlive ? 'alive' : 'gone'}` };
  }
  return greetRecorded(runDir, record, options.takeover ?? false, d);
}

// The last step of an attach, and all of it for the shim launchShim just started: its ready
// line gave the record (the shim wrote the same to shim.json before printing it), and the
// hello proves the same shim (pid and start time) answers; exit.json is read only when it
// does not answer. (Re-reading shim.json and exit.json and the shim's /proc stat after each
// launch cost fleetd's event loop three more file reads per start.)
/** Connects to the shim `record` names, attaches, and checks that hello says the same record. */
async function greetRecorded(runDir: string, record: ShimRecord, takeover: boolean, d: ShimClientDeps): Promise<AttachResult> {
  const greeting = await greet(runDirFiles(runDir).socket, takeover, d.helloTimeoutMs);
  if (!greeting.ok) {
    // A shim closes its socket only after exit.json is written: a refusal may just mean the gateway ended meanwhile.
    const late = greeting.reason === 'closed' || greeting.reason === 'refused' ? await exitedFailure(runDir, record, d) : null;
    if (late) return late;
    return { ok: false, reason: greeting.reason === 'closed' ? 'refused' : greeting.reason, record, message: `shim pid ${record.shimPid} of ${record.name}: ${greeting.message}` };
  }
  const { hello, socket, rest } = greeting;
  const contradiction = compare(hello.record, { gatewayPid: record.gatewayPid ?? undefined, gatewayStartTime: record.gatewayStartTime ?? undefined, specHash: record.specHash });
  if (contradiction || hello.record.shimPid !== record.shimPid || hello.record.shimStartTime !== record.shimStartTime) {
    socket.destroy();
    return { ok: false, reason: 'mismatch', record, message: `the shim on ${runDirFiles(runDir).socket} is not the one shim.json names (${contradiction ?? `shim pid ${hello.record.shimPid}`})` };
  }
  return { ok: true, handle: createLiveHandle(runDir, socket, { record: hello.record, tail: hello.tail, features: hello.features }, rest, d) };
}

/**
 * Launches a shim for `spec` (detached, own session, spec on its stdin) and attaches to it.
 * FleetError CONFLICT when a live shim holds the run dir; TIMEOUT when no ready line came within
 * deps.readyTimeoutMs (the shim, or a spawner that had not started it, is killed); INTERNAL
 * (details.reason 'cancelled') when `signal` aborts before the ready line (the same kills, at once).
 */
export async function launchShim(spec: ShimSpecInput, deps: Partial<ShimClientDeps> = {}, signal?: AbortSignal): Promise<ShimHandle> {
  const d = resolveShimDeps(deps);
  await ensureRunDir(spec.runDir);
  const holder = await liveShimIn(spec.runDir);
  if (holder !== null) throw new FleetError('CONFLICT', `shim pid ${holder} already holds ${spec.runDir}; attach to it or stop its gateway first`);
  const files = runDirFiles(spec.runDir);
  // The native shim is forked by the spawner (shim-spawner.ts: no fork of fleetd's own large process); the Node shim by fleetd.
  const launched = d.native !== null ? launchNative(d.native, spec, files.stderr) : launchNode(d, spec, files.stderr);
  const line = await launched.ready(d.readyTimeoutMs, signal);
  if (line.kind === 'no-line') {
    const stderr = (await readFile(files.stderr, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' | ');
    throw new FleetError(line.timeout ? 'TIMEOUT' : 'INTERNAL', `the shim for ${spec.name} ${line.why}${stderr ? `: ${stderr}` : ''}`, line.cancelled ? { details: { reason: 'cancelled' } } : undefined);
  }
  if (line.ready.type === 'failed') {
    const code = line.ready.code === 'busy' ? 'CONFLICT' : line.ready.code === 'run-dir' ? 'PROVISION_FAILED' : 'INTERNAL';
    throw new FleetError(code, `the shim for ${spec.name} refused to start: ${line.ready.message}`, { details: { shimCode: line.ready.code } });
  }
  // shim.json must be on disk (the next fleetd adopts the gateway from it): checked beside the attach, not re-read
  const [attached, recorded] = await Promise.all([greetRecorded(spec.runDir, line.ready.record, true, d), lstat(files.record).then(() => true, () => false)]);
  if (attached.ok && !recorded) {
    await attached.handle.detach();
    throw new FleetError('INTERNAL', `launched the shim for ${spec.name} (pid ${line.ready.record.shimPid}) but it recorded nothing in ${files.record}: a next fleetd could not adopt its gateway (see ${files.stderr})`, {
      details: { reason: 'no-shim', record: line.ready.record },
    });
  }
  if (attached.ok) return attached.handle;
  if (attached.reason === 'exited') return attached.handle; // the gateway ended at once (exit 78, bad command)
  throw new FleetError('INTERNAL', `launched the shim for ${spec.name} (pid ${line.ready.record.shimPid}, gateway pid ${line.ready.record.gatewayPid ?? '-'}) but cannot attach: ${attached.message}`, {
    details: { reason: attached.reason, record: line.ready.record },
  });
}

/** A shim being started: its ready line within a time, unless `signal` aborts first (the shim is killed when none came). */
interface ShimLaunch {
  ready(timeoutMs: number, signal?: AbortSignal): Promise<ReadyResult>;
}

/** The native shim, started by the spawner with the title `fleetd-shim <name>` (what ps shows), nothing of fleetd's environment. */
function launchNative(binary: string, spec: ShimSpecInput, stderrPath: string): ShimLaunch {
  const launch = launchViaSpawner(binary, { title: `fleetd-shim ${spec.name}`, stderrPath, spec: JSON.stringify(spec) });
  return {
    ready: (timeoutMs, signal) =>
      firstReadyResult(timeoutMs, signal, () => launch.giveUp(), (finish) => {
        void launch.first.then((first) => {
          if (first.kind === 'line') finish(parseReadyLine(first.text));
          else if (first.kind === 'gone') finish({ kind: 'no-line', why: `exited (${first.signal ?? `code ${first.code}`}) before it was ready`, timeout: false });
          else finish({ kind: 'no-line', why: `could not be started: ${first.message}`, timeout: false });
        });
      }),
  };
}

/** The Node shim (no C compiler at build time), spawned by fleetd itself: detached, own session, spec on its stdin. */
function launchNode(d: ShimClientDeps, spec: ShimSpecInput, stderrPath: string): ShimLaunch {
  const errFd = openSync(stderrPath, 'w', 0o600);
  let child: ReturnType<typeof spawn>;
  try {
    // Nothing of fleetd's environment (NODE_OPTIONS, secrets) reaches the shim; the gateway's env travels in the spec.
    child = spawn(d.nodePath, [...d.nodeFlags, d.entry], { cwd: '/', env: {}, detached: true, stdio: ['pipe', 'pipe', errFd] });
  } finally {
    closeSync(errFd);
  }
  child.stdin?.on('error', () => undefined); // EPIPE when the shim died before reading: the exit says more
  child.stdin?.end(JSON.stringify(spec));
  return {
    async ready(timeoutMs, signal) {
      const line = await readyLine(child, timeoutMs, signal);
      child.on('error', () => undefined);
      child.unref();
      if (line.kind === 'no-line' && child.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
      return line;
    },
  };
}

/** The exited failure when exit.json records the end of `record`'s gateway; an `invalid` failure when it contradicts it; else null. */
async function exitedFailure(runDir: string, record: ShimRecord, d: ShimClientDeps): Promise<AttachFailure & { ok: false } | null> {
  const exit = await readExitRecord(runDir);
  if (exit.state === 'absent') return null;
  if (exit.state === 'invalid') return { ok: false, reason: 'invalid', message: exit.message };
  const e = exit.value;
  if (e.gatewayPid !== record.gatewayPid || e.gatewayStartTime !== record.gatewayStartTime) {
    return { ok: false, reason: 'invalid', message: `${runDirFiles(runDir).exit} is about gateway pid ${e.gatewayPid ?? '-'}, shim.json about pid ${record.gatewayPid ?? '-'}` };
  }
  const how = e.error ? `could not start: ${e.error}` : e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
  return { ok: false, reason: 'exited', record, exit: e, message: `gateway pid ${e.gatewayPid ?? '-'} of ${e.name} ${how}`, handle: createExitedHandle(runDir, record, e, d) };
}

/** What differs between `record` and `expect`, or null. */
function compare(record: ShimRecord, expect: AttachOptions['expect']): string | null {
  if (!expect) return null;
  if (expect.gatewayPid !== undefined && expect.gatewayPid !== record.gatewayPid) return `gateway pid ${record.gatewayPid ?? '-'}, expected ${expect.gatewayPid}`;
  if (expect.gatewayStartTime !== undefined && expect.gatewayStartTime !== record.gatewayStartTime) return `gateway start time ${record.gatewayStartTime ?? '-'}, expected ${expect.gatewayStartTime}`;
  if (expect.specHash !== undefined && expect.specHash !== record.specHash) return `launched from spec ${record.specHash}, expected ${expect.specHash}`;
  return null;
}

/** Outcome of connect + attach: the hello with the open socket and bytes read past it, or a classified refusal. */
type Greeting =
  | { ok: true; hello: Extract<ShimMessage, { type: 'hello' }>; socket: Socket; rest: Buffer }
  | { ok: false; reason: 'refused' | 'busy' | 'protocol' | 'closed'; message: string };

/** Connects to `path`, sends attach, and waits for the first line (bounded by `timeoutMs`). */
function greet(path: string, takeover: boolean, timeoutMs: number): Promise<Greeting> {
  return new Promise((resolve) => {
    const socket = connectUnixSocket(path);
    let done = false;
    const finish = (g: Greeting) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (!g.ok) socket.destroy();
      resolve(g);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: 'refused', message: `no hello within ${timeoutMs} ms` }), timeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? 'its socket file is missing' : err.code === 'ECONNREFUSED' ? 'nothing listens on its socket' : `cannot connect (${err.code ?? err.message})`;
      finish({ ok: false, reason: 'refused', message: why });
    });
    socket.once('close', () => finish({ ok: false, reason: 'closed', message: 'connection closed before hello' }));
    socket.once('connect', () => socket.write(encodeLine({ type: 'attach', id: 0, protocol: SHIM_PROTOCOL, takeover })));
    let first: Buffer[] = [];
    const splitter = createLineSplitter(MAX_MESSAGE_BYTES, {
      line: (text) => {
        if (done) return;
        const parsed = (() => {
          try {
            return shimMessageSchema.safeParse(JSON.parse(text));
          } catch {
            return null;
          }
        })();
        const message = parsed?.success ? parsed.data : null;
        if (message?.type === 'hello') {
          socket.removeAllListeners('close');
          socket.removeAllListeners('error');
          return finish({ ok: true, hello: message, socket, rest: Buffer.concat(first) });
        }
        if (message?.type === 'error' && (message.code === 'busy' || message.code === 'protocol')) return finish({ ok: false, reason: message.code, message: message.message });
        finish({ ok: false, reason: 'refused', message: message ? `answered attach with ${message.type}` : 'answered attach with something that is not a shim message' });
      },
      tooLong: () => finish({ ok: false, reason: 'refused', message: 'answered attach with an overlong line' }),
    });
    socket.on('data', (chunk: Buffer) => {
      // Everything after the hello line belongs to the handle: keep it.
      const nl = chunk.indexOf(0x0a);
      if (!done && nl >= 0) {
        first = [chunk.subarray(nl + 1)];
        splitter.push(chunk.subarray(0, nl + 1));
      } else if (!done) splitter.push(chunk);
    });
  });
}

/** The shim's ready line, or why there is none (it exited first, or took too long). */
type ReadyResult = { kind: 'line'; ready: ReturnType<typeof readyLineSchema.parse> } | { kind: 'no-line'; why: string; timeout: boolean; cancelled?: boolean };

/** What the shim's first line says. */
function parseReadyLine(text: string): ReadyResult {
  if (text.length > 64 * 1024) return { kind: 'no-line', why: 'printed an overlong ready line', timeout: false };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'no-line', why: 'printed something that is not its ready line', timeout: false };
  }
  const parsed = readyLineSchema.safeParse(json);
  return parsed.success ? { kind: 'line', ready: parsed.data } : { kind: 'no-line', why: 'printed a malformed ready line', timeout: false };
}

/** Reads the first line of the shim's stdout (the caller kills the shim when none came). */
function readyLine(child: ReturnType<typeof spawn>, timeoutMs: number, signal?: AbortSignal): Promise<ReadyResult> {
  return firstReadyResult(
    timeoutMs,
    signal,
    () => 'killed',
    (finish) => {
      child.once('error', (err) => finish({ kind: 'no-line', why: `could not be started (${err.message})`, timeout: false }));
      // 'close', not 'exit': a ready line printed just before exiting is read first.
      child.once('close', (code, signal) => finish({ kind: 'no-line', why: `exited (${signal ?? `code ${code}`}) before it was ready`, timeout: false }));
      const splitter = createLineSplitter(64 * 1024, {
        line: (text) => finish(parseReadyLine(text)),
        tooLong: () => finish({ kind: 'no-line', why: 'printed an overlong ready line', timeout: false }),
      });
      child.stdout?.on('data', (chunk: Buffer) => splitter.push(chunk));
    },
    () => child.stdout?.destroy(),
  );
}

/**
 * The first of: what `listen` reports through `finish` (the shim's ready line or its end),
 * `timeoutMs` passing, `signal` aborting. On a timeout or an abort, `giveUp` ends what was
 * started and says what it did, for the reason; `settled` runs once, whichever came first.
 */
function firstReadyResult(timeoutMs: number, signal: AbortSignal | undefined, giveUp: () => string, listen: (finish: (result: ReadyResult) => void) => void, settled?: () => void): Promise<ReadyResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: ReadyResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
      settled?.();
      resolve(result);
    };
    const timer = setTimeout(() => {
      if (!done) finish({ kind: 'no-line', why: `gave no ready line within ${timeoutMs} ms (${giveUp()})`, timeout: true });
    }, timeoutMs);
    const cancel = () => {
      if (!done) finish({ kind: 'no-line', why: `was given up: the launch was cancelled (${giveUp()})`, timeout: false, cancelled: true });
    };
    if (signal?.aborted) queueMicrotask(cancel);
    else signal?.addEventListener('abort', cancel, { once: true });
    listen(finish);
  });
}
