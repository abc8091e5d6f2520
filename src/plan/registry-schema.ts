// registry.json's shape, format version 1: the durable facts about every agent (port block,
// token, who declared it, what the operator wants, the process a restarted fleetd must find
// again). The zod schema is the definition; the types are inferred from it, so the file
// format and the code cannot drift apart. Pure data: reading and writing live in daemon/.
import { z } from 'zod';
import { ID_PATTERN } from '../manifest/ids.js';
import { envValueSchema } from '../secrets/refs.js';

/** Shape of a token fleetd generates: 64 lowercase hex characters (32 random bytes). */
export const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

const idSchema = z.string().regex(ID_PATTERN, { message: 'not a valid fleet/agent id' });

/** What fleetd needs to find a gateway's processes again after its own crash or restart. */
export const recordedProcessSchema = z.strictObject({
  pid: z.int().min(1),
  pgid: z.int().min(1),
  /** Start time of the pid in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTime: z.string().min(1),
  /** ISO time of the spawn: the uptime an adopting fleetd shows. */
  spawnedAt: z.string().min(1),
  /** ISO time it became `running` (healthy for). */
  runningSince: z.string().min(1).optional(),
  /** The agent's restart count when this was recorded (kept across a restart of fleetd). */
  restarts: z.int().min(0).optional(),
  /** The launch hash this process runs with since a reconfigure applied a new openclaw.json to it in place (absent: the one it was spawned with, in its shim's record). */
  appliedHash: z.string().min(1).optional(),
});

/** Spec of an agent added with `fleetctl add agent` (kept here: it has no manifest entry). */
export const cliAgentSpecSchema = z.strictObject({ config: z.record(z.string(), z.unknown()), env: z.record(z.string(), envValueSchema) });

/** One registry entry. */
export const registryEntrySchema = z.strictObject({
  fleet: idSchema,
  agent: idSchema,
  /** Where the agent was declared: the manifest, or `fleetctl add agent`. */
  source: z.enum(['manifest', 'cli']),
  /** Index of its port block; port = base + block * blockSize. */
  block: z.int().min(0),
  port: z.int().min(1).max(65535),
  /** 32 random bytes, hex. Never logged, never sent except by `fleetctl token`. */
  token: z.string().regex(TOKEN_PATTERN, { message: 'expected 64 hex characters' }),
  /** Hooks token (32 random bytes, hex, never the gateway token): made when the agent is first called; shown only by `fleetctl token --hooks`. Optional: registries written before federation have none. */
  hooksToken: z.string().regex(TOKEN_PATTERN, { message: 'expected 64 hex characters' }).optional(),
  /** The callers `hooksToken` was handed to (sorted addresses); losing one rotates the token. */
  hooksCallers: z.array(z.string().min(1)).optional(),
  /** What the operator wants (`fleetctl stop` sets stopped; it survives fleetd restarts). */
  desired: z.enum(['running', 'stopped']),
  /** Present for source 'cli'. */
  spec: cliAgentSpecSchema.optional(),
  /** Present while fleetd believes a gateway of this agent may be alive. */
  process: recordedProcessSchema.optional(),
  /** The last exit of its gateway (`at` epoch ms, `runtimeMs` how long it ran), kept so a restart of fleetd does not forget it. Optional: older registries have none. */
  lastExit: z.strictObject({ code: z.int().nullable(), signal: z.string().nullable(), at: z.number(), runtimeMs: z.number(), pid: z.int().nullable().optional() }).optional(),
  /** Its restart count when a gateway last started or ended, kept across restarts of fleetd (a stopped agent has no `process` to carry it). */
  restarts: z.int().min(0).optional(),
  /** Hash of the effective openclaw.json + env last applied (detects config/env changes). */
  appliedHash: z.string().min(1).optional(),
  createdAt: z.string().min(1),
});

/** One broken cross-entry rule: where, and what. */
export interface RegistryRuleIssue {
  path: Array<string | number>;
  message: string;
}

/** The rules between entries (key = fleet/agent, hooks token differs from the gateway token, one block per agent); O(agents). */
export function registryRuleIssues(agents: Readonly<Record<string, z.infer<typeof registryEntrySchema>>>): RegistryRuleIssue[] {
  const issues: RegistryRuleIssue[] = [];
  const owners = new Map<number, string>();
  for (const [key, entry] of Object.entries(agents)) {
    if (key !== `${entry.fleet}/${entry.agent}`) {
      issues.push({ path: ['agents', key], message: `key must be "${entry.fleet}/${entry.agent}" (its fleet/agent)` });
    }
    if (entry.hooksToken !== undefined && entry.hooksToken === entry.token) {
      issues.push({ path: ['agents', key, 'hooksToken'], message: 'must differ from the gateway token (a hooks token must never open the gateway)' });
    }
    const owner = owners.get(entry.block);
    if (owner !== undefined) issues.push({ path: ['agents', key, 'block'], message: `block ${entry.block} is also held by ${owner}` });
    owners.set(entry.block, key);
  }
  return issues;
}

/** registry.json version 1, with the cross-entry rules (key = address, one block per agent). */
export const registryV1Schema = z
  .strictObject({ version: z.literal(1), agents: z.record(z.string(), registryEntrySchema) })
  .superRefine((reg, ctx) => {
    for (const issue of registryRuleIssues(reg.agents)) ctx.addIssue({ code: 'custom', ...issue });
  });

/** The recorded gateway process of an agent. */
export type RecordedProcess = z.infer<typeof recordedProcessSchema>;
/** What `fleetctl add agent` was given. */
export type CliAgentSpec = z.infer<typeof cliAgentSpecSchema>;
/** One registry entry: the durable facts about an agent. */
export type RegistryEntry = z.infer<typeof registryEntrySchema>;
/** registry.json, format version 1 (agents keyed by address). */
export type RegistryFile = z.infer<typeof registryV1Schema>;
/** Where an agent was declared. */
export type AgentSource = RegistryEntry['source'];
/** What the operator wants an agent to be doing. */
export type DesiredRun = RegistryEntry['desired'];
