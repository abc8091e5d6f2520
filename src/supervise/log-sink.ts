// The captured stdout/stderr of a gateway, written to <home>/logs/gateway.log: the agent's
// token is replaced by `<redacted>` before anything reaches the disk, and the file rotates
// by size (gateway.log -> gateway.log.1 ... gateway.log.<maxFiles-1>, at most maxFiles files).
// Writes are synchronous: gateway output is small, and one writer per file keeps rotation
// free of interleaving.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

/** What replaces a secret. */
export const REDACTED = '<redacted>';

/** A held-back tail at least this long is redacted when the stream ends mid-secret. */
const MIN_PARTIAL_SECRET = 4;

/** Streaming redaction of one text stream. */
export interface Redactor {
  /** Feeds text; returns what is safe to write now. */
  push(text: string): string;
  /** Ends the stream; returns the held-back rest (redacted if it could be a cut secret). */
  end(): string;
}

// A secret may be cut anywhere between two chunks. Only a suffix that is the beginning of a
// secret is held back (at most secret.length - 1 characters): output that cannot be the
// start of a secret is written at once, so a quiet gateway's last line is never stuck.
/** Creates a redactor for `secrets` (empty strings ignored). */
export function createRedactor(secrets: readonly string[]): Redactor {
  const list = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  let held = '';
  return {
    push(text) {
      if (list.length === 0) return text;
      let s = held + text;
      for (const secret of list) if (s.includes(secret)) s = s.split(secret).join(REDACTED);
      const keep = heldSuffixLength(s, list);
      held = s.slice(s.length - keep);
      return s.slice(0, s.length - keep);
    },
    end() {
      const rest = held;
      held = '';
      return rest.length >= MIN_PARTIAL_SECRET ? REDACTED : rest;
    },
  };
}

/** Length of the longest suffix of `s` that is a proper prefix of one of `secrets`. */
function heldSuffixLength(s: string, secrets: readonly string[]): number {
  let best = 0;
  for (const secret of secrets) {
    for (let len = Math.min(s.length, secret.length - 1); len > best; len--) {
      if (s.endsWith(secret.slice(0, len))) {
        best = len;
        break;
      }
    }
  }
  return best;
}

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
  const { file, secrets } = options;
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
      const redactor = createRedactor(secrets);
      const line = redactor.push(`[fleetd ${new Date(now()).toISOString()}] ${text.replace(/\n/g, ' ')}`) + redactor.end();
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
