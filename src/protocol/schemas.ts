// Wire shapes of the control socket, shared by fleetd (validates requests) and fleetctl
// (validates responses). Additions must stay backwards compatible; a breaking change
// bumps the `/v1/` prefix.
//
// One file on purpose, though long: it is the wire contract, and a reader checking what a
// route takes or answers (or a reviewer checking compatibility) should find every shape here.
import { z } from 'zod';
import { AGENT_STATES } from '../plan/agent-states.js';
import { ENV_NAME_PATTERN, ID_PATTERN, ID_RULE, NODE_VERSION_PATTERN, RUNTIME_KEY_PATTERN, VERSION_PATTERN } from '../manifest/ids.js';
import { envValueSchema } from '../secrets/refs.js';
import { operateRoutes } from './operate-schemas.js';
import { agentIsolationViewSchema, isolationHostViewSchema } from './isolation.js';
import { holdSchema, pinOverrideSchema, rolloutRecordSchema } from './rollout.js';
import { doctorRoutes } from './doctor-schemas.js';
import { bulkResultSchema, bulkRoutes, bulkStepSchema } from './bulk-schemas.js';

/** Largest request body fleetd reads (bytes); larger requests get 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A fleet or agent id as it may appear in a URL or body. */
export const idSchema = z.string().regex(ID_PATTERN, { message: `must be ${ID_RULE}` });

/** Schemas of the path parameters routes may have. */
export const paramSchemas: Record<string, z.ZodType<string>> = {
  fleet: idSchema,
  agent: idSchema,
  version: z.string().regex(RUNTIME_KEY_PATTERN, { message: 'must be an exact OpenClaw version such as 2026.9.6 (2026.9.6+node-24.21.0 with a pinned Node)' }),
};


/** Error body of every non-2xx answer. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
/** Error body type. */
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Agent states as sent on the wire. */
export const agentStateSchema = z.enum(AGENT_STATES);

/** One agent in `status`. */
export const agentViewSchema = z.object({
  address: z.string(),
  fleet: z.string(),
  agent: z.string(),
  source: z.enum(['manifest', 'cli']),
  enabled: z.boolean(),
  desired: z.enum(['running', 'stopped']),
  state: agentStateSchema,
  reason: z.string(),
  since: z.number(),
  pid: z.number().nullable(),
  port: z.number(),
  home: z.string(),
  /** ms since the current process was spawned (null: none). */
  uptimeMs: z.number().nullable(),
  /** ms since it became `running` (null: not running). */
  healthyForMs: z.number().nullable().default(null),
  restarts: z.number(),
  lastExit: z
    .object({ code: z.number().nullable(), signal: z.string().nullable(), at: z.number(), runtimeMs: z.number(), pid: z.number().nullable().optional() })
    .nullable(),
  health: z.object({ live: z.boolean().nullable(), ready: z.boolean().nullable(), failing: z.array(z.string()).optional(), startup: z.string().optional(), holder: z.string().optional() }),
  /** Resident memory of its gateway's whole process tree, bytes (null: no process). */
  rssBytes: z.number().nullable(),
  /** CPU time of that tree, seconds (user + system, reaped children included; null: no process). Optional: older fleetds omit it. */
  cpuSeconds: z.number().nullable().optional(),
  nextStartAt: z.number().nullable(),
  runtime: z.string(),
  /** Its cgroup, user, limits and memory against its limit (absent before its first launch). */
  isolation: agentIsolationViewSchema.optional(),
  /** OpenClaw and Node versions it runs (of the runtime its launch was prepared with; before its first launch the pin, Node null until known); null for a fixed command. Optional: older fleetds omit them. */
  openclaw: z.string().nullable().optional(),
  node: z.string().nullable().optional(),
});
/** One agent in `status`. */
export type AgentView = z.infer<typeof agentViewSchema>;

/**
 * fleetd giving memory back once its fleet settles (src/daemon/memory-reclaim.ts): on, off
 * (`fleetd start --no-memory-reclaim`) or unavailable (the addon was not built or does not load:
 * `reason` says which); how many reclaims since fleetd started, and the last one (`at` epoch ms,
 * RSS before and after in bytes, `ms` the time it held fleetd's thread, to 0.1 ms; `v8`, `v8Reduced`,
 * `trimmed` as in its log line: memory-reclaim.ts ReclaimResult).
 */
export const memoryReclaimViewSchema = z.object({
  state: z.enum(['on', 'off', 'unavailable']),
  reason: z.string().nullable(),
  count: z.number(),
  last: z.object({ at: z.number(), cause: z.enum(['settled', 'periodic']), rssBeforeBytes: z.number(), rssAfterBytes: z.number(), ms: z.number(), v8: z.boolean(), v8Reduced: z.boolean(), trimmed: z.boolean() }).nullable(),
});

