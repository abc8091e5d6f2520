// The two JSON files fleetd puts into an agent backup: the manifest (fleetd-backup.json:
// what the archive is and every file in it, with size and sha256; never a secret value)
// and the agent record (fleetd/agent.json: token and spec, which ARE secret). zod schemas,
// so a restore reads only what it understands.
import { z } from 'zod';
import { ID_PATTERN } from '../manifest/ids.js';
import { TOKEN_PATTERN } from '../provision/token.js';
import { envValueSchema } from '../secrets/refs.js';
import { BACKUP_FORMAT } from './layout.js';

/** One file of the archive. */
export const manifestFileSchema = z.strictObject({
  path: z.string(),
  size: z.int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Owner permission bits (0o400..0o700); group and others never get any on restore. */
  mode: z.int().min(0).max(0o777),
});

/** fleetd-backup.json. */
export const backupManifestSchema = z.strictObject({
  format: z.literal(BACKUP_FORMAT, { message: `this fleetd reads backup format ${BACKUP_FORMAT}; the archive was made by another fleetd version` }),
  kind: z.literal('openclaw-fleetd agent backup'),
  agent: z.strictObject({ address: z.string(), fleet: z.string().regex(ID_PATTERN), agent: z.string().regex(ID_PATTERN), source: z.enum(['manifest', 'cli']) }),
  /** The OpenClaw version the agent ran (pinned runtime), or null for a fixed gateway.command. */
  openclaw: z.strictObject({ version: z.string().nullable() }),
  createdAt: z.string(),
  fleetdVersion: z.string(),
  /** Whether the gateway was running during the copy (databases are then copied through SQLite's backup API). */
  agentWasRunning: z.boolean(),
  include: z.strictObject({ logs: z.boolean(), cache: z.boolean() }),
  /** SQLite databases and how each was copied. */
  databases: z.array(z.strictObject({ path: z.string(), method: z.enum(['sqlite-backup', 'file-copy']) })),
  /** Folders (so empty ones come back). */
  dirs: z.array(z.string()),
  files: z.array(manifestFileSchema),
  /** Paths of the home not archived, and why. */
  leftOut: z.array(z.strictObject({ path: z.string(), reason: z.string() })),
});
/** A parsed manifest. */
export type BackupManifest = z.infer<typeof backupManifestSchema>;

/** fleetd/agent.json. */
export const agentRecordSchema = z.strictObject({
  token: z.string().regex(TOKEN_PATTERN),
  source: z.enum(['manifest', 'cli']),
  /** The agent's config and env as fleetd knew them (what a restore onto a new address adds). */
  spec: z.strictObject({ config: z.record(z.string(), z.unknown()), env: z.record(z.string(), envValueSchema) }),
  /** Port of the agent at backup time (informational: a restore keeps or allocates a block). */
  port: z.int().min(1).max(65535),
});
/** A parsed agent record. */
export type AgentRecord = z.infer<typeof agentRecordSchema>;
