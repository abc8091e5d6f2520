// Events of a fleetd, as `GET /v1/events` streams them (NDJSON, one per line) and
// `fleetctl events` prints them: what changed, where, and why, so alerting can hook in
// without polling. Every event has `seq` (1, 2, ... per fleetd process: the `since`
// cursor), `at` (epoch ms), `type`, and its own fields. Additions stay backwards
// compatible: a client must skip types it does not know.
import { z } from 'zod';
import { agentStateSchema, reconfigureOutcomeSchema } from './schemas.js';

const base = { seq: z.number().int().positive(), at: z.number() };

/** Every event type. */
export const eventSchema = z.discriminatedUnion('type', [
  /** An agent's state changed (`from` null: first state seen); reason as `fleetctl status` shows it. */
  z.object({ ...base, type: z.literal('agent.state'), address: z.string(), from: agentStateSchema.nullable(), to: agentStateSchema, reason: z.string() }),
  /** A gateway process ended. */
  z.object({ ...base, type: z.literal('agent.exit'), address: z.string(), pid: z.number().nullable(), code: z.number().nullable(), signal: z.string().nullable(), runtimeMs: z.number() }),
  /** An agent was (or is about to be) started again: after a crash, a hang, or by an operator. */
  z.object({ ...base, type: z.literal('agent.restart'), address: z.string(), restarts: z.number(), reason: z.string() }),
  /** A reload's config-only change of an agent ended: applied in place by the running gateway, restarted instead (reason says why), or skipped. */
  z.object({ ...base, type: z.literal('agent.reconfigured'), ...reconfigureOutcomeSchema.shape }),
  /** fleetd took over a gateway that outlived its previous process (live restore). */
  z.object({ ...base, type: z.literal('agent.adopted'), address: z.string(), pid: z.number(), reason: z.string() }),
  /** The manifest was re-read: applied or refused (with why). */
  z.object({ ...base, type: z.literal('fleet.reload'), applied: z.boolean(), actions: z.array(z.string()), error: z.string().nullable() }),
  /** One step of a rollout (protocol/rollout.ts phases; address null: the rollout as a whole). */
  z.object({ ...base, type: z.literal('rollout.step'), rollout: z.string(), address: z.string().nullable(), phase: z.string(), message: z.string() }),
  /** fleetd itself: started, ready (start-up planned), reloading, stopping. */
  z.object({ ...base, type: z.literal('daemon'), event: z.enum(['started', 'ready', 'stopping']), pid: z.number(), version: z.string() }),
  /** The reader was too slow: this many events were skipped (their seqs are gone from the stream). */
  z.object({ ...base, type: z.literal('events.dropped'), count: z.number().int().positive() }),
]);

/** One event. */
export type FleetEvent = z.infer<typeof eventSchema>;
/** The type of one event. */
export type FleetEventType = FleetEvent['type'];
/** An event as published (fleetd adds seq and at). */
export type FleetEventInput = FleetEvent extends infer E ? (E extends FleetEvent ? Omit<E, 'seq' | 'at'> : never) : never;
