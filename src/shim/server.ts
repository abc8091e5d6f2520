// The shim's socket: fleetd attaches here, NDJSON both ways (protocol.ts). One client is
// attached at a time (the rule: a second `attach` gets `busy` and is closed, unless it asks
// for `takeover`, which closes the first with `replaced`). Only the attached client gets
// output. Nothing a client does can stall the gateway or grow the shim's memory without
// bound: output for a client that reads too slowly is skipped (counted, announced with
// `skipped` once it catches up; gateway.log has it all), every line it sends is bounded,
// connections are capped and must attach within a few seconds.
import { createServer, type Server, type Socket } from 'node:net';
import { unlink } from 'node:fs/promises';
import type { OutputStream } from '../supervise/log-sink.js';
import { createLineSplitter } from '../util/line-splitter.js';
import { listenUnixSocket } from '../util/unix-socket.js';
import {
  clientRequestSchema,
  describeIssues,
  encodeLine,
  MAX_MESSAGE_BYTES,
  SHIM_PROTOCOL,
  type ClientRequest,
  type ExitInfo,
  type ShimErrorCode,
  type ShimMessage,
  type ShimRecord,
  type ShimStats,
} from './protocol.js';

/** What the server asks the rest of the shim. */
export interface ShimServerSource {
  record(): ShimRecord;
  tail(chars: number): { stdout: string; stderr: string };
  stats(): ShimStats;
  /** Writes a note from fleetd into gateway.log. */
  note(text: string): void;
  /** How the gateway ended; null while it runs. */
  exit(): ExitInfo | null;
}

/** Limits of the server (defaults in DEFAULT_SERVER_OPTIONS). */
export interface ShimServerOptions {
  /** Output waiting in the attached client's socket buffer beyond which output is skipped, bytes. */
  maxPendingBytes: number;
  /** A connection that has not attached after this long is closed, ms. */
  attachTimeoutMs: number;
  /** Connections at once (attached or not); more are refused by the kernel backlog / closed. */
  maxConnections: number;
  /** Tail characters per stream in hello. */
  helloTailChars: number;
  /** Bound on waiting for the exit message to reach the client, ms. */
  exitFlushMs: number;
}

/** Default limits. */
export const DEFAULT_SERVER_OPTIONS: ShimServerOptions = { maxPendingBytes: 1024 * 1024, attachTimeoutMs: 10_000, maxConnections: 8, helloTailChars: 16384, exitFlushMs: 2000 };

/** The running socket server of a shim. */
export interface ShimServer {
  /** Sends redacted gateway output to the attached client, if any. */
  output(stream: OutputStream, text: string): void;
  /** Tells the attached client how the gateway ended and closes every connection; resolves once flushed (bounded). */
  sendExit(exit: ExitInfo): Promise<void>;
  /** Output skipped for slow clients so far, bytes. */
  skippedBytes(): number;
  /** Stops listening, closes every connection, removes the socket file. */
  close(): Promise<void>;
}

/** One connection. */
interface Conn {
  socket: Socket;
  attached: boolean;
  /** Bytes skipped since the last `skipped` message. */
  unannounced: number;
  timer: NodeJS.Timeout | null;
}

