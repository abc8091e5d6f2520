// The rollout record: what fleetd persists about a runtime change moving through a fleet
// (so a fleetd killed mid-rollout knows where it was) and what `fleetctl upgrade status`
// shows. One shape for the registry, the wire and the CLI. Phases of one agent:
//
//   pending -> preflight -> stopping -> snapshot [-> restore of an older snapshot, --restore] -> starting -> verifying -> done
//                 |            any step after `stopping` failing:  -> rolling-back -> rolled-back
//                 +-> failed   (preflight refused: the agent was never touched)
//   passive: not running (stopped, failed, disabled): switched to the new runtime without a
//            restart; it starts on it whenever it is started.
//
// Rollout states: installing -> running -> succeeded | failed.
import { z } from 'zod';

/** Phases of one agent in a rollout, in order. */
export const AGENT_PHASES = ['pending', 'preflight', 'stopping', 'snapshot', 'starting', 'verifying', 'done', 'failed', 'rolling-back', 'rolled-back', 'passive'] as const;
/** One agent's phase. */
export type AgentPhase = (typeof AGENT_PHASES)[number];

/** States of a rollout. */
export const ROLLOUT_STATES = ['installing', 'running', 'succeeded', 'failed'] as const;
/** A rollout's state. */
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** A launch a rollout moves between: a runtime key (`2026.9.6`, `2026.9.6+node-24.21.0`). */
export const runtimeKeySchema = z.string().min(1);

/** One agent of a rollout. */
export const rolloutAgentSchema = z.object({
  address: z.string(),
  fleet: z.string(),
  /** Runtime key it ran before. */
  from: runtimeKeySchema,
  /** Runtime key it moves to. */
  to: runtimeKeySchema,
  /** Batch number (0-based) in the rollout's order; null for passive agents. */
  batch: z.number().int().nonnegative().nullable(),
  phase: z.enum(AGENT_PHASES),
  /** Snapshot taken before its restart (id under its snapshots folder). */
  snapshot: z.string().nullable().default(null),
  /** `upgrade --restore`: the snapshot whose state it gets back before starting on `to` (one `to` wrote). */
  restoreFrom: z.string().nullable().default(null),
  /** Was `/readyz` 200 before the upgrade? Then it must be again (else `/startupz` "started" suffices). */
  wasReady: z.boolean().nullable().default(null),
  /** Result of the target's database preflight, for people. */
  preflight: z.string().nullable().default(null),
  /** Why it failed (the report names it). */
  cause: z.string().nullable().default(null),
  /** epoch ms. */
  startedAt: z.number().nullable().default(null),
  finishedAt: z.number().nullable().default(null),
});
/** One agent of a rollout. */
export type RolloutAgent = z.infer<typeof rolloutAgentSchema>;

/** Per-fleet settings a rollout runs with (from the manifest's `upgrade`). */
export const rolloutSettingsSchema = z.object({
  maxParallel: z.number().int().min(1),
  readyTimeoutMs: z.number().int().min(1),
  /** How long a rolled-back agent may take to run its previous version again (at least health.startupTimeoutMs). */
  backTimeoutMs: z.number().int().min(1).optional(),
});

/** A rollout. */
export const rolloutRecordSchema = z.object({
  schema: z.literal(1),
  id: z.string(),
  /** What started it: a manifest reload, or `fleetctl upgrade`. */
  source: z.enum(['reload', 'upgrade']),
  /** What it covers, for people: `acme`, `acme/korax`, or `manifest`. */
  scope: z.string(),
  /** Runtime keys it installs (usually one). */
  targets: z.array(runtimeKeySchema),
  state: z.enum(ROLLOUT_STATES),
  settings: z.record(z.string(), rolloutSettingsSchema),
  agents: z.array(rolloutAgentSchema),
  /** The first failure, which stopped the rollout. */
  failure: z.object({ address: z.string().nullable(), phase: z.string(), cause: z.string(), rolledBack: z.boolean().nullable() }).nullable().default(null),
  createdAt: z.number(),
  updatedAt: z.number(),
  finishedAt: z.number().nullable().default(null),
});
/** A rollout. */
export type RolloutRecord = z.infer<typeof rolloutRecordSchema>;

/** A `fleetctl upgrade` pin that stands in for an edit of the manifest. */
export const pinOverrideSchema = z.object({
  /** `acme` (the fleet's pin) or `acme/korax` (the agent's pin). */
  scope: z.string(),
  openclaw: z.string(),
  /** Node pin given with --node; absent: the manifest's Node pin (if any) still applies. */
  node: z.string().optional(),
  /** The manifest's pin at that scope when the override was made: once the file says something else, the file wins. */
  base: z.object({ openclaw: z.string().nullable(), node: z.string().nullable() }),
  createdAt: z.number(),
});
/** A `fleetctl upgrade` pin. */
export type PinOverride = z.infer<typeof pinOverrideSchema>;

/** An agent a failed rollout left on its previous runtime: it stays there while `to` is what is wanted. */
export const holdSchema = z.object({
  address: z.string(),
  /** Runtime key it runs. */
  from: runtimeKeySchema,
  /** Runtime key that failed on it. */
  to: runtimeKeySchema,
  /** The rollout that failed. */
  rollout: z.string(),
  since: z.number(),
});
/** A hold. */
export type Hold = z.infer<typeof holdSchema>;

/** Everything fleetd persists about upgrades (upgrades.json, or a registry section). */
export const upgradeStateSchema = z.object({
  schema: z.literal(1),
  overrides: z.array(pinOverrideSchema).default([]),
  /** Agents held back by failed rollouts (released when what is wanted for them changes, or by `fleetctl upgrade`). */
  held: z.array(holdSchema).default([]),
  /** The active rollout, or the last one. */
  rollout: rolloutRecordSchema.nullable().default(null),
  /** Finished rollouts before it, newest first (bounded). */
  history: z.array(rolloutRecordSchema).default([]),
});
/** Everything fleetd persists about upgrades. */
export type UpgradeState = z.infer<typeof upgradeStateSchema>;

/** One NDJSON line of `POST /v1/upgrade` and `fleetctl upgrade --json`. */
export const upgradeEventSchema = z.union([
  z.object({ progress: z.object({ rollout: z.string(), address: z.string().nullable(), phase: z.string(), message: z.string(), at: z.number() }) }),
  z.object({ result: z.object({ rollout: rolloutRecordSchema, dryRun: z.boolean(), persist: z.string() }) }),
  z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) }),
]);
