// The TARGET release's own database preflight, on a copy of an agent's shared state
// database (docs/reference/database-schemas/storage-changes.md, "Preflight a target
// release"): `openclaw database preflight <copy> --json` reads one consolidated copied
// file read-only and answers, measured on 2026.9.6:
//   {"schema":"openclaw.state-schema-preflight.v1","targetVersion":18,"foundVersion":18,
//    "issues":[],"status":"exact","requiresWrite":false}
// status: exact | startup-repairable | migration-required (the target will migrate it)
//       | incompatible (newer schema or blocking drift) | indeterminate (could not verify;
//         also: a sidecar next to the copy, a missing file). Exit 0 for exact, 1 otherwise.
// The first three let the upgrade go on; the last two stop it before the agent is touched.
// The copy is made with SQLite's online backup while the old gateway may still run (the
// schema does not change under a running version), in a private temp folder, and the
// target CLI runs in a scratch OpenClaw home: it never sees the agent's own state.
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { lastOutputLine, parseCliJson, runOpenclaw, withScratchHome, type CliRunner } from '../runtime/openclaw-cli.js';
import type { Runtime } from '../runtime/types.js';
import { copySqlite } from './sqlite-copy.js';

/** Where OpenClaw keeps the shared state database, inside OPENCLAW_STATE_DIR (docs/reference/database-schemas/layout.md). */
export const STATE_DB = join('state', 'openclaw.sqlite');

/** Preflight statuses that let an upgrade proceed. */
export const PREFLIGHT_OK = ['exact', 'startup-repairable', 'migration-required'] as const;

/** The preflight answer (extra fields kept). */
export const preflightAnswerSchema = z.looseObject({
  schema: z.literal('openclaw.state-schema-preflight.v1'),
  status: z.string(),
  targetVersion: z.number().nullable().optional(),
  foundVersion: z.number().nullable().optional(),
  issues: z.array(z.unknown()).optional(),
  reason: z.string().optional(),
});

/** What the preflight step concluded. */
export interface PreflightResult {
  /** True: the upgrade may go on. */
  ok: boolean;
  /** `exact`, ..., or `not-offered` (the target has no preflight), `no-database` (nothing to check yet). */
  status: string;
  /** For people: "state schema 18 -> target 18: exact". */
  detail: string;
}

/** Inputs of preflightState. */
export interface PreflightOptions {
  /** The runtime that is about to run the agent. */
  target: Pick<Runtime, 'node' | 'entry' | 'key'>;
  /** Does the target offer `database preflight` (capabilities.ts)? */
  offered: boolean;
  /** The agent's OPENCLAW_STATE_DIR (`<home>/.openclaw`). */
  openclawDir: string;
  cli?: CliRunner;
  /** Parent of the temp folder holding the copy (default the OS temp dir). */
  workDir?: string;
  /** Makes the consistent copy (default: copySqlite with the target's node). */
  copy?: (source: string, target: string) => Promise<void>;
}

/** Runs the target's preflight on a fresh copy of the agent's state database. */
export async function preflightState(o: PreflightOptions): Promise<PreflightResult> {
  const db = join(o.openclawDir, STATE_DB);
  const st = await lstat(db).catch(() => undefined);
  if (!st) return { ok: true, status: 'no-database', detail: `no state database yet (${db}): nothing to check` };
  if (!st.isFile()) return { ok: false, status: 'indeterminate', detail: `${db} is not a regular file (a symlink?); refusing to read it` };
  if (!o.offered) return { ok: true, status: 'not-offered', detail: `${o.target.key} offers no \`database preflight\`; upgrading without it` };
  const cli = o.cli ?? runOpenclaw;
  const work = await mkdtemp(join(o.workDir ?? tmpdir(), 'fleetd-preflight-'));
  try {
    const copy = join(work, 'openclaw.sqlite');
    await (o.copy ?? (async (source: string, target: string) => void (await copySqlite({ node: o.target.node, source, target }))))(db, copy);
    const result = await withScratchHome(o.target, (env, cwd) => cli({ runtime: o.target, args: ['database', 'preflight', copy, '--json'], env, cwd }));
    const parsed = preflightAnswerSchema.safeParse(parseCliJson(result.stdout));
    if (!parsed.success) {
      return { ok: false, status: 'indeterminate', detail: `${o.target.key} \`database preflight\` ${result.timedOut ? 'timed out' : `exited ${String(result.exitCode)}`} without an answer: ${lastOutputLine(result) || '(no output)'}` };
    }
    const a = parsed.data;
    const versions = `state schema ${a.foundVersion ?? '?'} -> ${o.target.key} supports ${a.targetVersion ?? '?'}`;
    const issues = (a.issues ?? []).length > 0 ? `; issues: ${JSON.stringify(a.issues).slice(0, 300)}` : '';
    const ok = (PREFLIGHT_OK as readonly string[]).includes(a.status);
    return { ok, status: a.status, detail: `${versions}: ${a.status}${a.reason ? ` (${a.reason})` : ''}${issues}` };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
