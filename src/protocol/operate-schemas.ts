// Wire shapes of the routes that operate the OpenClaw inside an agent: the exec spec
// (`fleetctl exec` / `fleetctl openclaw` run the command themselves), the agent's
// openclaw.json (show, diff), OpenClaw's own log, and backup/restore archives. Spread into
// `routes` (schemas.ts). Routes marked `download` answer raw bytes instead of JSON; routes
// marked `upload` read their request body as a raw stream instead of JSON.
import { z } from 'zod';

/** A user an agent's commands run as. */
export const execUserSchema = z.object({ uid: z.int().min(0), gid: z.int().min(0), name: z.string() });

/** One secret variable of an exec spec: where its value lives (never the value). */
export const execSecretSchema = z.object({
  /** `file /etc/x` or `systemd credential "x"`. */
  ref: z.string(),
  /** The file to read (credentials resolved against fleetd's $CREDENTIALS_DIRECTORY); null when it cannot be resolved. */
  path: z.string().nullable(),
  /** Where the reference is declared. */
  origin: z.string().nullable(),
});

/** What `fleetctl exec` needs to run a command as an agent. */
export const execSpecSchema = z.object({
  address: z.string(),
  /** The agent's home: the working directory. */
  cwd: z.string(),
  /** The gateway's clean environment, secret variables left out; PATH starts with the runtime's node and openclaw. */
  env: z.record(z.string(), z.string()),
  /** Secret variables by name: fleetctl reads them itself. */
  secrets: z.record(z.string(), execSecretSchema),
  /** The pinned runtime; null for agents launched by a fixed gateway.command. */
  runtime: z.object({ version: z.string(), dir: z.string(), node: z.string(), entry: z.string(), nodeVersion: z.string() }).nullable(),
  /** The user the agent's gateway runs as. */
  user: execUserSchema,
});
/** The exec spec type. */
export type ExecSpec = z.infer<typeof execSpecSchema>;

/** A config value change, values already redacted. */
export const configChangeSchema = z.object({
  kind: z.enum(['override', 'update', 'remove', 'keep']),
  path: z.array(z.string()),
  /** The value in the file now (absent: no such key). */
  current: z.unknown().optional(),
  /** The value after the next apply (absent: the key is removed or kept). */
  next: z.unknown().optional(),
});

/** Every route of this file. */
export const operateRoutes = {
  execSpec: {
    method: 'GET',
    path: '/v1/agents/:fleet/:agent/exec',
    body: z.undefined(),
    response: execSpecSchema,
  },
  configShow: {
    method: 'GET',
    path: '/v1/agents/:fleet/:agent/config',
    body: z.undefined(),
    // tokens, secret values and every key OpenClaw itself treats as sensitive are `<redacted>`
    response: z.object({ address: z.string(), file: z.string(), config: z.record(z.string(), z.unknown()) }),
  },
  configDiff: {
    method: 'GET',
    path: '/v1/agents/:fleet/:agent/config/diff',
    body: z.undefined(),
    response: z.object({
      address: z.string(),
      file: z.string(),
      /** Keys OpenClaw wrote beyond the manifest (kept). */
      openclaw: z.array(z.object({ path: z.array(z.string()), value: z.unknown() })),
      /** What the next apply (start, restart, reload) changes in the file. */
      changes: z.array(configChangeSchema),
      /** True when no last-applied record exists yet (first apply, or a config from an older fleetd). */
      firstApply: z.boolean(),
    }),
  },
  openclawLogs: {
    method: 'GET',
    path: '/v1/agents/:fleet/:agent/openclaw-logs',
    body: z.undefined(),
    // with ?follow=1 the answer is NDJSON: one `{ line }` object per line, until the client goes away.
    // `exists`: false when the file is not there (yet): OpenClaw creates it when it first logs
    response: z.object({ address: z.string(), file: z.string(), lines: z.array(z.string()), exists: z.boolean().optional() }),
  },
  backup: {
    method: 'GET',
    path: '/v1/agents/:fleet/:agent/backup',
    body: z.undefined(),
    download: true,
    // raw `application/gzip` bytes (a tar.gz); errors before the first byte are JSON error bodies
    response: z.unknown(),
  },
  restore: {
    method: 'PUT',
    path: '/v1/agents/:fleet/:agent/restore',
    body: z.undefined(),
    upload: true,
    // the request body is the archive (`application/gzip`); options in the query: newToken=1, start=0
    response: z.object({
      address: z.string(),
      files: z.number(),
      bytes: z.number(),
      port: z.number(),
      newToken: z.boolean(),
      created: z.boolean(),
      /** Where the home that was replaced now is (null: there was none). */
      previousHome: z.string().nullable(),
      started: z.boolean(),
      state: z.string(),
    }),
  },
} as const;
