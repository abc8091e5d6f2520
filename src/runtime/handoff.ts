// Consuming OpenClaw's restart handoff (protocol 1, docs/cli/gateway/restart-and-supervision.md):
// under OPENCLAW_SUPERVISOR_MODE=external and WITHOUT OPENCLAW_NO_RESPAWN, a gateway asked
// to restart (`openclaw gateway restart`, a config change that needs one) writes a bounded
// SQLite handoff into its state, then exits 0. The supervisor asks the same runtime, with
// the agent's own environment, to consume it for the pid that exited:
//   openclaw gateway restart-handoff consume --expected-pid <pid> --json
// Answers measured on 2026.9.6:
//   exit 0 {"ok":true,...,"status":"accepted","handoff":{"pid","reason":"gateway.restart","source":"operator-restart","restartKind":"full-process","expiresAt",...}}
//   exit 0 {"ok":true,...,"status":"none","reason":"missing"}           no handoff: a plain exit
//   exit 0 {"ok":true,...,"status":"rejected","reason":"expired","handoffPid":N}  (60 s lifetime)
//   exit 2 {"ok":false,...,"status":"error","reason":"invalid-expected-pid"}
//   exit 1 reason "store-unavailable"
// An accepted handoff is deleted by the consume: exactly one consumer restarts the gateway.
import { z } from 'zod';
import { FleetError } from '../errors.js';
import { HANDOFF_PROTOCOL } from './capabilities.js';
import { lastOutputLine, parseCliJson, runOpenclaw, type CliRunner } from './openclaw-cli.js';
import type { Runtime } from './types.js';

/** A consume answer (extra fields kept). */
export const consumeAnswerSchema = z.looseObject({
  ok: z.boolean(),
  protocol: z.literal(HANDOFF_PROTOCOL),
  protocolVersion: z.number(),
  status: z.string(),
  reason: z.string().optional(),
  handoff: z.looseObject({ pid: z.number().optional(), reason: z.string().optional(), source: z.string().optional(), restartKind: z.string().optional() }).optional(),
});

/** What the supervisor should do after a gateway exited. */
export type HandoffOutcome =
  | { restart: true; reason: string }
  | { restart: false; reason: string };

/** Inputs of consumeRestartHandoff: the runtime that ran the gateway and the agent's own gateway environment. */
export interface ConsumeOptions {
  runtime: Pick<Runtime, 'node' | 'entry'>;
  /** The gateway's complete environment (its OPENCLAW_STATE_DIR holds the handoff). */
  env: Record<string, string>;
  cwd: string;
  /** Pid of the gateway that exited. */
  expectedPid: number;
  cli?: CliRunner;
  timeoutMs?: number;
}

/** Turns a consume answer into a decision: only "accepted" for this pid restarts at once. */
export function handoffOutcome(answer: z.infer<typeof consumeAnswerSchema>, expectedPid: number): HandoffOutcome {
  if (answer.ok && answer.status === 'accepted') {
    const h = answer.handoff ?? {};
    if (h.pid !== undefined && h.pid !== expectedPid) return { restart: false, reason: `restart handoff was for pid ${h.pid}, not ${expectedPid}` };
    const why = [h.reason, h.source].filter(Boolean).join(', ');
    return { restart: true, reason: `restart requested by OpenClaw${why ? ` (${why})` : ''}` };
  }
  return { restart: false, reason: `no restart handoff (${answer.status}${answer.reason ? `: ${answer.reason}` : ''})` };
}

/** Runs `restart-handoff consume` for an exited gateway; RUNTIME_FAILED when the answer is unusable. */
export async function consumeRestartHandoff(o: ConsumeOptions): Promise<HandoffOutcome> {
  if (!Number.isInteger(o.expectedPid) || o.expectedPid <= 0) throw new FleetError('USAGE', `expected a gateway pid, got ${o.expectedPid}`);
  const cli = o.cli ?? runOpenclaw;
  const result = await cli({
    runtime: o.runtime,
    args: ['gateway', 'restart-handoff', 'consume', '--expected-pid', String(o.expectedPid), '--json'],
    env: o.env,
    cwd: o.cwd,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
  const parsed = consumeAnswerSchema.safeParse(parseCliJson(result.stdout));
  if (!parsed.success) {
    throw new FleetError('RUNTIME_FAILED', `restart-handoff consume ${result.timedOut ? 'timed out' : `exited ${String(result.exitCode)}`} without a usable answer: ${lastOutputLine(result) || '(no output)'}`);
  }
  return handoffOutcome(parsed.data, o.expectedPid);
}
