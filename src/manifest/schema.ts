// The fleet manifest, version 1: the user-facing contract. Names here are kept stable;
// a breaking change bumps `version`. Cross-field rules (managed keys, browser ports,
// reserved env names, ids as record keys) live in rules.ts so this file stays a shape.
import { z } from 'zod';
import { envValueSchema } from '../secrets/refs.js';
import { cgroupRootProblem } from '../isolation/cgroup-parse.js';
import { limitProblem } from '../isolation/limits.js';
import { USER_NAME_PATTERN, USER_NAME_RULE } from '../isolation/users.js';
import { ENV_NAME_PATTERN, ID_PATTERN, ID_RULE, NODE_VERSION_PATTERN, VERSION_PATTERN } from './ids.js';

/** Map of environment variables (names checked; a value is a string or a secret reference, see secrets/refs.ts). */
export const envSchema = z.record(
  z.string().regex(ENV_NAME_PATTERN, { message: 'environment variable names are letters, digits and "_", not starting with a digit' }),
  envValueSchema,
);

/** A fragment of openclaw.json; its content is OpenClaw's to validate, fleetd only merges it. */
export const configSchema = z.record(z.string(), z.unknown());

/** Exact OpenClaw version to run from a fleetd-managed runtime. */
export const versionSchema = z.string().regex(VERSION_PATTERN, { message: 'expected an exact OpenClaw version such as "2026.9.6"' });

/** Exact Node release to run a managed OpenClaw version on (instead of the LTS rule's choice). */
export const nodeVersionSchema = z.string().regex(NODE_VERSION_PATTERN, { message: 'expected an exact Node release such as "24.21.0" (no ranges, no prereleases)' });
// One `limits` value: its own check, so the message names exactly what is wrong with it.
const limitValue = <T>(key: 'memory' | 'cpu' | 'pids') =>
  z.custom<T>((value) => limitProblem(key, value) === undefined, { error: (issue) => limitProblem(key, issue.input) ?? 'invalid value' });

/** Resource limits of each agent (through its cgroup): memory size, CPU cores, pids (processes + threads); "max" lifts one. */
export const limitsSchema = z.strictObject({
  memory: limitValue<string | number>('memory').optional(),
  cpu: limitValue<number | 'max'>('cpu').optional(),
  pids: limitValue<number | 'max'>('pids').optional(),
});

/** Memory options of each agent: `merge` opts its gateway into kernel same-page merging (KSM). */
export const memorySchema = z.strictObject({
  merge: z.boolean().optional(),
});

/** An OS user a gateway runs as (one per tenant). */
export const userSchema = z.string().regex(USER_NAME_PATTERN, { message: `expected a user name (${USER_NAME_RULE})` });

/** `defaults` blocks, at top level and per fleet. */
export const defaultsSchema = z.strictObject({
  config: configSchema.default({}),
  env: envSchema.default({}),
  limits: limitsSchema.optional(),
  memory: memorySchema.optional(),
});

/** Per-fleet and per-agent gateway overrides: pin an OpenClaw version and/or its Node. */
export const gatewayPinSchema = z.strictObject({
  openclaw: versionSchema.optional(),
  node: nodeVersionSchema.optional(),
});

/** One agent = one gateway process. */
export const agentSchema = z.strictObject({
  enabled: z.boolean().default(true),
  config: configSchema.default({}),
  env: envSchema.default({}),
  gateway: gatewayPinSchema.optional(),
  limits: limitsSchema.optional(),
  memory: memorySchema.optional(),
  user: userSchema.optional(),
  /** Federation: addresses (`fleet/agent`) of the agents this one may call through their hooks. */
  calls: z.array(z.string()).default([]),
  /** Federation: names from the top-level `knowledge` map, indexed read-only by this agent. */
  knowledge: z.array(z.string()).default([]),
  /** What this agent is for, shown to its callers in their address books. */
  description: z.string().min(1).max(500).optional(),
});

/** Rollouts of a runtime change: agents restarted at once, and how long each may take to become ready. */
export const upgradeSchema = z.strictObject({
  /** Agents upgraded at the same time (a batch); the next batch waits for this one. */
  maxParallel: z.int().min(1).max(64).default(1),
  /** Restart on the new runtime to `/startupz` "started" (and `/readyz` 200 when it was ready before), ms. */
  readyTimeoutMs: z.int().min(1000).max(3_600_000).default(300_000),
});

/** A fleet's own rollout settings (each key falls back to the top-level `upgrade`). */
export const fleetUpgradeSchema = z.strictObject({
  maxParallel: z.int().min(1).max(64).optional(),
  readyTimeoutMs: z.int().min(1000).max(3_600_000).optional(),
});

/** A fleet: shared defaults and its agents, keyed by agent id. */
export const fleetSchema = z.strictObject({
  defaults: defaultsSchema.default({ config: {}, env: {} }),
  gateway: gatewayPinSchema.optional(),
  upgrade: fleetUpgradeSchema.optional(),
  user: userSchema.optional(),
  agents: z.record(z.string(), agentSchema).default({}),
});

const ms = (min: number) => z.int().min(min);

