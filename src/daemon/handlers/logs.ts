// GET /v1/agents/:fleet/:agent/logs?lines=N[&follow=1]: the last N lines of the agent's
// captured gateway log (tokens already redacted by the sink); with follow, NDJSON `{ line }`
// objects keep coming, across rotations, until the client disconnects.
import { stat } from 'node:fs/promises';
import { toAddress } from '../../manifest/ids.js';
import { tailLines } from '../../supervise/log-read.js';
import { followLines, parseFollow, parseLines } from '../log-follow.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** The logs route. */
export const logsHandler = (ctx: DaemonContext): Handler<'logs'> => async ({ params, query, signal }) => {
  const address = toAddress(params.fleet!, params.agent!);
  const file = ctx.fleet.logFileOf(address); // NOT_FOUND for unknown agents
  const lines = parseLines(query.get('lines'));
  const following = parseFollow(query.get('follow'));
  // Follow from where the tail was taken, so nothing written in between is lost.
  const size = (await stat(file).catch(() => undefined))?.size;
  const startAt = following ? (size ?? 0) : 0;
  const last = lines === 0 ? [] : await tailLines(file, lines);
  if (!following) return { address, file, lines: last, exists: size !== undefined };
  async function* stream() {
    for (const line of last) yield { line };
    yield* followLines(file, signal, startAt);
  }
  return { stream: stream() };
};
