// fleetd's end of one shim connection: the gateway's identity, its output as events, how
// it ended (from the live socket, or from exit.json when the shim went while fleetd did
// not hear it), small requests (tail, status, note), and the two ways to let go: detach
// (fleetd restarts; shim and gateway run on) and close (the run is over; its files go).
import type { Socket } from 'node:net';
import { FleetError } from '../errors.js';
import { MAX_MESSAGE_BYTES, encodeLine, shimMessageSchema, type ClientRequestInput, type ExitInfo, type ShimMessage, type ShimRecord, type ShimStats } from '../shim/protocol.js';
import { readExitRecord, readShimRecord, removeRunFiles } from '../shim/records.js';
import { createLineSplitter } from '../util/line-splitter.js';
import { waitFor } from '../util/wait-for.js';
import type { OutputStream } from './log-sink.js';
import { isSameProcess, type ProcRef } from './proc.js';

/** Recent redacted output of each stream. */
export interface ShimTail {
  stdout: string;
  stderr: string;
}

/** How the watch of a gateway through its shim ended; `exited` settles exactly once with one of these. */
export type ShimOutcome =
  /** The gateway ended; code/signal are exact (the shim is its parent). `from`: told on the socket, or read from exit.json. */
  | (ExitInfo & { kind: 'exited'; from: 'socket' | 'exit-file'; tail?: ShimTail })
  /** The shim vanished without recording an exit (killed, crashed): the gateway's output has no holder any more. */
  | { kind: 'lost'; at: number; reason: string; gatewayAlive: boolean }
  /** Another client attached with takeover. */
  | { kind: 'replaced'; at: number }
  /** detach() was called. */
  | { kind: 'detached'; at: number };

/** A check of a shim's watch that was not a 200 (protocol.ts `watch-miss`); the watch has ended. */
export interface WatchMiss {
  /** epoch ms the check started */
  at: number;
  /** HTTP status it answered; null: no answer */
  status: number | null;
  /** For people: "answered 503", "connection refused", "no answer within 2000 ms"... */
  error: string;
}

/** What a shim is asked to watch (protocol.ts `watch`): GET `path` on 127.0.0.1:`port` every `intervalMs`, each bounded by `timeoutMs`. */
export interface WatchOptions {
  port: number;
  path: string;
  intervalMs: number;
  timeoutMs: number;
}

/** Events of a handle. */
export interface ShimHandleEvents {
  /** Redacted gateway output (chunks: a line may be cut between two events). */
  output: (stream: OutputStream, text: string) => void;
  /** Output the shim did not send because this client read too slowly (gateway.log has it). */
  skipped: (bytes: number) => void;
  /** The shim's watch saw an answer that is not 200 (and ended). */
  'watch-miss': (miss: WatchMiss) => void;
}

/** An attached (or already finished) shim. */
export interface ShimHandle {
  readonly runDir: string;
  /** Identity of shim and gateway, from hello (or shim.json / exit.json when the shim was already gone). */
  readonly record: ShimRecord;
  /** The gateway: pid + /proc start time; null when it could not be spawned. */
  readonly gateway: ProcRef | null;
  readonly shim: ProcRef;
  /** Recent output at attach time (seed for the runner's tail). */
  readonly tail: ShimTail;
  /** Settles once; see ShimOutcome. */
  readonly exited: Promise<ShimOutcome>;
  /** Subscribes; the first `output` listener also gets, at once, the output that came before it (the newest 64 K characters). */
  on<E extends keyof ShimHandleEvents>(event: E, listener: ShimHandleEvents[E]): () => void;
  /** True while the gateway pid lives with its recorded start time. */
  isGatewayAlive(): boolean;
  /** The recent output now; FleetError CONFLICT once the connection is gone, TIMEOUT without an answer. */
  fetchTail(chars?: number): Promise<ShimTail>;
  /** The shim's counters; `timeoutMs` (default: the handle's requestTimeoutMs) bounds the wait, FleetError TIMEOUT after it. */
  status(timeoutMs?: number): Promise<ShimStats>;
  /** Writes `[fleetd <time>] text` into gateway.log, redacted. */
  note(text: string): Promise<void>;
  /** True when the shim can `watch` (it named the feature in hello; shims of an older fleetd cannot). */
  readonly canWatch: boolean;
  /** Asks the shim to watch the gateway's readiness (replacing a current watch); a miss comes as the `watch-miss` event. FleetError CONFLICT without the feature or once the connection is gone, TIMEOUT without an answer. */
  watch(options: WatchOptions): Promise<void>;
  /** Ends the shim's watch, if any; the same errors as watch. `timeoutMs` (default: requestTimeoutMs) bounds the wait; null waits for the answer however late (a shim answers in order: its answer proves every request sent before was handled), rejecting only when the connection closes. */
  unwatch(timeoutMs?: number | null): Promise<void>;
  /** Lets go for a fleetd restart: shim and gateway run on, the next fleetd attaches; `exited` settles `detached`. */
  detach(): Promise<void>;
  /** Ends the run after `exited` settled: waits for the shim to go (SIGKILL after closeWaitMs) and removes shim.json, exit.json and the socket; FleetError CONFLICT before. */
  close(): Promise<void>;
}