/** fleetd's memory reclaim as status shows it. */
export type MemoryReclaimView = z.infer<typeof memoryReclaimViewSchema>;

/** Daemon facts shown by status. */
export const daemonViewSchema = z.object({
  pid: z.number(),
  version: z.string(),
  manifest: z.string(),
  stateDir: z.string(),
  socket: z.string(),
  startedAt: z.number(),
  rssBytes: z.number(),
  /** registry.json lags behind memory (a write failed: disk full ...); null when it does not. */
  registryBehind: z.object({ since: z.number(), error: z.string(), retryAt: z.number() }).nullable().default(null),
  /** How agents are isolated on this host: cgroup v2, v1, or the /proc tree-walk fallback, and why. */
  isolation: isolationHostViewSchema.optional(),
  /** Gateways booting now and launches waiting for a start slot (startConcurrency). */
  startSlots: z.object({ active: z.number(), waiting: z.number(), limit: z.number() }).optional(),
  /** fleetd's own log lines dropped since it started, because nobody read its stdout (closed or full). */
  logDropped: z.number().optional(),
  /** fleetd's memory reclaim (absent from a fleetd before issue 14's eleventh session). */
  memoryReclaim: memoryReclaimViewSchema.optional(),
});

/** Daemon facts shown by status. */
export type DaemonView = z.infer<typeof daemonViewSchema>;

/** A planned or applied action (reload, add, remove). */
export const actionSchema = z.object({
  kind: z.enum(['provision', 'start', 'stop', 'restart', 'reconfigure', 'free']),
  address: z.string(),
  reason: z.string(),
});

/** How a `reconfigure` action ended: applied in place by the running gateway, or a restart (and why). */
export const reconfigureOutcomeSchema = z.object({
  address: z.string(),
  /** applied: in place, same process; restarted: fleetd restarted the agent instead; skipped: nothing done (stopped, exited or superseded meanwhile). */
  result: z.enum(['applied', 'restarted', 'skipped']),
  /** For people: how it was applied (hot reload, in-process restart ...) or why it was not. */
  reason: z.string(),
  /** The gateway process the change was applied to (null when none was). */
  pid: z.number().nullable(),
  durationMs: z.number(),
});
/** How one reconfigure ended. */
export type ReconfigureOutcome = z.infer<typeof reconfigureOutcomeSchema>;

/** `fleetctl federation`: the call graph, knowledge per agent, mailbox backlogs (never a token). */
export const federationViewSchema = z.object({
  agents: z.array(
    z.object({
      address: z.string(),
      enabled: z.boolean(),
      description: z.string().nullable(),
      calls: z.array(z.string()),
      callers: z.array(z.string()),
      /** Hooks enabled with a token (it is called). */
      hooks: z.boolean(),
      /** writable: whether the agent's user could write the folder's top level (null: unreadable). */
      knowledge: z.array(z.object({ name: z.string(), folder: z.string(), writable: z.boolean().nullable() })),
    }),
  ),
  edges: z.array(z.object({ from: z.string(), to: z.string(), mailbox: z.string(), backlog: z.number().nullable() })),
  /** False while agents run as fleetd's own user: read-only knowledge and mailbox modes are not enforced between agents. */
  usersEnforced: z.boolean(),
});
/** The federation view. */
export type FederationView = z.infer<typeof federationViewSchema>;

// a value is a string or a secret reference ({ file } / { credential }), as in a manifest
const envPair = z.record(z.string().regex(ENV_NAME_PATTERN, { message: 'invalid environment variable name' }), envValueSchema);

/** One step of a rolling restart as it happens. */
export const rollingProgressSchema = z.object({ address: z.string(), step: z.enum(['restarting', 'restarted', 'skipped', 'failed']), reason: z.string() });

/** The result of a rolling restart. */
export const rollingResultSchema = z.object({
  fleet: z.string(),
  restarted: z.array(z.string()),
  failed: z.object({ address: z.string(), reason: z.string() }).nullable(),
  skipped: z.array(z.string()),
  /** Every outcome in order, with its reason (skipped agents say why). */
  steps: z.array(z.object({ address: z.string(), step: z.enum(['restarted', 'skipped', 'failed']), reason: z.string() })).default([]),
});

