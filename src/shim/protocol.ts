// The one definition of everything fleetd and a per-agent shim exchange: the launch spec
// (one JSON document on the shim's stdin), its ready line (one JSON line on its stdout),
// the files it leaves in its run dir (shim.json, exit.json) and the NDJSON messages on
// its socket, both ways. Imported by the shim (src/shim/) and by its client
// (src/supervise/shim-client.ts). Additions stay backwards compatible (objects read from
// the other side ignore unknown keys); a breaking change bumps SHIM_PROTOCOL, and a
// client refuses a shim whose protocol it does not speak (it stops and restarts that
// gateway instead of adopting it).
import { z } from 'zod';
import { formatPath } from '../manifest/render-issues.js';

/** Version of this protocol; `attach` and `hello` carry it. */
export const SHIM_PROTOCOL = 1;

/** Names of the files in a shim's run dir (`<stateDir>/agents/<fleet>/<agent>/`). */
export const SHIM_FILES = {
  /** The socket fleetd attaches to (0600). */
  socket: 'shim.sock',
  /** Who runs: shim and gateway pids with start times (0600, atomic, no secrets). */
  record: 'shim.json',
  /** How the gateway ended (0600, atomic), written before an attached fleetd is told. */
  exit: 'exit.json',
  /** The shim's own stderr: Node's fatal errors and disk trouble, nothing of the gateway. */
  stderr: 'shim.err',
} as const;

/** Longest NDJSON line either side accepts, bytes; a longer one is answered with `too-long` and skipped. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Longest launch spec the shim reads from stdin, bytes. */
export const MAX_SPEC_BYTES = 4 * 1024 * 1024;

const absolutePath = z.string().min(1).refine((p) => p.startsWith('/') && !p.includes('\0'), 'must be an absolute path');
const pid = z.number().int().positive();
/** Start time of a pid: field 22 of /proc/<pid>/stat, as text. */
const startTime = z.string().regex(/^\d+$/);
const streamName = z.enum(['stdout', 'stderr']);
const requestId = z.number().int().nonnegative();
const tailText = z.object({ stdout: z.string(), stderr: z.string() });

/** What fleetd hands a shim on stdin: the launch of one gateway. Holds secrets: never written to disk. */
export const shimSpecSchema = z.strictObject({
  protocol: z.literal(SHIM_PROTOCOL),
  /** The agent's address (`fleet/agent`): process title and messages. */
  name: z.string().min(1).max(200),
  /** The gateway's argv after its cgroup join, wrapper prefixes (setpriv, KSM) included; argv[0] is looked up in env.PATH. */
  argv: z.array(z.string()).min(1),
  /**
   * cgroup.procs files the gateway's process joins before it executes anything (the launch
   * chain's first step, src/isolation/launch-chain.ts): the native shim writes its child's pid
   * to each between fork and exec, the Node shim runs the `/bin/sh` join step in front of argv.
   * A file that cannot be written ends the gateway with exit code 126, the reason on its stderr.
   */
  cgroupProcs: z.array(absolutePath).optional(),
  /** Working directory of the gateway (its home). */
  cwd: absolutePath,
  /** The complete environment of the gateway (the shim adds nothing). */
  env: z.record(z.string(), z.string()),
  /** Where shim.sock, shim.json and exit.json live; must exist, 0700, owned by the shim's user. */
  runDir: absolutePath,
  log: z.strictObject({
    /** The captured, redacted output (`gateway.log`). */
    file: absolutePath,
    /** Rotate before the file would pass this many bytes. */
    maxBytes: z.number().int().min(1),
    /** Files kept, the current one included. */
    maxFiles: z.number().int().min(1).max(1000),
  }),
  /** Values that must never reach the log, a socket or a file (tokens, secret env values). */
  secrets: z.array(z.string()),
  /** Opaque hash of the launch, chosen by fleetd; echoed in hello and the records to tell a changed launch. */
  specHash: z.string().min(1).max(256),
  /** Recent output kept in memory: lines per stream, and characters handed over in hello and exit.json. */
  tail: z.strictObject({ lines: z.number().int().min(1).max(1000), chars: z.number().int().min(0).max(MAX_MESSAGE_BYTES / 4) }).default({ lines: 40, chars: 16384 }),
});
/** The parsed launch spec. */
export type ShimSpec = z.infer<typeof shimSpecSchema>;
/** The launch spec as fleetd writes it (tail may be left out). */
export type ShimSpecInput = z.input<typeof shimSpecSchema>;

