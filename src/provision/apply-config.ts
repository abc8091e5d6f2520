// Applies the desired openclaw.json by a three-way merge (plan/config-merge.ts) instead of
// overwriting what OpenClaw wrote. The gateway writes the same file (channels add, Control
// UI, doctor --fix): fleetd reads it, merges, then reads it AGAIN right before the atomic
// rename and starts over when it changed meanwhile (bounded attempts), so a write of the
// gateway is never clobbered by a merge made from an older copy. The window left is the
// few microseconds between that last read and the rename; OpenClaw's own writers validate
// and rename too, so the file is always one whole version or the other.
// The last-applied record is written after the config (a crash in between only makes the
// next merge see fleetd's own keys as unchanged, which yields the same result).
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { FleetError } from '../errors.js';
import { mergeConfig, jsonEqual, type ConfigChange, type OpenClawKey } from '../plan/config-merge.js';
import { renderGatewayConfig } from '../plan/gateway-config.js';
import type { JsonObject } from '../plan/merge.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readAppliedConfig, readConfigFile, writeAppliedConfig, type ConfigSnapshot } from './config-file.js';

/** Merge attempts before giving up on a file that keeps changing. */
export const MAX_APPLY_ATTEMPTS = 5;

/** Inputs of applyConfig. */
export interface ApplyConfigInput {
  /** openclaw.json of the agent. */
  configPath: string;
  /** fleetd's last-applied record (outside the home). */
  appliedPath: string;
  /** The config the manifest and fleetd want (managed keys included). */
  desired: JsonObject;
  maxAttempts?: number;
  /** Writes the file (default: atomic, 0600, as fleetd). A tenant's home uses a writer that cannot be redirected by a swapped folder and gives the file to the tenant. */
  write?: (path: string, text: string) => Promise<void>;
  /** Test hook: runs after the merge, before the re-read that guards the write. */
  beforeCommit?: (attempt: number) => Promise<void>;
}

/** What applyConfig did. */
export interface AppliedConfig {
  /** True when openclaw.json was (re)written. */
  written: boolean;
  /** The config now in the file. */
  config: JsonObject;
  /** Every change made against the file (see ConfigChange). */
  changes: ConfigChange[];
  /** The changes that replaced a value OpenClaw wrote (the caller logs them). */
  overrides: ConfigChange[];
  /** OpenClaw's own keys, kept. */
  openclaw: OpenClawKey[];
  /** Set when the last-applied record could not be read (the merge then treats the file's keys as OpenClaw's). */
  appliedProblem?: string;
}

/** Merges the desired config into openclaw.json (0600, atomic) and records it as applied. */
export async function applyConfig(input: ApplyConfigInput): Promise<AppliedConfig> {
  const attempts = input.maxAttempts ?? MAX_APPLY_ATTEMPTS;
  const applied = await readAppliedConfig(input.appliedPath);
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const before = await readConfigFile(input.configPath);
    const merged = mergeConfig({ current: before?.config, lastApplied: applied.config, desired: input.desired });
    await input.beforeCommit?.(attempt);
    const result: AppliedConfig = {
      written: false,
      config: merged.config,
      changes: merged.changes,
      overrides: merged.changes.filter((c) => c.kind === 'override'),
      openclaw: merged.openclaw,
      ...(applied.problem ? { appliedProblem: applied.problem } : {}),
    };
    if (merged.changed) {
      const now = await readConfigFile(input.configPath);
      if (!sameSnapshot(before, now)) continue; // the gateway wrote meanwhile: merge its version instead
      if (input.write) await input.write(input.configPath, renderGatewayConfig(merged.config));
      else await writeFileAtomic(input.configPath, renderGatewayConfig(merged.config), { mode: 0o600 });
      result.written = true;
    } else if (before && before.mode !== 0o600) {
      await fixMode(input.configPath);
    }
    if (!applied.config || !jsonEqual(applied.config, input.desired)) await writeAppliedConfig(input.appliedPath, input.desired);
    return result;
  }
  throw new FleetError('PROVISION_FAILED', `${input.configPath} kept changing while fleetd merged its settings into it (${attempts} attempts); is something rewriting it in a loop? Start the agent again once it is quiet`);
}

/** True when both reads saw the same file (or both saw none). */
function sameSnapshot(a: ConfigSnapshot | undefined, b: ConfigSnapshot | undefined): boolean {
  if (!a || !b) return a === b;
  return a.identity === b.identity && a.text === b.text;
}

/** chmod 0600 through a descriptor opened without following links. */
async function fixMode(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    await handle.chmod(0o600);
  } finally {
    await handle.close();
  }
}