/** Every route: method, path pattern, request and response schemas. */
export const routes = {
  health: {
    method: 'GET',
    path: '/v1/health',
    body: z.undefined(),
    response: z.object({ ok: z.literal(true), pid: z.number(), version: z.string() }),
  },
  // fleetd ends after answering: restart leaves every gateway running for the next fleetd
  // (live restore), stop stops them all (like SIGTERM)
  daemonRestart: {
    method: 'POST',
    path: '/v1/daemon/restart',
    body: z.strictObject({}).default({}),
    response: z.object({ pid: z.number(), leaving: z.enum(['restart', 'stop']), gateways: z.number(), next: z.string() }),
  },
  daemonStop: {
    method: 'POST',
    path: '/v1/daemon/stop',
    body: z.strictObject({}).default({}),
    response: z.object({ pid: z.number(), leaving: z.enum(['restart', 'stop']), gateways: z.number(), next: z.string() }),
  },
  status: {
    method: 'GET',
    path: '/v1/agents',
    body: z.undefined(),
    response: z.object({ daemon: daemonViewSchema, agents: z.array(agentViewSchema) }),
  },
  addAgent: {
    method: 'POST',
    path: '/v1/agents',
    body: z.strictObject({
      fleet: idSchema,
      agent: idSchema,
      config: z.record(z.string(), z.unknown()).default({}),
      env: envPair.default({}),
      start: z.boolean().default(true),
    }),
    response: z.object({ agent: agentViewSchema, actions: z.array(actionSchema), skippedPorts: z.array(z.number()) }),
  },
  removeAgent: {
    method: 'DELETE',
    path: '/v1/agents/:fleet/:agent',
    body: z.strictObject({ purge: z.boolean().default(false) }).default({ purge: false }),
    // freedPort is null when only a leftover home was purged (no agent held a block)
    response: z.object({ address: z.string(), purged: z.boolean(), home: z.string(), freedPort: z.number().nullable() }),
  },
  startAgent: {
    method: 'POST',
    path: '/v1/agents/:fleet/:agent/start',
    body: z.strictObject({ wait: z.boolean().default(true) }).default({ wait: true }),
    response: z.object({ agent: agentViewSchema }),
  },
  stopAgent: {
    method: 'POST',
    path: '/v1/agents/:fleet/:agent/stop',
    body: z.strictObject({ timeoutMs: z.int().min(0).max(3_600_000).optional() }).default({}),
    response: z.object({ agent: agentViewSchema }),
  },
  restartAgent: {
    method: 'POST',
    path: '/v1/agents/:fleet/:agent/restart',
    body: z.strictObject({ timeoutMs: z.int().min(0).max(3_600_000).optional(), wait: z.boolean().default(true) }).default({ wait: true }),
    response: z.object({ agent: agentViewSchema }),
  },
  restartFleet: {
    method: 'POST',
    path: '/v1/fleets/:fleet/restart',
    body: z.strictObject({ timeoutMs: z.int().min(0).max(3_600_000).optional() }).default({}),
    // with ?progress=1 the answer is NDJSON: `{ progress: { address, step, reason } }` lines, then `{ result }` (or `{ error }`)
    response: rollingResultSchema,
  },
  token: {
    method: 'GET',
    path: '/v1/agents/:fleet/:agent/token',
    // the one answer that carries a secret: fleetd redacts secrets from every other answer
    answersSecret: true,
    body: z.undefined(),
    response: z.object({ address: z.string(), token: z.string() }),
  },
  hooksToken: {
    method: 'GET',
    path: '/v1/agents/:fleet/:agent/hooks-token',
    body: z.undefined(),
    response: z.object({ address: z.string(), token: z.string() }),
    // the one answer that is a secret: not redacted (the token route does the same)
    answersSecret: true,
  },
  federation: {
    method: 'GET',
    path: '/v1/federation',
    body: z.undefined(),
    response: federationViewSchema,
  },
  logs: {
    method: 'GET',
    path: '/v1/agents/:fleet/:agent/logs',
    body: z.undefined(),
    // with ?follow=1 the answer is NDJSON: one `{ line }` object per line, until the client goes away.
    // `exists`: false when the file is not there (yet): the empty `lines` are then no empty log
    response: z.object({ address: z.string(), file: z.string(), lines: z.array(z.string()), exists: z.boolean().optional() }),
  },
  reload: {
    method: 'POST',
    path: '/v1/reload',
    body: z.strictObject({ dryRun: z.boolean().default(false) }).default({ dryRun: false }),
    // answered once every `reconfigure` action has its outcome (applied in place, or restarted and why)
    response: z.object({ applied: z.boolean(), actions: z.array(actionSchema), skippedPorts: z.array(z.number()), reconfigured: z.array(reconfigureOutcomeSchema).default([]) }),
  },
  runtimes: {
    method: 'GET',
    path: '/v1/runtimes',
    body: z.undefined(),
    response: z.object({
      runtimes: z.array(
        z.object({ version: z.string(), dir: z.string(), nodeVersion: z.string(), installedAt: z.string().nullable(), usedBy: z.array(z.string()) }),
      ),
    }),
  },
  installRuntime: {
    method: 'POST',
    path: '/v1/runtimes',
    body: z.strictObject({ version: z.string().regex(RUNTIME_KEY_PATTERN, { message: 'expected an exact version such as 2026.9.6 (2026.9.6+node-24.21.0 with a pinned Node)' }) }),
    // NDJSON stream: `{ progress: { phase, message, elapsedMs } }` lines, then `{ result: { version, dir, nodeVersion } }` or `{ error }`
    response: z.object({ version: z.string(), dir: z.string(), nodeVersion: z.string() }),
  },
  removeRuntime: {
    method: 'DELETE',
    path: '/v1/runtimes/:version',
    body: z.undefined(),
    response: z.object({ removed: z.string() }),
  },
  pruneRuntimes: {
    method: 'POST',
    path: '/v1/runtimes/prune',
    body: z.strictObject({}).default({}),
    response: z.object({ removed: z.array(z.string()), kept: z.array(z.string()) }),
  },
  ...operateRoutes,
  events: {
    method: 'GET',
    path: '/v1/events',
    body: z.undefined(),
    // NDJSON, one event per line (protocol/events.ts eventSchema); ?since=SEQ&limit=N&follow=1
    response: z.looseObject({ seq: z.number(), at: z.number(), type: z.string() }),
  },
  upgrade: {
    method: 'POST',
    path: '/v1/upgrade',
    body: z.strictObject({
      /** `FLEET` or `FLEET/AGENT`. */
      target: z.string().regex(/^[^/]+(\/[^/]+)?$/, { message: 'must be FLEET or FLEET/AGENT' }).refine((t) => t.split('/').every((id) => ID_PATTERN.test(id)), { message: `ids must be ${ID_RULE}` }),
      to: z.string().regex(VERSION_PATTERN, { message: 'must be an exact OpenClaw version such as 2026.9.6' }),
      node: z.string().regex(NODE_VERSION_PATTERN, { message: 'must be an exact Node release such as 24.21.0' }).optional(),
      dryRun: z.boolean().default(false),
      /** Give each agent back the state `to` left (its snapshot from before it left `to`). */
      restore: z.boolean().default(false),
    }),
    // NDJSON: `{ progress }` lines while the rollout runs, then `{ result: upgradeAnswer }` or `{ error }`
    response: z.object({ rollout: rolloutRecordSchema, dryRun: z.boolean(), persist: z.string() }),
  },
  upgradeStatus: {
    method: 'GET',
    path: '/v1/upgrade',
    body: z.undefined(),
    response: z.object({ rollout: rolloutRecordSchema.nullable(), overrides: z.array(pinOverrideSchema), held: z.array(holdSchema), history: z.array(rolloutRecordSchema) }),
  },
  ...doctorRoutes,
  ...bulkRoutes,
} as const;