/** Listens on `path` (0600) and serves `source`. */
export async function startShimServer(path: string, source: ShimServerSource, options: Partial<ShimServerOptions> = {}): Promise<ShimServer> {
  const limits = { ...DEFAULT_SERVER_OPTIONS, ...options };
  const conns = new Set<Conn>();
  let owner: Conn | null = null;
  let skipped = 0;

  const send = (conn: Conn, message: ShimMessage) => {
    if (!conn.socket.destroyed && conn.socket.writable) conn.socket.write(encodeLine(message));
  };
  const fail = (conn: Conn, id: number | null, code: ShimErrorCode, message: string, end = false) => {
    send(conn, { type: 'error', id, code, message });
    if (end) conn.socket.end();
  };
  const drop = (conn: Conn) => {
    conns.delete(conn);
    if (conn.timer) clearTimeout(conn.timer);
    if (owner === conn) owner = null;
  };

  const attach = (conn: Conn, request: Extract<ClientRequest, { type: 'attach' }>) => {
    if (request.protocol !== SHIM_PROTOCOL) {
      return fail(conn, request.id, 'protocol', `this shim speaks protocol ${SHIM_PROTOCOL}, the client ${request.protocol}`, true);
    }
    if (owner && owner !== conn) {
      if (!request.takeover) return fail(conn, request.id, 'busy', 'another client is attached; attach with takeover to replace it', true);
      fail(owner, null, 'replaced', 'another client attached with takeover', true);
      owner.attached = false;
    }
    owner = conn;
    conn.attached = true;
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = null;
    // One synchronous step: no output can fall between the tail in hello and the first output message.
    send(conn, { type: 'hello', protocol: SHIM_PROTOCOL, record: source.record(), tail: source.tail(limits.helloTailChars), features: [] });
    const exit = source.exit();
    if (exit) {
      send(conn, { type: 'exit', ...exit });
      conn.socket.end();
    }
  };

  const handle = (conn: Conn, line: string) => {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return fail(conn, null, 'bad-message', 'not a JSON line');
    }
    const parsed = clientRequestSchema.safeParse(json);
    if (!parsed.success) {
      const id = typeof (json as { id?: unknown })?.id === 'number' ? (json as { id: number }).id : null;
      return fail(conn, Number.isInteger(id) && (id as number) >= 0 ? id : null, 'bad-message', describeIssues(parsed.error));
    }
    const request = parsed.data;
    if (request.type === 'attach') return attach(conn, request);
    if (!conn.attached) return fail(conn, request.id, 'not-attached', 'send attach first');
    switch (request.type) {
      case 'tail':
        return send(conn, { type: 'tail', id: request.id, ...source.tail(request.chars) });
      case 'status':
        return send(conn, { type: 'status', id: request.id, stats: source.stats() });
      case 'note':
        source.note(request.text);
        return send(conn, { type: 'ok', id: request.id });
      case 'watch':
      case 'unwatch':
        // the native shim's feature (protocol.ts SHIM_FEATURES); this hello names none
        return fail(conn, request.id, 'bad-message', `this shim cannot ${request.type}: its hello names no features (fleetd probes the gateway itself)`);
      default:
        return request satisfies never;
    }
  };

  const server: Server = createServer((socket) => {
    const conn: Conn = { socket, attached: false, unannounced: 0, timer: null };
    if (conns.size >= limits.maxConnections) {
      socket.destroy();
      return;
    }
    conns.add(conn);
    conn.timer = setTimeout(() => {
      if (!conn.attached) socket.destroy();
    }, limits.attachTimeoutMs);
    conn.timer.unref();
    const splitter = createLineSplitter(MAX_MESSAGE_BYTES, {
      line: (text) => {
        if (text.trim() !== '') handle(conn, text);
      },
      tooLong: (bytes) => fail(conn, null, 'too-long', `line of ${bytes} bytes is longer than ${MAX_MESSAGE_BYTES}; skipped`),
    });
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('drain', () => {
      if (conn.unannounced > 0 && owner === conn) {
        send(conn, { type: 'skipped', bytes: conn.unannounced });
        conn.unannounced = 0;
      }
    });
    socket.on('error', () => socket.destroy()); // EPIPE, ECONNRESET: the client is gone
    socket.on('close', () => drop(conn));
  });
  server.maxConnections = limits.maxConnections;
  await listenUnixSocket(server, path);

  return {
    output(stream, text) {
      const conn = owner;
      if (!conn) return;
      if (conn.socket.writableLength > limits.maxPendingBytes) {
        const bytes = Buffer.byteLength(text);
        conn.unannounced += bytes;
        skipped += bytes;
        return;
      }
      send(conn, { type: 'output', stream, text });
    },
    async sendExit(exit) {
      const waits: Array<Promise<void>> = [];
      for (const conn of conns) {
        if (conn.attached) send(conn, { type: 'exit', ...exit });
        waits.push(new Promise<void>((resolve) => conn.socket.once('close', () => resolve())));
        conn.socket.end();
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(waits), new Promise<void>((resolve) => (timer = setTimeout(resolve, limits.exitFlushMs)))]);
      clearTimeout(timer);
    },
    skippedBytes: () => skipped,
    async close() {
      for (const conn of conns) conn.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await unlink(path).catch(() => {});
    },
  };
}
