// The captured stdout/stderr of a gateway, written to <stateDir>/agents/<fleet>/<agent>/gateway.log
// (by the agent's shim, or by the runner when there is none): the agent's
// token, and any piece of 8+ characters of it, is replaced by `<redacted>` (redact.ts)
// before anything reaches the disk, and the file rotates by size (gateway.log ->
// gateway.log.1 ... gateway.log.<maxFiles-1>, at most maxFiles files).
// Writes are synchronous: gateway output is small, and one writer per file keeps rotation
// free of interleaving.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { compileSecrets, createRedactor, redactText } from './redact.js';

// Redaction lives in redact.ts (the one module every writer uses); re-exported for callers of this file.
export { createRedactor, REDACTED, type Redactor } from './redact.js';

/** Options of openLogSink. */
export interface LogSinkOptions {
  file: string;
  /** Rotate before a file would grow past this many bytes. */
  maxBytes: number;
  /** Files kept in total, the current one included (>= 1; 1 = truncate instead of rotating). */
  maxFiles: number;
  /** Strings that must never reach the file (the gateway token). */
  secrets: readonly string[];
  /** Receives the redacted text of each stream (for the last lines shown in reasons). */
  onText?: (stream: OutputStream, text: string) => void;
  /** Called when the disk refuses a write; the sink keeps going. */
  onError?: (err: unknown) => void;
  /** Clock for note timestamps. */
  now?: () => number;
}

/** Which output of the gateway. */
export type OutputStream = 'stdout' | 'stderr';

/** One output stream of one gateway process. */
export interface LogStream {
  write(chunk: Buffer | string): void;
  /** Flushes what the redactor held back; call when the process is gone. */
  end(): void;
}

/** What a sink did with the text it was given, bytes after redaction. */
export interface LogSinkStats {
  writtenBytes: number;
  /** Refused by the disk (ENOSPC, EIO...) or while the file could not be opened: lost, never retried. */
  droppedBytes: number;
  /** Failed opens, renames and writes. */
  failures: number;
}

/** The log of one gateway process: its streams, fleetd's own notes, rotation. */
export interface LogSink {
  stream(name: OutputStream): LogStream;
  /** Writes a line from fleetd itself (`[fleetd <time>] ...`) on a line of its own. */
  note(text: string): void;
  close(): void;
}

/** The sink openLogSink returns: a LogSink that also counts what it wrote and lost. */
export interface CountingLogSink extends LogSink {
  /** Counters since the sink was opened. */
  stats(): LogSinkStats;
}

/** After a failed open, the next attempt waits this long (a flood of output must not become a flood of open calls). */
const REOPEN_AFTER_MS = 1000;

/** Opens (appends to) `options.file`, creating its directory (0700) and the file (0600). */
export function openLogSink(options: LogSinkOptions): CountingLogSink {
  const { file } = options;
  const secrets = compileSecrets(options.secrets);
  const maxBytes = Math.max(1, options.maxBytes);
  const maxFiles = Math.max(1, Math.floor(options.maxFiles));
  const now = options.now ?? Date.now;
  let fd: number | null = null;
  let size = 0;
  let atLineStart = true;
  let closed = false;
  let failedOpenAt: number | null = null;
  const stats: LogSinkStats = { writtenBytes: 0, droppedBytes: 0, failures: 0 };

  const fail = (err: unknown) => {
    stats.failures += 1;
    options.onError?.(err);
  };
  const open = (flags: 'a' | 'w') => {
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      fd = openSync(file, flags, 0o600);
      size = fstatSync(fd).size;
      failedOpenAt = null;
    } catch (err) {
      fd = null;
      failedOpenAt = now();
      fail(err);
    }
  };
  // A file that could not be opened (deleted folder, EMFILE, disk trouble) is tried again later.
  const reopenIfDue = () => {
    if (fd === null && !closed && (failedOpenAt === null || now() - failedOpenAt >= REOPEN_AFTER_MS)) open('a');
  };
  const rotate = () => {
    if (fd !== null) closeSync(fd);
    fd = null;
    try {
      if (maxFiles > 1) {
        removeBeyond(file, maxFiles);
        for (let i = maxFiles - 2; i >= 1; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
        renameSync(file, `${file}.1`);
      }
    } catch (err) {
      fail(err);
    }
    open(maxFiles > 1 ? 'a' : 'w');
  };
  const writeBytes = (input: Buffer) => {
    let bytes = input;
    let guard = 0;
    reopenIfDue();
    while (bytes.length > 0 && fd !== null && guard++ < 10_000) {
      const room = maxBytes - size;
      if (room <= 0) {
        rotate();
        continue;
      }
      let cut = bytes.length;
      if (bytes.length > room) {
        // Prefer to end the file at a line break; cut mid-line only in an empty file.
        cut = bytes.lastIndexOf(0x0a, room - 1) + 1;
        if (cut <= 0) {
          if (size > 0) {
            rotate();
            continue;
          }
          cut = room;
        }
      }
      let written: number;
      try {
        written = writeSync(fd, bytes, 0, cut);
      } catch (err) {
        fail(err);
        break;
      }
      size += written;
      stats.writtenBytes += written;
      atLineStart = bytes[written - 1] === 0x0a;
      bytes = bytes.subarray(written);
    }
    stats.droppedBytes += bytes.length;
  };
  const writeText = (text: string) => {
    if (!closed && text.length > 0) writeBytes(Buffer.from(text, 'utf8'));
  };

  open('a');
  return {
    stream(name) {
      const decoder = new StringDecoder('utf8');
      const redactor = createRedactor(secrets);
      let ended = false;
      const emit = (text: string) => {
        if (text.length === 0) return;
        writeText(text);
        options.onText?.(name, text);
      };
      return {
        write(chunk) {
          if (ended) return;
          emit(redactor.push(typeof chunk === 'string' ? chunk : decoder.write(chunk)));
        },
        end() {
          if (ended) return;
          ended = true;
          emit(redactor.push(decoder.end()) + redactor.end());
        },
      };
    },
    note(text) {
      const line = redactText(`[fleetd ${new Date(now()).toISOString()}] ${text.replace(/\n/g, ' ')}`, secrets);
      writeText(`${atLineStart ? '' : '\n'}${line}\n`);
    },
    stats() {
      return { ...stats };
    },
    close() {
      if (closed) return;
      closed = true;
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** Deletes rotated files numbered maxFiles-1 and above (the oldest, or left from a larger maxFiles). */
function removeBeyond(file: string, maxFiles: number): void {
  const prefix = `${basename(file)}.`;
  for (const name of readdirSync(dirname(file))) {
    if (!name.startsWith(prefix)) continue;
    const n = name.slice(prefix.length);
    if (/^\d+$/.test(n) && Number(n) >= maxFiles - 1) unlinkSync(join(dirname(file), name));
  }
}
