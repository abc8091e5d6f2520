// Wire shapes of the commands that act on many agents at once: stop or start every agent
// of one fleet, or of the whole fleetd (`fleetctl stop fleet F`, `stop --all`, `start fleet
// F`, `start --all`). Spread into `routes` (schemas.ts). With ?progress=1 the answer is
// NDJSON (schemas.ts bulkEventSchema): one `{ progress }` line per agent as its stop or
// start ends, then `{ result }` (or `{ error }`).
import { z } from 'zod';

/** How one agent's part ended. */
export const bulkStepSchema = z.object({
  address: z.string(),
  /** stopped / started (running) / starting (--no-wait: its launch began) / skipped (with why) / failed (with why). */
  step: z.enum(['stopped', 'started', 'starting', 'skipped', 'failed']),
  reason: z.string(),
  /** True when the agent already was stopped (a stop) or running (a start): this command changed nothing for it. */
  already: z.boolean().optional(),
});

/** The outcome of a bulk stop or start. */
export const bulkResultSchema = z.object({
  action: z.enum(['stop', 'start']),
  /** `fleet acme`, or `all` (every agent of this fleetd). */
  scope: z.string(),
  /** Agents this command stopped, or started (running; with --no-wait: starting). */
  done: z.array(z.string()),
  /** Agents that already were stopped (a stop) or running (a start): not in `done`. */
  already: z.array(z.string()).default([]),
  skipped: z.array(z.object({ address: z.string(), reason: z.string() })),
  failed: z.array(z.object({ address: z.string(), reason: z.string() })),
  /** Every agent's step, in the order they ended. */
  steps: z.array(bulkStepSchema),
});

const stopBody = z.strictObject({ timeoutMs: z.int().min(0).max(3_600_000).optional() }).default({});
const startBody = z.strictObject({ wait: z.boolean().default(true) }).default({ wait: true });

/** The bulk routes. */
export const bulkRoutes = {
  stopFleet: { method: 'POST', path: '/v1/fleets/:fleet/stop', body: stopBody, response: bulkResultSchema },
  startFleet: { method: 'POST', path: '/v1/fleets/:fleet/start', body: startBody, response: bulkResultSchema },
  stopAll: { method: 'POST', path: '/v1/stop', body: stopBody, response: bulkResultSchema },
  startAll: { method: 'POST', path: '/v1/start', body: startBody, response: bulkResultSchema },
} as const;
