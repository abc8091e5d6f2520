// Reading a gateway's captured log for `fleetctl logs`: the last N lines (reaching into the
// rotated files when the current one is short) and following new output across rotations.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';

/** Largest read in one go. */
const BLOCK = 64 * 1024;

/** Most rotated files looked at (logs.maxFiles is at most 100). */
const MAX_ROTATED = 200;

/** Name of rotation `index` of a log (1 = the newest rotated file). */
export type RotatedPath = (file: string, index: number) => string;

/** fleetd's own naming: gateway.log -> gateway.log.1, gateway.log.2 ... */
export const numberedSuffix: RotatedPath = (file, index) => `${file}.${index}`;

/** `file`, then its rotations that exist, newest first. */
async function logFiles(file: string, rotatedPath: RotatedPath = numberedSuffix): Promise<string[]> {
  const out = [file];
  for (let i = 1; i <= MAX_ROTATED; i++) {
    const path = rotatedPath(file, i);
    if (!(await stat(path).catch(() => null))) break;
    out.push(path);
  }
  return out;
}

/** Most bytes `tailLines` reads back, whatever `n` is: the answer stays bounded on a log without line breaks. */
export const MAX_TAIL_BYTES = 2 * 1024 * 1024;

/** Longest line `tailLines` returns whole (characters); a longer one keeps its end. */
export const MAX_LINE_CHARS = 64 * 1024;

/** Bounds of tailLines (defaults MAX_TAIL_BYTES, MAX_LINE_CHARS). */
export interface TailOptions {
  maxBytes?: number;
  maxLineChars?: number;
  /** How rotation `index` of `file` is named (default `<file>.<index>`; OpenClaw's own log differs). */
  rotatedPath?: RotatedPath;
}

// Bounded (issue 9 item 5): at most maxBytes are read, across the rotated files, however
// few line breaks there are; a line longer than maxLineChars keeps only its end. Either cut
// is said in the text, so nobody mistakes a cut line for the whole.
/** The last `n` lines of the log (without their line breaks), oldest first. */
export async function tailLines(file: string, n: number, options: TailOptions = {}): Promise<string[]> {
  if (n <= 0) return [];
  const maxBytes = options.maxBytes ?? MAX_TAIL_BYTES;
  const maxLine = options.maxLineChars ?? MAX_LINE_CHARS;
  const pieces: Buffer[] = [];
  let newlines = 0;
  let total = 0;
  let capped = false;
  outer: for (const path of await logFiles(file, options.rotatedPath)) {
    const handle = await open(path, 'r').catch(() => null);
    if (!handle) continue;
    try {
      let pos = (await handle.stat()).size;
      while (pos > 0) {
        if (total >= maxBytes) {
          capped = true;
          break outer;
        }
        const len = Math.min(BLOCK, pos, maxBytes - total);
        pos -= len;
        const buf = Buffer.alloc(len);
        const { bytesRead } = await handle.read(buf, 0, len, pos);
        const got = buf.subarray(0, bytesRead);
        pieces.unshift(got);
        total += bytesRead;
        for (const byte of got) if (byte === 0x0a) newlines++;
        // n + 1 line breaks guarantee that the first of the last n lines is complete.
        if (newlines > n) break outer;
      }
    } finally {
      await handle.close();
    }
  }
  const lines = Buffer.concat(pieces).toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const last = lines.slice(-n);
  // Read up to the cap without finding the start of the first line: it is only the end of one.
  if (capped && newlines <= n && last.length > 0) last[0] = `[fleetd: the start of this line is not shown: over ${maxBytes} bytes read] ${last[0]}`;
  return last.map((line) => (line.length > maxLine ? `[fleetd: ${line.length - maxLine} characters of this line not shown] ${line.slice(-maxLine)}` : line));
}

/** Options of followLog. */
export interface FollowOptions {
  /** Poll interval (default 200 ms). */
  pollMs?: number;
  /** Start at the beginning of the current file instead of its end. */
  fromStart?: boolean;
  /** Start at this byte offset of the current file (where an earlier read stopped); ignored past its end. */
  startAt?: number;
  /** Called once the starting position is fixed: output written after this is followed. */
  onReady?: () => void;
  /** How rotated files are named (default: `file.1`, `file.2` ...). */
  rotatedPath?: RotatedPath;
}

// Polling, not fs.watch: inotify loses track of renamed files and differs between
// filesystems. On rotation the old file is read to its end through the handle we hold,
// then every file rotated after it, then the new current file from its start. Rotated
// files are deleted oldest first, so when ours is no longer among them, all that remain
// are newer than ours.
/** Calls `onChunk` with new text of the log until `signal` aborts; follows rotations. */
export async function followLog(file: string, onChunk: (text: string) => void, signal: AbortSignal, options: FollowOptions = {}): Promise<void> {
  const pollMs = options.pollMs ?? 200;
  const decoder = new StringDecoder('utf8');
  let handle: FileHandle | null = null;
  let ino = -1;
  let offset = 0;

  const emit = (buf: Buffer) => {
    const text = decoder.write(buf);
    if (text.length > 0 && !signal.aborted) onChunk(text);
  };
  /** Emits everything from `pos` to the end of `h`; returns the new position. */
  const readToEnd = async (h: FileHandle, pos: number): Promise<number> => {
    for (;;) {
      const buf = Buffer.alloc(BLOCK);
      const { bytesRead } = await h.read(buf, 0, BLOCK, pos);
      if (bytesRead === 0) return pos;
      pos += bytesRead;
      emit(buf.subarray(0, bytesRead));
    }
  };
  const drain = async () => {
    if (handle) offset = await readToEnd(handle, offset);
  };
  const readWhole = async (path: string) => {
    const h = await open(path, 'r').catch(() => null);
    if (!h) return;
    try {
      await readToEnd(h, 0);
    } finally {
      await h.close();
    }
  };
  const openCurrent = async (fromStart: boolean) => {
    const h = await open(file, 'r').catch(() => null);
    if (!h) return;
    const st = await h.stat();
    handle = h;
    ino = st.ino;
    offset = fromStart ? 0 : options.startAt !== undefined && options.startAt <= st.size ? options.startAt : st.size;
  };

  try {
    await openCurrent(options.fromStart ?? false);
    options.onReady?.();
    while (!signal.aborted) {
      await drain();
      const st = await stat(file).catch(() => null);
      if (st && !handle) {
        await openCurrent(true);
      } else if (st && handle && st.ino !== ino) {
        await drain();
        const rotated = (await logFiles(file, options.rotatedPath)).slice(1);
        const inos = await Promise.all(rotated.map(async (p) => (await stat(p).catch(() => null))?.ino));
        const ours = inos.indexOf(ino);
        const newer = (ours >= 0 ? rotated.slice(0, ours) : rotated).reverse();
        for (const path of newer) await readWhole(path);
        await (handle as FileHandle).close();
        handle = null;
        await openCurrent(true);
      } else if (st && handle && st.size < offset) {
        offset = 0; // truncated in place (logs.maxFiles = 1)
      }
      await drain();
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    if (handle) await (handle as FileHandle).close().catch(() => undefined);
  }
}
