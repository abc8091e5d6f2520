// Shared by the log routes (the captured gateway log, OpenClaw's own log): the `lines`
// query parameter, and following a log as NDJSON `{ line }` objects across rotations,
// bounded for a slow reader. A text transform (redaction) sees the raw chunks before they
// are cut into lines, so a secret split across two writes is still caught.
import { FleetError } from '../errors.js';
import { followLog, type RotatedPath } from '../supervise/log-read.js';
import { createPushStream } from '../util/push-stream.js';
import { parseFlag } from './query.js';

/** Largest `lines` a client may ask for. */
export const MAX_LOG_LINES = 100_000;

/** Lines a follow stream buffers for a slow client before it skips some. */
const MAX_PENDING_LINES = 10_000;

/** A line that never ends is passed on in pieces of this many characters. */
const MAX_LINE_CHARS = 65_536;

/** Parses `?lines=`; default 50; BAD_REQUEST outside 0..MAX_LOG_LINES. */
export function parseLines(value: string | null): number {
  if (value === null) return 50;
  if (!/^\d+$/.test(value) || Number(value) > MAX_LOG_LINES) {
    throw new FleetError('BAD_REQUEST', `lines must be a whole number from 0 to ${MAX_LOG_LINES}, found ${JSON.stringify(value.slice(0, 40))}`);
  }
  return Number(value);
}

/** Parses `?follow=`: 1/true or 0/false (absent: false). */
export function parseFollow(value: string | null): boolean {
  return parseFlag('follow', value);
}

/** Complete lines appended to the log from `startAt` on, until the client leaves; `transform` sees raw text first. */
export function followLines(
  file: string,
  signal: AbortSignal,
  startAt: number,
  transform: (text: string) => string = (t) => t,
  rotatedPath?: RotatedPath,
): AsyncIterable<{ line: string }> {
  // The client reads slower than the gateway writes: drop the oldest lines, and say so.
  const out = createPushStream<{ line: string }>({
    limit: MAX_PENDING_LINES,
    onOverflow: (dropped) => ({ line: `[fleetd: ${dropped} log lines skipped: the reader is too slow]` }),
    signal,
  });
  let partial = '';
  const onChunk = (text: string) => {
    const parts = (partial + transform(text)).split('\n');
    partial = parts.pop() ?? '';
    if (partial.length > MAX_LINE_CHARS) {
      parts.push(partial);
      partial = '';
    }
    out.push(...parts.map((line) => ({ line })));
  };
  followLog(file, onChunk, signal, { startAt, ...(rotatedPath ? { rotatedPath } : {}) })
    .catch(() => {})
    .finally(() => out.end());
  return out;
}