/** Name of a route. */
export type RouteName = keyof typeof routes;
/** Parsed request body of route K. */
export type RequestBody<K extends RouteName> = z.output<(typeof routes)[K]['body']>;
/** Request body of route K as a client sends it (defaults optional). */
export type RequestInput<K extends RouteName> = z.input<(typeof routes)[K]['body']>;
/** Response body of route K. */
export type ResponseBody<K extends RouteName> = z.output<(typeof routes)[K]['response']>;

/** One line of an NDJSON log follow stream. */
export const logLineSchema = z.object({ line: z.string() });
/** One line of the rolling restart NDJSON stream. */
export const rollingEventSchema = z.union([z.object({ progress: rollingProgressSchema }), z.object({ result: rollingResultSchema }), errorBodySchema]);

/** One line of a bulk stop/start NDJSON stream (stop fleet, stop --all, start fleet, start --all). */
export const bulkEventSchema = z.union([z.object({ progress: bulkStepSchema }), z.object({ result: bulkResultSchema }), errorBodySchema]);

/** One line of the runtime install NDJSON stream. */
export const installEventSchema = z.union([
  z.object({ progress: z.object({ phase: z.string(), message: z.string(), elapsedMs: z.number() }) }),
  z.object({ result: routes.installRuntime.response }),
  errorBodySchema,
]);

/** Fills `:fleet`/`:agent` in a route path; ids are URL-encoded. */
export function routePath(name: RouteName, params: Record<string, string> = {}, query?: Record<string, string>): string {
  let path: string = routes[name].path;
  for (const [key, value] of Object.entries(params)) path = path.replace(`:${key}`, encodeURIComponent(value));
  const qs = query && Object.keys(query).length ? `?${new URLSearchParams(query).toString()}` : '';
  return path + qs;
}
