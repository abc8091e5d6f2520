// Where fleetd's own log lines go (stdout: the journal, a terminal, a pipe, a file), written
// so that the destination can never stop or kill the supervisor (issue 9 item 1):
//   - a write never throws and never blocks: EPIPE (the reader went away, journald
//     restarted), EBADF, EAGAIN (a pipe nobody drains), ENOSPC (a full disk) are all
//     absorbed; the fd of a pipe or terminal is non-blocking (Node makes it so once
//     process.stdout exists), and a regular file does not block;
//   - lines wait in a bounded queue while the destination is full and are retried on a
//     timer; beyond the bound, and for good once the reader is gone (EPIPE), lines are
//     dropped and COUNTED: `dropped()` is what status reports as `logDropped`.
import { writeSync } from 'node:fs';

/** A destination for log lines that never throws and never blocks. */
export interface LogOutput {
  /** Queues one line (with its line break) for writing; drops and counts it when it cannot be. */
  write(line: string): void;
  /** Lines dropped so far: destination broken, full for too long, or refusing writes. */
  dropped(): number;
  /** Bytes queued, waiting for the destination to take them. */
  pendingBytes(): number;
  /** Writes what is queued, without waiting (best effort before exit); what remains is dropped. */
  flush(): void;
}

/** Options of the outputs (defaults suit the daemon; tests shrink them). */
export interface LogOutputOptions {
  /** Most bytes queued while the destination is full (default 1 MiB); newer lines are dropped. */
  maxPendingBytes?: number;
  /** Retry interval while the destination is full (default 50 ms). */
  retryMs?: number;
  /** The write syscall (injectable to fake EAGAIN/ENOSPC); fs.writeSync by default. */
  writeSync?: (fd: number, buffer: Buffer) => number;
}

/** Errors after which the destination never comes back: everything later is dropped. */
const PERMANENT = new Set(['EPIPE', 'EBADF', 'EINVAL', 'ECONNRESET', 'ENOTCONN', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

/** Output over a file descriptor with writeSync (stdout, stderr, a log file). */
export function createFdOutput(fd: number, options: LogOutputOptions = {}): LogOutput {
  const maxPending = options.maxPendingBytes ?? 1024 * 1024;
  const retryMs = options.retryMs ?? 50;
  const write = options.writeSync ?? ((f: number, b: Buffer) => writeSync(f, b));
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  let dropped = 0;
  let broken = false;
  let timer: NodeJS.Timeout | null = null;

  const dropQueue = () => {
    dropped += queue.length;
    queue.length = 0;
    queuedBytes = 0;
  };
  /** Writes queued lines until done or the destination is full; false when it is full. */
  const drain = (): boolean => {
    while (queue.length > 0) {
      const head = queue[0]!;
      let n: number;
      try {
        n = write(fd, head);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') return false;
        if (PERMANENT.has(code)) {
          broken = true;
          dropQueue();
          return true;
        }
        // ENOSPC, EIO, EFBIG...: this line is lost, the next one may pass.
        queue.shift();
        queuedBytes -= head.length;
        dropped++;
        continue;
      }
      queuedBytes -= n;
      if (n >= head.length) queue.shift();
      else queue[0] = head.subarray(n); // a partial write: the rest of this line goes first
    }
    return true;
  };
  const schedule = () => {
    if (timer !== null || broken || queue.length === 0) return;
    timer = setTimeout(() => {
      timer = null;
      if (!drain()) schedule();
    }, retryMs);
    timer.unref();
  };

  return {
    write(line) {
      if (broken) {
        dropped++;
        return;
      }
      const bytes = Buffer.from(line, 'utf8');
      if (queuedBytes + bytes.length > maxPending && queue.length > 0) {
        dropped++;
        return;
      }
      queue.push(bytes);
      queuedBytes += bytes.length;
      if (timer === null && !drain()) schedule();
    },
    dropped: () => dropped,
    pendingBytes: () => queuedBytes,
    flush() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      if (!drain()) dropQueue();
    },
  };
}

/** Output over a Node stream that has no fd (a PassThrough in tests, a custom destination). */
export function createStreamOutput(stream: NodeJS.WritableStream, options: LogOutputOptions = {}): LogOutput {
  const maxPending = options.maxPendingBytes ?? 1024 * 1024;
  let dropped = 0;
  let broken = false;
  stream.on('error', () => {
    broken = true;
  });
  const writable = stream as NodeJS.WritableStream & { writableLength?: number; destroyed?: boolean; writableEnded?: boolean };
  return {
    write(line) {
      if (broken || writable.destroyed || writable.writableEnded || (writable.writableLength ?? 0) > maxPending) {
        dropped++;
        return;
      }
      try {
        stream.write(line);
      } catch {
        dropped++;
      }
    },
    dropped: () => dropped,
    pendingBytes: () => writable.writableLength ?? 0,
    flush() {},
  };
}

/** The right output for `destination`: by fd when it has one (stdout, stderr), else as a stream. */
export function openLogOutput(destination: NodeJS.WritableStream = process.stdout, options: LogOutputOptions = {}): LogOutput {
  // Errors of the stream object itself (another writer of it, Node's own warnings on stderr)
  // must not become uncaught exceptions either.
  destination.on('error', () => {});
  const fd = (destination as { fd?: unknown }).fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? createFdOutput(fd, options) : createStreamOutput(destination, options);
}
