// GET /v1/agents/:fleet/:agent/openclaw-logs?lines=N[&follow=1]: OpenClaw's own log file
// (logging.file, which fleetd manages: <home>/logs/openclaw.log; OpenClaw rotates it at
// logging.maxFileBytes into openclaw.1.log ... openclaw.5.log, the number before the
// extension: logging/logger-file-transport.ts of 2026.9.6), one JSON record per line. Unlike the captured gateway
// log it is written by OpenClaw, not through fleetd's sink: every line is redacted here
// (tokens, secret values). Reads are bounded in lines and bytes.
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { tailLines, type RotatedPath } from '../../supervise/log-read.js';
import { createRedactor } from '../../supervise/log-sink.js';
import { redactText } from '../../secrets/redact.js';
import { agentFacts, redactionSetOf } from '../agent-facts.js';
import { followLines, parseFollow, parseLines } from '../log-follow.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Most bytes one tail reads (OpenClaw's records can be long; a file without line breaks must not be read whole). */
export const MAX_TAIL_BYTES = 16 * 1024 * 1024;

/** OpenClaw's naming of rotation `index`: openclaw.log -> openclaw.1.log. */
export const openclawRotatedPath: RotatedPath = (file, index) => {
  const ext = extname(file);
  return `${file.slice(0, file.length - ext.length)}.${index}${ext}`;
};

/** The OpenClaw log route. */
export const openclawLogsHandler = (ctx: DaemonContext): Handler<'openclawLogs'> => async ({ params, query, signal }) => {
  const parentEnv = ctx.fleet.parentEnv;
  const facts = agentFacts(ctx.fleet, params.fleet!, params.agent!);
  const lines = parseLines(query.get('lines'));
  const following = parseFollow(query.get('follow'));
  const file = facts.effective.paths.openclawLog;
  const secrets = await redactionSetOf(facts, parentEnv);
  // Follow from where the tail was taken, so nothing written in between is lost.
  const size = (await stat(file).catch(() => undefined))?.size;
  const startAt = following ? (size ?? 0) : 0;
  const last = (lines === 0 ? [] : await tailLines(file, lines, { maxBytes: MAX_TAIL_BYTES, rotatedPath: openclawRotatedPath })).map((line) => redactText(line, secrets));
  if (!following) return { address: facts.address, file, lines: last, exists: size !== undefined };
  const redactor = createRedactor(secrets);
  async function* stream() {
    for (const line of last) yield { line };
    yield* followLines(file, signal, startAt, (text) => redactor.push(text), openclawRotatedPath);
  }
  return { stream: stream() };
};