/** Timings of a handle. */
export interface ShimHandleOptions {
  requestTimeoutMs: number;
  /** close(): how long the shim may take to exit before it is SIGKILLed. */
  closeWaitMs: number;
  now: () => number;
  /** Hears of lines from the shim that are not valid messages (a bug on one side). */
  warn: (text: string) => void;
}

/** A request without its id (the handle numbers them). */
type RequestBody = ClientRequestInput extends infer T ? (T extends { id: number } ? Omit<T, 'id'> : never) : never;

/** Output held for the first output listener at most (characters; the newest kept): ShimHandle.on. */
const HELD_OUTPUT_CHARS = 65_536;

/** How long a shim whose connection dropped without an exit may take to show up dead, ms. */
const LOST_SHIM_WAIT_MS = 1000;

type Listeners = { [E in keyof ShimHandleEvents]: Set<ShimHandleEvents[E]> };

/** A handle over a live connection that already got its `hello`; `buffered` holds messages read with it. */
export function createLiveHandle(runDir: string, socket: Socket, hello: { record: ShimRecord; tail: ShimTail; features: readonly string[] }, buffered: Buffer, options: ShimHandleOptions): ShimHandle {
  const listeners: Listeners = { output: new Set(), skipped: new Set(), 'watch-miss': new Set() };
  const canWatch = hello.features.includes('watch');
  const pending = new Map<number, { resolve: (m: ShimMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | undefined }>();
  let nextId = 1;
  let leaving: 'detach' | 'close' | null = null;
  let replaced = false;
  let settle: (outcome: ShimOutcome) => void = () => undefined;
  let outcome: ShimOutcome | null = null;
  const exited = new Promise<ShimOutcome>((resolve) => {
    settle = (value) => {
      if (outcome) return;
      outcome = value;
      resolve(value);
    };
  });
  const record = hello.record;
  const gateway = record.gatewayPid === null || record.gatewayStartTime === null ? null : { pid: record.gatewayPid, startTime: record.gatewayStartTime };

  // Output that arrives before anyone listens (the gateway printed right after hello, while the
  // caller was still on its way to subscribe): held for the first output listener, the newest
  // HELD_OUTPUT_CHARS characters of it, so a gateway's last words before a quick exit reach
  // its tail (and the reason of its exit) instead of being dropped.
  const held: Array<[OutputStream, string]> = [];
  let heldChars = 0;
  const holdOutput = (stream: OutputStream, text: string) => {
    held.push([stream, text]);
    heldChars += text.length;
    while (heldChars > HELD_OUTPUT_CHARS && held.length > 1) heldChars -= held.shift()![1].length;
  };
  const emit = <E extends keyof ShimHandleEvents>(event: E, ...args: Parameters<ShimHandleEvents[E]>) => {
    for (const listener of [...listeners[event]]) (listener as (...a: Parameters<ShimHandleEvents[E]>) => void)(...args);
  };
  const onMessage = (message: ShimMessage) => {
    switch (message.type) {
      case 'output':
        if (listeners.output.size === 0) return holdOutput(message.stream, message.text);
        return emit('output', message.stream, message.text);
      case 'skipped':
        return emit('skipped', message.bytes);
      case 'watch-miss':
        return emit('watch-miss', { at: message.at, status: message.status, error: message.error });
      case 'exit': {
        const { type: _type, ...exit } = message;
        return settle({ ...exit, kind: 'exited', from: 'socket' });
      }
      case 'error':
        if (message.code === 'replaced') replaced = true;
        if (message.id === null) return options.warn(`shim ${record.shimPid}: ${message.code}: ${message.message}`);
        return answer(message.id, message);
      case 'hello':
        return options.warn(`shim ${record.shimPid}: unexpected second hello`);
      default:
        return answer(message.id, message);
    }
  };
  const answer = (id: number, message: ShimMessage) => {
    const waiting = pending.get(id);
    if (!waiting) return;
    pending.delete(id);
    clearTimeout(waiting.timer);
    waiting.resolve(message);
  };
  const splitter = createLineSplitter(MAX_MESSAGE_BYTES, {
    line: (text) => {
      let parsed: ReturnType<typeof shimMessageSchema.safeParse>;
      try {
        parsed = shimMessageSchema.safeParse(JSON.parse(text));
      } catch {
        return options.warn(`shim ${record.shimPid}: a line that is not JSON`);
      }
      if (!parsed.success) return options.warn(`shim ${record.shimPid}: a message that does not fit the protocol`);
      onMessage(parsed.data);
    },
    tooLong: (bytes) => options.warn(`shim ${record.shimPid}: a line of ${bytes} bytes, skipped`),
  });

  socket.on('data', (chunk: Buffer) => splitter.push(chunk));
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    for (const [, waiting] of pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new FleetError('CONFLICT', `the connection to shim ${record.shimPid} is closed`));
    }
    pending.clear();
    if (outcome) return;
    const at = options.now();
    if (leaving === 'detach') return settle({ kind: 'detached', at });
    if (replaced) return settle({ kind: 'replaced', at });
    // The shim writes exit.json before it tells: a shim that went silently may still have recorded the exit.
    void outcomeFromFiles(runDir, record, at).then(settle);
  });
  if (buffered.length > 0) splitter.push(buffered);

  const request = (body: RequestBody, expect: ShimMessage['type'], timeoutMs: number | null = options.requestTimeoutMs): Promise<ShimMessage> => {
    if (socket.destroyed || !socket.writable) return Promise.reject(new FleetError('CONFLICT', `the connection to shim ${record.shimPid} is closed`));
    const id = nextId++;
    return new Promise<ShimMessage>((resolve, reject) => {
      const timer =
        timeoutMs === null
          ? undefined
          : setTimeout(() => {
              pending.delete(id);
              reject(new FleetError('TIMEOUT', `shim ${record.shimPid} did not answer ${body.type} within ${timeoutMs} ms`));
            }, timeoutMs);
      pending.set(id, {
        resolve: (message) => {
          if (message.type === 'error') reject(new FleetError('INTERNAL', `shim ${record.shimPid} refused ${body.type}: ${message.code}: ${message.message}`));
          else if (message.type !== expect) reject(new FleetError('INTERNAL', `shim ${record.shimPid} answered ${body.type} with ${message.type}`));
          else resolve(message);
        },
        reject,
        timer,
      });
      socket.write(encodeLine({ ...body, id }));
    });
  };

  return {
    runDir,
    record,
    gateway,
    shim: { pid: record.shimPid, startTime: record.shimStartTime },
    tail: hello.tail,
    exited,
    on(event, listener) {
      listeners[event].add(listener as never);
      if (event === 'output' && held.length > 0) {
        const early = held.splice(0);
        heldChars = 0;
        for (const [stream, text] of early) (listener as ShimHandleEvents['output'])(stream, text);
      }
      return () => listeners[event].delete(listener as never);
    },
    isGatewayAlive: () => gateway !== null && isSameProcess(gateway),
    async fetchTail(chars) {
      const m = await request({ type: 'tail', ...(chars === undefined ? {} : { chars }) }, 'tail');
      return m.type === 'tail' ? { stdout: m.stdout, stderr: m.stderr } : { stdout: '', stderr: '' };
    },
    async status(timeoutMs) {
      const m = await request({ type: 'status' }, 'status', timeoutMs);
      if (m.type !== 'status') throw new FleetError('INTERNAL', 'unexpected answer');
      return m.stats;
    },
    async note(text) {
      await request({ type: 'note', text: text.slice(0, 4096) }, 'ok');
    },
    canWatch,
    async watch(watchOptions) {
      if (!canWatch) throw new FleetError('CONFLICT', `shim ${record.shimPid} cannot watch (a shim of an older fleetd)`);
      await request({ type: 'watch', ...watchOptions }, 'ok');
    },
    async unwatch(timeoutMs) {
      if (!canWatch) throw new FleetError('CONFLICT', `shim ${record.shimPid} cannot watch (a shim of an older fleetd)`);
      await request({ type: 'unwatch' }, 'ok', timeoutMs === undefined ? options.requestTimeoutMs : timeoutMs);
    },
    async detach() {
      if (outcome || leaving) return;
      leaving = 'detach';
      await endSocket(socket);
    },
    async close() {
      if (!outcome || outcome.kind === 'detached') throw new FleetError('CONFLICT', `gateway pid ${record.gatewayPid ?? '-'} has not ended; stop it first, or detach()`);
      leaving = 'close';
      socket.destroy();
      if (outcome.kind === 'replaced') return;
      await finishRunDir(runDir, record, options.closeWaitMs);
    },
  };
}

