// The last lines a gateway printed, kept in memory so a `failed` reason can say what
// OpenClaw said (it prints its config errors on stderr before its own log file is set up).
// Fed with already-redacted text.
import type { OutputStream } from './log-sink.js';

/** Recent output of one gateway process. */
export interface OutputTail {
  push(stream: OutputStream, text: string): void;
  /** The last meaningful line(s): stderr first, else stdout; '' when there is none. */
  summary(maxLines?: number, maxChars?: number): string;
  /** The end of what is kept of `stream` (complete lines, then the unfinished one), at most `maxChars`; pushed into a fresh tail it gives the same summary. */
  text(stream: OutputStream, maxChars?: number): string;
}

/** Longest line kept, in characters (a longer one keeps its start): bounds the tail's memory. */
const MAX_LINE = 4096;

/** Lines that carry no message of their own: stack frames, Node's version footer, blanks. */
const NOISE = [/^\s*$/, /^\s+at\s/, /^Node\.js v\d/, /^\s*\^+\s*$/];

// ANSI colour and cursor sequences, as printed by loggers that think they talk to a TTY.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

/** How many trailing lines are searched for the line that names the problem. */
const ERROR_WINDOW = 8;

/** A line that says what went wrong (as opposed to a hint of what to do next). */
const ERROR_LINE = /\b(error|invalid|unrecognized|unknown|failed|refused|cannot|denied|EADDRINUSE|already)\b/i;

/** Creates a tail keeping up to `keep` complete lines per stream. */
export function createOutputTail(keep = 40): OutputTail {
  const lines: Record<OutputStream, string[]> = { stdout: [], stderr: [] };
  const partial: Record<OutputStream, string> = { stdout: '', stderr: '' };
  const meaningful = (stream: OutputStream) => {
    const all = partial[stream] ? [...lines[stream], partial[stream]] : lines[stream];
    return all.map((l) => l.replace(ANSI, '').trimEnd()).filter((l) => !NOISE.some((re) => re.test(l)));
  };
  return {
    push(stream, text) {
      const parts = (partial[stream] + text).split(/\r?\n/);
      partial[stream] = parts.pop() ?? '';
      const list = lines[stream];
      for (const line of parts.slice(-keep)) list.push(line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line);
      if (list.length > keep) list.splice(0, list.length - keep);
      if (partial[stream].length > MAX_LINE) partial[stream] = partial[stream].slice(-MAX_LINE);
    },
    text(stream, maxChars = 16384) {
      const all = `${lines[stream].map((l) => `${l}\n`).join('')}${partial[stream]}`;
      if (all.length <= maxChars) return all;
      // Start at a line boundary when one is near, so the first line is not a fragment.
      const cut = all.length - maxChars;
      const next = all.indexOf('\n', cut);
      return next >= 0 && next < all.length - 1 ? all.slice(next + 1) : all.slice(cut);
    },
    summary(maxLines = 2, maxChars = 400) {
      const stderr = meaningful('stderr');
      const recent = (stderr.length > 0 ? stderr : meaningful('stdout')).slice(-ERROR_WINDOW);
      // OpenClaw follows its error with repair hints ("Run openclaw doctor ..."): start at the
      // first line that names the problem, when the last few lines hold one.
      const first = recent.findIndex((l) => ERROR_LINE.test(l));
      const window = first >= 0 ? recent.slice(first, first + Math.max(maxLines, 2)) : recent.slice(-maxLines);
      const chosen = window.map((l) => l.trim());
      const text = chosen.join(' | ');
      return text.length > maxChars ? `${text.slice(0, maxChars - 3)}...` : text;
    },
  };
}
