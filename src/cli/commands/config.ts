// `fleetctl config show FLEET/AGENT` (openclaw.json as it is, secrets redacted) and
// `fleetctl config diff FLEET/AGENT` (what OpenClaw added or changed beyond the manifest,
// and what the next apply will change).
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import type { ResponseBody } from '../../protocol/schemas.js';
import { formatConfigPath } from '../../plan/config-merge.js';
import { requireAddress } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { printJson, printLines } from '../output.js';

/** Registers `config show` and `config diff`. */
export function registerConfig(program: Command, run: CliRun): void {
  const config = program.command('config').description("an agent's openclaw.json: shared by the manifest, fleetd and OpenClaw itself");
  config
    .command('show')
    .description('print the agent\'s openclaw.json as it is now (tokens and secret values shown as <redacted>)')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .action(async (addressText: string, _opts: unknown, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'configShow', { params });
      if (json) return printJson(run.deps.io, raw);
      run.deps.io.out(`${JSON.stringify(data.config, null, 2)}\n`);
    });
  config
    .command('diff')
    .description('show the keys OpenClaw wrote beyond the manifest, and what the next start/restart/reload will change')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .action(async (addressText: string, _opts: unknown, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const { data, raw } = await callRaw(socket, 'configDiff', { params });
      if (json) return printJson(run.deps.io, raw);
      printLines(run.deps.io, renderDiff(data));
    });
}

/** A JSON value on one line, shortened. */
function short(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** The human form of a config diff. */
export function renderDiff(diff: ResponseBody<'configDiff'>): string[] {
  const lines = [`${diff.address}: ${diff.file}`];
  if (diff.openclaw.length > 0) {
    lines.push('', "OpenClaw's own keys (not in the manifest; kept across starts, restarts and reloads):");
    for (const key of diff.openclaw) lines.push(`  + ${formatConfigPath(key.path)} = ${short(key.value)}`);
  }
  const pending = diff.changes.filter((c) => c.kind !== 'keep');
  const kept = diff.changes.filter((c) => c.kind === 'keep');
  if (kept.length > 0) {
    lines.push('', 'Dropped from the manifest but changed by OpenClaw since, so kept as OpenClaw\'s:');
    for (const c of kept) lines.push(`  = ${formatConfigPath(c.path)} = ${short(c.current)}`);
  }
  if (pending.length === 0) {
    lines.push('', diff.firstApply ? 'No last-applied record yet: the next start records one; nothing would change.' : 'In sync: the next apply changes nothing.');
    return lines;
  }
  lines.push('', 'The next apply (start, restart, or a reload that touches this agent) will:');
  for (const c of pending) {
    const path = formatConfigPath(c.path);
    if (c.kind === 'override') lines.push(`  ! ${path}: ${'current' in c ? short(c.current) : '(deleted)'} -> ${short(c.next)}   (OpenClaw's value, overridden by the manifest/fleetd)`);
    else if (c.kind === 'update') lines.push(`  ~ ${path}: ${'current' in c ? short(c.current) : '(absent)'} -> ${short(c.next)}   (manifest changed)`);
    else lines.push(`  - ${path}: ${short(c.current)}   (dropped from the manifest: removed)`);
  }
  return lines;
}