/** A handle for a gateway that ended while no fleetd was attached (exit.json); its shim is gone or going. */
export function createExitedHandle(runDir: string, record: ShimRecord, exit: ExitInfo & { tail: ShimTail }, options: ShimHandleOptions): ShimHandle {
  const { tail, ...info } = exit;
  const outcome: ShimOutcome = { code: info.code, signal: info.signal, at: info.at, ...(info.error ? { error: info.error } : {}), kind: 'exited', from: 'exit-file', tail };
  const gone = () => Promise.reject(new FleetError('CONFLICT', `gateway pid ${record.gatewayPid ?? '-'} has ended; its shim is gone`));
  const gateway = record.gatewayPid === null || record.gatewayStartTime === null ? null : { pid: record.gatewayPid, startTime: record.gatewayStartTime };
  return {
    runDir,
    record,
    gateway,
    shim: { pid: record.shimPid, startTime: record.shimStartTime },
    tail,
    exited: Promise.resolve(outcome),
    on: () => () => undefined,
    isGatewayAlive: () => gateway !== null && isSameProcess(gateway),
    fetchTail: gone,
    status: gone,
    note: gone,
    canWatch: false,
    watch: gone,
    unwatch: gone,
    detach: async () => undefined,
    close: () => finishRunDir(runDir, record, options.closeWaitMs),
  };
}

