// The fleet manifest, version 1: the user-facing contract. Names here are kept stable;
// a breaking change bumps `version`. Cross-field rules (managed keys, browser ports,
// reserved env names, ids as record keys) live in rules.ts so this file stays a shape.
import { z } from 'zod';
import { envValueSchema } from '../secrets/refs.js';
import { ENV_NAME_PATTERN, ID_PATTERN, ID_RULE, VERSION_PATTERN } from './ids.js';

/** Map of environment variables (names checked; a value is a string or a secret reference, see secrets/refs.ts). */
export const envSchema = z.record(
  z.string().regex(ENV_NAME_PATTERN, { message: 'environment variable names are letters, digits and "_", not starting with a digit' }),
  envValueSchema,
);

/** A fragment of openclaw.json; its content is OpenClaw's to validate, fleetd only merges it. */
export const configSchema = z.record(z.string(), z.unknown());

/** Exact OpenClaw version to run from a fleetd-managed runtime. */
export const versionSchema = z.string().regex(VERSION_PATTERN, { message: 'expected an exact OpenClaw version such as "2026.9.6"' });

/** `defaults` blocks, at top level and per fleet. */
export const defaultsSchema = z.strictObject({
  config: configSchema.default({}),
  env: envSchema.default({}),
});

/** Per-fleet and per-agent gateway overrides: pin an OpenClaw version. */
export const gatewayPinSchema = z.strictObject({
  openclaw: versionSchema.optional(),
});

/** One agent = one gateway process. */
export const agentSchema = z.strictObject({
  enabled: z.boolean().default(true),
  config: configSchema.default({}),
  env: envSchema.default({}),
  gateway: gatewayPinSchema.optional(),
  /** Federation: addresses (`fleet/agent`) of the agents this one may call through their hooks. */
  calls: z.array(z.string()).default([]),
  /** Federation: names from the top-level `knowledge` map, indexed read-only by this agent. */
  knowledge: z.array(z.string()).default([]),
  /** What this agent is for, shown to its callers in their address books. */
  description: z.string().min(1).max(500).optional(),
});

/** A fleet: shared defaults and its agents, keyed by agent id. */
export const fleetSchema = z.strictObject({
  defaults: defaultsSchema.default({ config: {}, env: {} }),
  gateway: gatewayPinSchema.optional(),
  agents: z.record(z.string(), agentSchema).default({}),
});

const ms = (min: number) => z.int().min(min);

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

/** How a gateway is launched: a fixed argv, or a fleetd-managed OpenClaw version. */
export type GatewayLaunch = { kind: 'command'; command: string[] } | { kind: 'openclaw'; version: string };

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
}

/** Id rule text re-exported for error messages. */
export { ID_PATTERN, ID_RULE };