/** Counters of the log writer (bytes after redaction). */
const logStatsSchema = z.object({ writtenBytes: z.number(), droppedBytes: z.number(), failures: z.number() });

/** shim.json: who runs in a run dir (written once the gateway is spawned). */
export const shimRecordSchema = z.object({
  protocol: z.number().int(),
  name: z.string(),
  shimPid: pid,
  shimStartTime: startTime,
  /** null when the gateway could not be spawned at all (exit.json says why). */
  gatewayPid: pid.nullable(),
  gatewayStartTime: startTime.nullable(),
  /** epoch ms */
  spawnedAt: z.number(),
  specHash: z.string(),
  socket: z.string(),
  logFile: z.string(),
});
/** Contents of shim.json. */
export type ShimRecord = z.infer<typeof shimRecordSchema>;

/** How a gateway ended, as the shim saw it (it is the gateway's parent: the status is exact). */
export const exitInfoSchema = z.object({
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  /** epoch ms of the exit. */
  at: z.number(),
  /** Set when it could not be started at all (command not found, bad cwd...). */
  error: z.string().optional(),
});
/** Exit status of a gateway. */
export type ExitInfo = z.infer<typeof exitInfoSchema>;

/** exit.json: the exit, for a fleetd that was away when it happened, with the last output. */
export const exitRecordSchema = exitInfoSchema.extend({
  protocol: z.number().int(),
  name: z.string(),
  gatewayPid: pid.nullable(),
  gatewayStartTime: startTime.nullable(),
  spawnedAt: z.number(),
  specHash: z.string(),
  /** The last redacted output of each stream. */
  tail: tailText,
  log: logStatsSchema,
});
/** Contents of exit.json. */
export type ExitRecord = z.infer<typeof exitRecordSchema>;

/** The one line a shim prints on stdout once it serves its socket, or why it cannot. */
export const readyLineSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), record: shimRecordSchema }),
  z.object({ type: z.literal('failed'), code: z.enum(['spec', 'run-dir', 'busy', 'listen', 'internal']), message: z.string() }),
]);
/** A parsed ready line. */
export type ReadyLine = z.infer<typeof readyLineSchema>;

/** Error codes on the shim socket. */
export const SHIM_ERROR_CODES = ['bad-message', 'too-long', 'not-attached', 'busy', 'replaced', 'protocol'] as const;
/** A member of SHIM_ERROR_CODES. */
export type ShimErrorCode = (typeof SHIM_ERROR_CODES)[number];

/** Activity counters a shim reports on `status`. */
export const shimStatsSchema = z.object({
  /** Raw bytes read from the gateway's pipes. */
  readBytes: z.object({ stdout: z.number(), stderr: z.number() }),
  log: logStatsSchema,
  /** Output an attached fleetd did not get because it read too slowly (the log file has it). */
  skippedBytes: z.number(),
  /** The shim's own resident memory, bytes. */
  rssBytes: z.number(),
  /** epoch ms the shim started. */
  startedAt: z.number(),
});
/** Answer to `status`. */
export type ShimStats = z.infer<typeof shimStatsSchema>;

/**
 * What a shim can do beyond protocol 1's first form, named in its `hello` (a shim that names
 * none is of that first form: the client does without). `watch`: the `watch` and `unwatch`
 * requests and the `watch-miss` message.
 */
export const SHIM_FEATURES = ['watch'] as const;

/** Longest path a `watch` asks, characters. */
export const MAX_WATCH_PATH = 256;