/** What a connection that closed without an `exit` message leaves to know: exit.json, or a lost shim. */
export async function outcomeFromFiles(runDir: string, record: ShimRecord, at: number): Promise<ShimOutcome> {
  const exit = await readExitRecord(runDir);
  if (exit.state === 'ok' && exit.value.gatewayPid === record.gatewayPid && exit.value.gatewayStartTime === record.gatewayStartTime) {
    const e = exit.value;
    return { code: e.code, signal: e.signal, at: e.at, ...(e.error ? { error: e.error } : {}), kind: 'exited', from: 'exit-file', tail: e.tail };
  }
  const gateway = record.gatewayPid === null || record.gatewayStartTime === null ? null : { pid: record.gatewayPid, startTime: record.gatewayStartTime };
  const shim = { pid: record.shimPid, startTime: record.shimStartTime };
  // A killed process closes its sockets before it turns into a zombie: give it a moment to be seen dead.
  await waitFor(() => !isSameProcess(shim), { timeoutMs: LOST_SHIM_WAIT_MS, intervalMs: 10 }).catch(() => undefined);
  const shimAlive = isSameProcess(shim);
  const gatewayAlive = gateway !== null && isSameProcess(gateway);
  const what = shimAlive ? `shim pid ${record.shimPid} closed the connection without an exit` : `shim pid ${record.shimPid} died without recording an exit`;
  return { kind: 'lost', at, reason: `${what}; gateway pid ${record.gatewayPid ?? '-'} is ${gatewayAlive ? 'still alive (stop it: its output has no holder)' : 'gone, exit status unknown'}`, gatewayAlive };
}

// A shim exits as soon as its last connection is gone, and close() has just dropped fleetd's:
// at N = 200 it was still there at close()'s first look in 4 of 5 restarts and gone 1 ms
// later, yet a 20 ms poll made each wait 20-25 ms, and a restart's spawn waits for this
// (a live shim holds the run dir), so it often outlasted the launch's preparation.
/** How finishRunDir polls for the shim's exit (ms): 1, 2, 4 ... then every 20. */
export const SHIM_EXIT_POLL = { firstIntervalMs: 1, intervalMs: 20 } as const;

/** Waits for the shim of `record` to exit (SIGKILL after `waitMs`), then removes the run files if they are still its own. */
async function finishRunDir(runDir: string, record: ShimRecord, waitMs: number): Promise<void> {
  const shim = { pid: record.shimPid, startTime: record.shimStartTime };
  try {
    await waitFor(() => !isSameProcess(shim), { timeoutMs: waitMs, ...SHIM_EXIT_POLL, what: `shim pid ${shim.pid} to exit` });
  } catch {
    // Its gateway has ended: the shim has nothing left to hold.
    if (isSameProcess(shim)) process.kill(shim.pid, 'SIGKILL');
    await waitFor(() => !isSameProcess(shim), { timeoutMs: 2000, intervalMs: 20, what: `shim pid ${shim.pid} to die` }).catch(() => undefined);
  }
  const current = await readShimRecord(runDir);
  if (current.state === 'ok' && (current.value.shimPid !== record.shimPid || current.value.shimStartTime !== record.shimStartTime)) return; // a newer run owns the folder
  await removeRunFiles(runDir);
}

/** Ends a socket gracefully and resolves once it is closed (destroyed after 1 s). */
function endSocket(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.destroy(), 1000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end();
  });
}
