// GET /v1/agents/:fleet/:agent/logs?lines=N[&follow=1]: the last N lines of the agent's
// captured gateway log (tokens already redacted by the sink); with follow, NDJSON `{ line }`
// objects keep coming, across rotations, until the client disconnects.
import { stat } from 'node:fs/promises';
import { FleetError } from '../../errors.js';
import { createPushStream } from '../../util/push-stream.js';
import { toAddress } from '../../manifest/ids.js';
import { followLog, tailLines } from '../../supervise/log-read.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Largest `lines` a client may ask for. */
export const MAX_LOG_LINES = 100_000;

/** Lines a follow stream buffers for a slow client before it skips some. */
const MAX_PENDING_LINES = 10_000;

/** Parses `?lines=`; default 50. */
function parseLines(value: string | null): number {
  if (value === null) return 50;
  if (!/^\d+$/.test(value) || Number(value) > MAX_LOG_LINES) {
    throw new FleetError('BAD_REQUEST', `lines must be a whole number from 0 to ${MAX_LOG_LINES}, found ${JSON.stringify(value.slice(0, 40))}`);
  }
  return Number(value);
}

/** Complete lines appended to the log from `startAt` on, until the client leaves. */
function followLines(file: string, signal: AbortSignal, startAt: number): AsyncIterable<{ line: string }> {
  // The client reads slower than the gateway writes: drop the oldest lines, and say so.
  const out = createPushStream<{ line: string }>({
    limit: MAX_PENDING_LINES,
    onOverflow: (dropped) => ({ line: `[fleetd: ${dropped} log lines skipped: the reader is too slow]` }),
    signal,
  });
  let partial = '';
  const onChunk = (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    if (partial.length > 65_536) {
      parts.push(partial); // a "line" that never ends is passed on in pieces
      partial = '';
    }
    out.push(...parts.map((line) => ({ line })));
  };
  followLog(file, onChunk, signal, { startAt })
    .catch(() => {})
    .finally(() => out.end());
  return out;
}

/** The logs route. */
export const logsHandler = (ctx: DaemonContext): Handler<'logs'> => async ({ params, query, signal }) => {
  const address = toAddress(params.fleet!, params.agent!);
  const file = ctx.fleet.logFileOf(address); // NOT_FOUND for unknown agents
  const lines = parseLines(query.get('lines'));
  const follow = query.get('follow');
  if (follow !== null && !['0', '1', 'true', 'false'].includes(follow)) throw new FleetError('BAD_REQUEST', `follow must be 1 or 0, found ${JSON.stringify(follow.slice(0, 40))}`);
  const following = follow === '1' || follow === 'true';
  // Follow from where the tail was taken, so nothing written in between is lost.
  const startAt = following ? ((await stat(file).catch(() => undefined))?.size ?? 0) : 0;
  const last = lines === 0 ? [] : await tailLines(file, lines);
  if (!following) return { address, file, lines: last };
  async function* stream() {
    for (const line of last) yield { line };
    yield* followLines(file, signal, startAt);
  }
  return { stream: stream() };
};