/** Where agent cgroups live: `mode` picks the hierarchy (auto: see isolation/cgroup-detect.ts), `root` a cgroup path. */
export const cgroupSchema = z.strictObject({
  mode: z.enum(['auto', 'v1', 'v2', 'off']).default('auto'),
  root: z
    .string()
    .refine((root) => cgroupRootProblem(root) === undefined, { error: (issue) => cgroupRootProblem(String(issue.input)) ?? 'invalid cgroup path' })
    .optional(),
});

/** The whole manifest as written by the user (paths not yet resolved). */
export const manifestSchema = z
  .strictObject({
    version: z.literal(1, { message: 'expected version: 1 (the only manifest version this fleetd reads)' }),
    stateDir: z.string().min(1).optional(),
    socket: z.string().min(1).optional(),
    socketGroup: z.string().min(1).optional(),
    runtimesDir: z.string().min(1).optional(),
    startConcurrency: z.int().min(1).max(64).default(2),
    ports: z
      .strictObject({
        base: z.int().min(1024).max(65535).default(20000),
        blockSize: z.int().min(1).max(10000).default(100),
        max: z.int().min(1025).max(65535).default(65000),
      })
      .default({ base: 20000, blockSize: 100, max: 65000 }),
    gateway: z
      .strictObject({
        command: z.array(z.string().min(1)).min(1).optional(),
        openclaw: versionSchema.optional(),
        node: nodeVersionSchema.optional(),
        env: envSchema.default({}),
        stopTimeoutMs: ms(100).max(3_600_000).default(60_000),
        /** A config-only reload: how long a running gateway has to apply the new openclaw.json (or begin its own in-process restart) before fleetd restarts it. */
        reloadTimeoutMs: ms(100).max(3_600_000).default(30_000),
      })
      .default({ env: {}, stopTimeoutMs: 60_000, reloadTimeoutMs: 30_000 }),
    restart: z
      .strictObject({
        initialDelayMs: ms(0).default(1000),
        factor: z.number().min(1).max(100).default(2),
        maxDelayMs: ms(0).default(300_000),
        resetAfterMs: ms(0).default(600_000),
        noRestartExitCodes: z.array(z.int().min(0).max(255)).default([78]),
      })
      .default({ initialDelayMs: 1000, factor: 2, maxDelayMs: 300_000, resetAfterMs: 600_000, noRestartExitCodes: [78] }),
    health: z
      .strictObject({
        intervalMs: ms(50).default(10_000),
        timeoutMs: ms(10).default(2000),
        failureThreshold: z.int().min(1).max(100).default(3),
        startupTimeoutMs: ms(100).default(120_000),
      })
      .default({ intervalMs: 10_000, timeoutMs: 2000, failureThreshold: 3, startupTimeoutMs: 120_000 }),
    logs: z
      .strictObject({
        maxBytes: z.int().min(1024).default(10 * 1024 * 1024),
        maxFiles: z.int().min(1).max(100).default(5),
      })
      .default({ maxBytes: 10 * 1024 * 1024, maxFiles: 5 }),
    upgrade: upgradeSchema.default({ maxParallel: 1, readyTimeoutMs: 300_000 }),
    metrics: z
      .strictObject({
        /** `HOST:PORT` of the Prometheus endpoint (GET /metrics). */
        listen: z.string().min(1),
        /** Serve on an address other than loopback (metrics name every agent, without authentication). */
        allowNonLoopback: z.boolean().default(false),
      })
      .optional(),
    cgroup: cgroupSchema.optional(),
    defaults: defaultsSchema.default({ config: {}, env: {} }),
    /** Federation: shared knowledge folders by name (absolute, or relative to the manifest folder). */
    knowledge: z.record(z.string(), z.string().min(1)).default({}),
    fleets: z.record(z.string(), fleetSchema).default({}),
  });

/** Manifest as parsed by zod, before path resolution. */
export type ManifestInput = z.infer<typeof manifestSchema>;
/** One agent entry as parsed. */
export type AgentSpec = z.infer<typeof agentSchema>;
/** One fleet entry as parsed. */
export type FleetSpec = z.infer<typeof fleetSchema>;

/** How a gateway is launched: a fixed argv, or a fleetd-managed OpenClaw version (on a pinned Node when `node` is set). */
export type GatewayLaunch = { kind: 'command'; command: string[] } | { kind: 'openclaw'; version: string; node?: string };

/** A validated manifest with absolute paths; what the rest of fleetd consumes. */
export interface Manifest extends Omit<ManifestInput, 'stateDir' | 'socket' | 'runtimesDir'> {
  /** Absolute path of the manifest file it came from. */
  manifestPath: string;
  /** Absolute state dir. */
  stateDir: string;
  /** Absolute socket path. */
  socket: string;
  /** Absolute folder of managed OpenClaw runtimes (default <stateDir>/runtimes). */
  runtimesDir: string;
  /**
   * Set by fleetd, never read from the file (the schema is strict): the launch of named
   * agents while a rollout holds them on their previous runtime or moves them one by one
   * (upgrade/effective.ts). Wins over every pin.
   */
  launchOverrides?: Readonly<Record<string, GatewayLaunch>>;
}

/** Id rule text re-exported for error messages. */
export { ID_PATTERN, ID_RULE };