/** Everything a shim sends on its socket, one JSON object per line. */
export const shimMessageSchema = z.discriminatedUnion('type', [
  /** Answer to `attach`: the identity to check, the recent output to seed a tail, and what this shim can do (SHIM_FEATURES; unknown names are ignored). */
  z.object({ type: z.literal('hello'), protocol: z.number().int(), record: shimRecordSchema, tail: tailText, features: z.array(z.string()).default([]) }),
  /**
   * A check of the current `watch` that was not a 200: `status` the HTTP status it answered
   * (null: no answer), `error` for people ("answered 503", "connection refused", "no answer
   * within 2000 ms", "the connection closed without an answer", "malformed answer"). `at`:
   * epoch ms the check started. The watch has ended: the client judges from here.
   */
  z.object({ type: z.literal('watch-miss'), at: z.number(), status: z.number().int().nullable(), error: z.string() }),
  /** Output of the gateway, already redacted; the texts of one stream, joined, are that stream (lines may be cut anywhere). */
  z.object({ type: z.literal('output'), stream: streamName, text: z.string() }),
  /** `bytes` of output were not sent to this client because it read too slowly; gateway.log has them. */
  z.object({ type: z.literal('skipped'), bytes: z.number() }),
  /** The gateway ended (exit.json is already written); the shim then closes and exits. */
  exitInfoSchema.extend({ type: z.literal('exit') }),
  z.object({ type: z.literal('tail'), id: requestId, stdout: z.string(), stderr: z.string() }),
  z.object({ type: z.literal('status'), id: requestId, stats: shimStatsSchema }),
  z.object({ type: z.literal('ok'), id: requestId }),
  z.object({ type: z.literal('error'), id: requestId.nullable(), code: z.enum(SHIM_ERROR_CODES), message: z.string() }),
]);
/** A message from the shim. */
export type ShimMessage = z.infer<typeof shimMessageSchema>;

/** Everything a client may send, one JSON object per line; every connection starts with `attach`. */
export const clientRequestSchema = z.discriminatedUnion('type', [
  /** Become the shim's one client. `takeover`: replace a client already attached (it gets `replaced`); else `busy`. */
  z.object({ type: z.literal('attach'), id: requestId, protocol: z.number().int(), takeover: z.boolean().default(false) }),
  /** The recent output, at most `chars` characters per stream. */
  z.object({ type: z.literal('tail'), id: requestId, chars: z.number().int().min(0).max(MAX_MESSAGE_BYTES / 4).default(16384) }),
  z.object({ type: z.literal('status'), id: requestId }),
  /** Writes `[fleetd <time>] text` into gateway.log (redacted like the output). */
  z.object({ type: z.literal('note'), id: requestId, text: z.string().max(4096) }),
  /**
   * Watch the gateway's readiness for the client (answered `ok`; feature `watch`): every
   * `intervalMs`, starting `intervalMs` after this request, one `GET <path> HTTP/1.1` on a
   * fresh TCP connection to 127.0.0.1:`port` (`Connection: close`), read to its end (at most
   * 64 KiB kept), bounded by `timeoutMs`; never two checks at once (a check still running when
   * the next is due delays it). While each answers 200 the shim says nothing; the first that
   * does not is sent as `watch-miss` and ends the watch. A new `watch` replaces the current one;
   * `unwatch`, a detach, a takeover, a closed connection and the gateway's exit end it.
   */
  z.object({
    type: z.literal('watch'),
    id: requestId,
    port: z.number().int().min(1).max(65535),
    path: z.string().regex(/^\/[\x21-\x7e]*$/, 'must start with / and hold printable ASCII without spaces').max(MAX_WATCH_PATH),
    intervalMs: z.number().int().min(100).max(86_400_000),
    timeoutMs: z.number().int().min(10).max(86_400_000),
  }),
  /** Ends the current watch, if any (answered `ok`). */
  z.object({ type: z.literal('unwatch'), id: requestId }),
]);
/** A request from the client. */
export type ClientRequest = z.infer<typeof clientRequestSchema>;
/** A request as a client writes it (defaults may be left out). */
export type ClientRequestInput = z.input<typeof clientRequestSchema>;

/** One NDJSON line for `message`. */
export function encodeLine(message: object): string {
  return `${JSON.stringify(message)}\n`;
}

// Never shows the rejected value: a spec carries secrets, and a message may too.
/** Renders a zod error as `path: message; path: message` (values are never shown). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${formatPath(issue.path.filter((p): p is string | number => typeof p !== 'symbol'))}: ${issue.message}`)
    .join('; ');
}
